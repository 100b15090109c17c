"""``fit_large``: fit a linear mixed model from data read in chunks, in one pass.

The sufficient statistics (per-group cross-products, see :mod:`multilevel.sources.stats`) are
accumulated chunk by chunk; then the same objective, optimizer, convergence check and
Satterthwaite df as :func:`multilevel.fit` run on them (:mod:`multilevel.fitting`: one path)
without touching the rows again, so the estimates equal the in-memory ones to rounding.
``multilevel.fit(formula, source, chunk_rows=N)`` calls it; ``fit_large`` stays as an alias.
Memory is bounded by the chunk size plus the statistics (O(G q p)), not by the number of rows.
"""

from __future__ import annotations

import time
from typing import Any

from multilevel import fitting
from multilevel.design.frame import group_columns
from multilevel.errors import DataError
from multilevel.formula.parse import parse_formula
from multilevel.result.fit import LmmFit
from multilevel.sources.chunks import Source, as_source, iter_chunks, prefetch
from multilevel.sources.encoding import Encoding, learn_encoding, refuse_arrays
from multilevel.sources.progress import Progress
from multilevel.sources.result import ChunkReader
from multilevel.sources.stats import (
    PartialStats,
    cross_products_of,
    empty_stats,
    merge,
    partial_stats,
)


def fit_large(
    formula: str,
    source: Any,
    reml: bool = True,
    chunk_rows: int = 1_000_000,
    group_levels: Any = None,
    progress: bool | None = None,
    categories: dict[str, Any] | None = None,
    warn: bool = True,
    *,
    weights: str | None = None,
    offset: str | None = None,
    contrasts: dict[str, str] | None = None,
    na_values: Any = None,
    _stacklevel: int = 2,
) -> LmmFit:
    """Fit ``formula`` (any random part) to a DataFrame, Arrow/polars table, Parquet file or
    folder, or CSV file, reading at most ``chunk_rows`` rows at a time.

    ``group_levels`` declares the groups (and their order); ``categories`` declares the levels of
    categorical predictors ({column: levels}), which otherwise a first pass over those columns
    finds. ``progress``: a progress line on stderr (None: only when stderr is a terminal).
    ``weights``, ``offset`` (column names or expressions), ``contrasts`` and ``na_values``: as
    :func:`multilevel.fit`.
    """
    t0 = time.perf_counter()
    spec = parse_formula(formula)
    refuse_arrays(weights, offset)
    src = as_source(source, ids=group_columns(spec), na_values=na_values)  # ids read as text
    enc = learn_encoding(
        spec,
        src,
        chunk_rows,
        group_levels,
        categories,
        weights=weights,
        offset=offset,
        contrasts=contrasts,
        na_values=na_values,
    )
    stats = accumulate(src, enc, chunk_rows, progress)
    t1 = time.perf_counter()
    fit = fit_statistics(stats, enc, reml=reml, warn=warn, stacklevel=_stacklevel + 1)
    fit.timings.update(statistics=t1 - t0, optimize=time.perf_counter() - t1)
    return fit


def accumulate(
    source: Source, enc: Encoding, chunk_rows: int, progress: bool | None = None
) -> PartialStats:
    """One pass over the source: the statistics of all its rows."""
    bar = Progress(
        "multilevel: reading", source.n_rows if progress is not False else None, enabled=progress
    )
    total = empty_stats(enc)
    try:
        for chunk in prefetch(iter_chunks(source, list(enc.columns), chunk_rows)):
            total = merge(total, partial_stats(chunk, enc))
            bar.update(len(chunk))
    finally:
        bar.close()
    if total.n_input == 0:
        raise DataError("the data has no rows")
    return total


def fit_statistics(
    stats: PartialStats, enc: Encoding, reml: bool = True, warn: bool = True, stacklevel: int = 2
) -> LmmFit:
    """Fit from total statistics (of a chunked pass, a Dask reduction, or merged partials):
    the same path from cross-products to the result as an in-memory fit."""
    xp, layout, totals = cross_products_of(stats, enc)
    return fitting.fit_statistics(
        xp,
        layout,
        reml,
        reader=ChunkReader(enc, totals),
        warn=warn,
        stacklevel=stacklevel + 1,
        random_shift=enc.random_shift,
        loglik_shift=0.5 * stats.log_w,  # lme4's log-likelihood, with weights
    )
