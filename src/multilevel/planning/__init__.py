"""Power and sample size by simulation: ``power`` (from a pilot fit or a planned design, along
numbers of groups and group sizes) and ``plan`` (a planned two-level design, without data)."""

from multilevel.planning.planned import PlannedDesign, plan
from multilevel.planning.result import PowerResult, wilson_interval
from multilevel.planning.run import power

__all__ = ["PlannedDesign", "PowerResult", "plan", "power", "wilson_interval"]
