"""Power and sample size by simulation: ``power`` (from a pilot fit or a planned design, along
numbers of groups and group sizes) and ``design`` (a planned two-level design)."""

from multilevel.power.plan import PlannedDesign, design
from multilevel.power.result import PowerResult, wilson_interval
from multilevel.power.run import power

__all__ = ["PlannedDesign", "PowerResult", "design", "power", "wilson_interval"]
