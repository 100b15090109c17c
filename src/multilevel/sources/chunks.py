"""Rows of any data source in bounded chunks (see :mod:`multilevel.read.source`), a complete
sample of them, the levels of factor columns from a first pass, and read-ahead in a thread."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from multilevel.design.values import LOGICAL, factor_labels, r_levels
from multilevel.read.source import Source, as_source  # noqa: F401 - re-exported


def iter_chunks(source: Source, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Chunks of at most ``chunk_rows`` rows (see :meth:`Source.iter_chunks`)."""
    return source.iter_chunks(columns, chunk_rows)


def complete_rows(chunk: pd.DataFrame) -> np.ndarray:
    """True for rows without a missing value in any column."""
    return ~chunk.isna().to_numpy().any(axis=1)


def sample_rows(source: Source, columns: list[str], n: int, chunk_rows: int) -> pd.DataFrame:
    """Up to ``n`` complete rows (no missing value in ``columns``) from the start of the source,
    reading further chunks while fewer have been found: a sample that does not depend on the
    first rows being complete. When no row is complete: the first chunk (empty if no rows)."""
    found: list[pd.DataFrame] = []
    have = 0
    first = None
    for chunk in source.iter_chunks(columns, max(n, min(int(chunk_rows or n), 1 << 20))):
        first = chunk if first is None else first
        keep = chunk.loc[complete_rows(chunk)]
        if len(keep):
            found.append(keep.iloc[: n - have])
            have += len(found[-1])
        if have >= n:
            break
    if not found:
        return first if first is not None else pd.DataFrame({c: [] for c in columns})
    return pd.concat(found) if len(found) > 1 else found[0]


def levels_in(chunk: pd.DataFrame, kinds: dict[str, str]) -> dict[str, list[Any]]:
    """The distinct level labels of the factor columns ``kinds`` ({column: kind}) among the
    chunk's complete rows, in order of appearance (none for logicals: always FALSE, TRUE)."""
    keep = complete_rows(chunk)
    return {
        c: [] if kind == LOGICAL else list(pd.unique(factor_labels(chunk[c][keep])))
        for c, kind in kinds.items()
    }


def merge_levels(
    parts: Iterable[dict[str, list[Any]]],
    kinds: dict[str, str],
    categories: dict[str, list[Any] | None],
) -> dict[str, list[Any]]:
    """The levels of every factor column from those of the chunks (:func:`levels_in`), in
    R's order (a categorical's own ``categories`` first)."""
    found: dict[str, dict[Any, None]] = {c: {} for c in kinds}
    for part in parts:
        for c in kinds:
            found[c].update(dict.fromkeys(part[c]))
    return {c: r_levels(list(found[c]), k, categories.get(c)) for c, k in kinds.items()}


def scan_levels(
    source: Source, columns: list[str], kinds: dict[str, str], chunk_rows: int
) -> dict[str, list[Any]]:
    """First pass: the levels of the factor columns ``kinds`` ({column: kind}, see
    :mod:`multilevel.sources.encoding`) among complete rows (no missing value in any of
    ``columns``), ordered as R's ``factor`` orders them after incomplete rows are dropped."""
    parts = []
    cats: dict[str, list[Any] | None] = {c: None for c in kinds}
    for chunk in iter_chunks(source, columns, chunk_rows):
        for c in kinds:
            if isinstance(chunk[c].dtype, pd.CategoricalDtype) and cats[c] is None:
                cats[c] = list(chunk[c].cat.categories)
        parts.append(levels_in(chunk, kinds))
    return merge_levels(parts, kinds, cats)


def prefetch(chunks: Iterator[pd.DataFrame], depth: int = 1) -> Iterator[pd.DataFrame]:
    """Read the next chunk in a background thread while the current one is processed (reading
    and decoding Parquet or CSV mostly runs without the GIL); at most ``depth`` chunks wait."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        q.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)

    thread = threading.Thread(target=work, daemon=True, name="multilevel-prefetch")
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
