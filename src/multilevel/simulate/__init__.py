"""Simulation from a fitted model and refits that reuse its design: ``simulate`` (as lme4's),
the parametric ``bootstrap`` (as lme4's ``bootMer``), and the machinery power analysis uses."""

from multilevel.simulate.bootstrap import BootstrapResult, bootstrap
from multilevel.simulate.responses import simulate

__all__ = ["BootstrapResult", "bootstrap", "simulate"]
