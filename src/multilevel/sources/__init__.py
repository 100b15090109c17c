"""Data that do not fit in memory, or live on a cluster, reduced to sufficient statistics.

``multilevel.fit`` reads a source in chunks when asked (``chunk_rows=``) or when it is large;
``fit_large(formula, source)`` (a DataFrame, Arrow/polars table, Parquet file or folder, or CSV
file) and ``multilevel.sources.dask.fit_dask`` (a Dask DataFrame) are its chunked paths, kept as
aliases. The result is the one :class:`~multilevel.result.fit.LmmFit` (``LargeFit`` is its old
name).
"""

from multilevel.result.fit import LargeFit
from multilevel.sources.fit_large import accumulate, fit_large, fit_statistics
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
