"""Fit from a Dask DataFrame: partial statistics per partition, combined by a tree reduction.

Each partition is reduced where it lives to its sufficient statistics (a few arrays of size
G x q x p, see :mod:`multilevel.sources.stats`), with the encoding learned once on the client;
the partials are merged pairwise in a tree (``split_every`` at a time), so no worker ever holds
more than a partition and a few partials. The total is fitted as :func:`fit_large` does. Runs on
whatever scheduler is active: a ``dask.distributed`` Client (local or a real scheduler address,
whose workers need ``multilevel`` installed) or Dask's default local scheduler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from multilevel.design.frame import group_columns
from multilevel.errors import DataError
from multilevel.formula.parse import parse_formula
from multilevel.read.schema import settle_frame
from multilevel.result.fit import LmmFit
from multilevel.sources.chunks import levels_in, merge_levels
from multilevel.sources.encoding import SAMPLE_ROWS, Encoding, learn_encoding, refuse_arrays
from multilevel.sources.fit_large import fit_statistics
from multilevel.sources.stats import PartialStats, merge, partial_stats


def _merge_all(parts: list[PartialStats]) -> PartialStats:
    out = parts[0]
    for p in parts[1:]:
        out = merge(out, p)
    return out


def tree_reduce(
    parts: list[Any], split_every: int = 8, combine: Callable[[list[Any]], Any] = _merge_all
) -> Any:
    """Combine delayed partials ``split_every`` at a time until one remains (a delayed object):
    log_{split_every}(partitions) rounds, no task holding more than ``split_every`` partials."""
    from dask import delayed

    step = delayed(combine, pure=True)
    split_every = max(2, int(split_every))
    while len(parts) > 1:
        parts = [step(parts[i : i + split_every]) for i in range(0, len(parts), split_every)]
    return parts[0]


def settled(df: pd.DataFrame, ids: tuple[str, ...], na_values: tuple[Any, ...]) -> pd.DataFrame:
    """A partition with each column's final type and the missing-value codes set to missing,
    as every other source's chunks (:mod:`multilevel.read.schema`)."""
    return settle_frame(df, ids=ids, na_values=na_values)


def _partition_levels(
    df: pd.DataFrame, kinds: dict[str, str], ids: tuple[str, ...], na_values: tuple[Any, ...]
) -> dict[str, list[Any]]:
    return levels_in(settled(df, ids, na_values), kinds)


def _levels(
    ddf: Any,
    columns: list[str],
    kinds: dict[str, str],
    ids: tuple[str, ...] = (),
    na_values: tuple[Any, ...] = (),
) -> dict[str, list[Any]]:
    """Levels of factor columns among complete rows: unique values per partition on the
    cluster, merged here (they are small), ordered as R's ``factor`` orders them."""
    import dask
    from dask import delayed

    per_part = dask.compute(
        *[
            delayed(_partition_levels, pure=True)(p, kinds, ids, na_values)
            for p in ddf[columns].to_delayed()
        ]
    )
    categories = {}
    for c in kinds:
        dtype = ddf[c].dtype
        known = isinstance(dtype, pd.CategoricalDtype) and dtype.categories is not None
        categories[c] = list(dtype.categories) if known else None
    return merge_levels(per_part, kinds, categories)


def _partition_stats(df: pd.DataFrame, enc: Encoding, ids: tuple[str, ...]) -> PartialStats:
    return partial_stats(settled(df, ids, enc.na_values), enc)


def dask_statistics(ddf: Any, enc: Encoding, split_every: int = 8) -> PartialStats:
    """The statistics of all rows of a Dask DataFrame (computed on the active scheduler)."""
    import dask
    from dask import delayed

    part = delayed(_partition_stats, pure=True)
    ids = tuple(c for gf in enc.groups for c in gf.columns)
    parts = [part(p, enc, ids) for p in ddf[list(enc.columns)].to_delayed()]
    if not parts:
        raise DataError("the Dask DataFrame has no partitions")
    (total,) = dask.compute(tree_reduce(parts, split_every))
    return total


def fit_dask(
    formula: str,
    ddf: Any,
    reml: bool = True,
    group_levels: Any = None,
    categories: dict[str, Any] | None = None,
    split_every: int = 8,
    warn: bool = True,
    *,
    weights: str | None = None,
    offset: str | None = None,
    contrasts: dict[str, str] | None = None,
    na_values: Any = None,
    _stacklevel: int = 2,
) -> LmmFit:
    """Fit ``formula`` (any random part) to a Dask DataFrame; same result as ``fit_large``
    (``weights``, ``offset``, ``contrasts``, ``na_values`` as :func:`multilevel.fit`)."""
    spec = parse_formula(formula)
    refuse_arrays(weights, offset)
    available = [str(c) for c in ddf.columns]
    ids = tuple(group_columns(spec))
    na = tuple(na_values or ())
    enc = learn_encoding(
        spec,
        None,
        0,
        group_levels,
        categories,
        sample=lambda cols: settled(ddf[cols].partitions[0].compute().head(SAMPLE_ROWS), ids, na),
        levels_of=lambda cols, kinds: _levels(ddf, cols, kinds, ids, na),
        available=available,
        weights=weights,
        offset=offset,
        contrasts=contrasts,
        na_values=na,
    )
    total = dask_statistics(ddf, enc, split_every)
    return fit_statistics(total, enc, reml=reml, warn=warn, stacklevel=_stacklevel + 1)
