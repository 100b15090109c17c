"""Plots of a fitted multilevel model, each a function returning a matplotlib Figure.

Figures are drawn on an Agg canvas without touching pyplot's global state, so they are safe in
scripts, servers and tests; save them with ``fig.savefig(path)``. Every artist that carries data
has a ``gid`` (e.g. ``"modes"``, ``"intervals"``) so that its content can be checked.
"""

from collections.abc import Callable
from typing import Any

from multilevel.plots.acf import acf_plot, residual_acf
from multilevel.plots.caterpillar import caterpillar_plot
from multilevel.plots.residuals import residual_plot
from multilevel.plots.shrinkage import shrinkage_estimates, shrinkage_plot
from multilevel.plots.spaghetti import spaghetti_plot
from multilevel.plots.variance import variance_partition_plot, variance_parts

#: plot kinds for a single fit (CLI ``multilevel plot --kind``) -> function of the fit
KINDS: dict[str, Callable[..., Any]] = {
    "caterpillar": caterpillar_plot,
    "spaghetti": spaghetti_plot,
    "residuals": residual_plot,
    "shrinkage": shrinkage_plot,
    "variance": variance_partition_plot,
    "acf": acf_plot,
}

__all__ = [
    "KINDS",
    "acf_plot",
    "caterpillar_plot",
    "residual_acf",
    "residual_plot",
    "shrinkage_estimates",
    "shrinkage_plot",
    "spaghetti_plot",
    "variance_partition_plot",
    "variance_parts",
]
