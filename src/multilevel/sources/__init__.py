"""Fitting data that do not fit in memory, or live on a cluster, from sufficient statistics.

``fit_large(formula, source)`` reads a DataFrame, Arrow/polars table, Parquet file or folder, or
CSV file in chunks and fits a one-grouping-factor model from per-group cross-products;
``multilevel.sources.dask.fit_dask`` does the same for a Dask DataFrame (optional dependency).
"""

from multilevel.sources.fit_large import accumulate, fit_large, fit_statistics
from multilevel.sources.result import LargeFit
from multilevel.sources.stats import PartialStats, merge, partial_stats

__all__ = [
    "LargeFit",
    "PartialStats",
    "accumulate",
    "fit_large",
    "fit_statistics",
    "merge",
    "partial_stats",
]
