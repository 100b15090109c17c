"""Minimize the profiled deviance over theta and record the optimization."""

from multilevel.optimize.optimizer import OptSummary, optimize_theta, singular

__all__ = ["OptSummary", "optimize_theta", "singular"]
