"""Why multilevel: the alternatives to a multilevel model, side by side, and their Type I error.

Estimators (each returns an :class:`EstimatorResult`): naive OLS, OLS with cluster-robust SEs
(CR0, HC0, CR1, CR2), fixed effects (within estimator), GEE (exchangeable, independence), one row
per cluster, and the multilevel model. :func:`compare_estimators` tabulates them for one data set;
:func:`simulate_type1` shows the Type I error each one costs under a true null.
"""

from multilevel.compare.compare import (
    ALL_ESTIMATORS,
    DEFAULT_ESTIMATORS,
    Comparison,
    compare_estimators,
)
from multilevel.compare.data import ClusteredData, clustered_data
from multilevel.compare.fixed_effects import fixed_effects
from multilevel.compare.gee import gee
from multilevel.compare.multilevel_estimator import multilevel_model
from multilevel.compare.ols import ols, ols_cluster
from multilevel.compare.one_per_group import one_per_group
from multilevel.compare.plot import forest_plot
from multilevel.compare.protocol import EstimatorResult
from multilevel.compare.simulate import SimulationResult, simulate_nested, simulate_type1

__all__ = [
    "ALL_ESTIMATORS",
    "DEFAULT_ESTIMATORS",
    "ClusteredData",
    "Comparison",
    "EstimatorResult",
    "SimulationResult",
    "clustered_data",
    "compare_estimators",
    "fixed_effects",
    "forest_plot",
    "gee",
    "multilevel_model",
    "ols",
    "ols_cluster",
    "one_per_group",
    "simulate_nested",
    "simulate_type1",
]
