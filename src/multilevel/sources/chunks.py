"""Rows of a data source in bounded-size chunks, as pandas DataFrames of the needed columns only.

A source is a pandas DataFrame (sliced), a polars DataFrame or pyarrow Table in memory (its
record batches), a Parquet file or folder of Parquet files (a ``pyarrow.dataset`` scan with column
projection), or a CSV file (pandas ``read_csv(chunksize=...)``). Only one chunk is materialised at
a time, so memory is bounded by the chunk size, not the data size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from multilevel.design.frame import is_number, missing_and_infinite  # noqa: F401 - re-exported
from multilevel.errors import DataError
from multilevel.sources.levels import factor_values, order_levels

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


@dataclass(frozen=True)
class Source:
    """A data source and how to read it: ``kind`` is pandas, arrow, parquet or csv."""

    kind: str
    obj: Any  # the DataFrame / Table, or the path

    @property
    def columns(self) -> list[str]:
        if self.kind == "pandas":
            return [str(c) for c in self.obj.columns]
        if self.kind == "arrow":
            return list(self.obj.schema.names)
        if self.kind == "parquet":
            return list(_dataset(self.obj).schema.names)
        return [str(c) for c in pd.read_csv(self.obj, nrows=0).columns]

    @property
    def n_rows(self) -> int | None:
        """Number of rows when it is cheap to know (None for CSV)."""
        if self.kind in ("pandas", "arrow"):
            return int(len(self.obj) if self.kind == "pandas" else self.obj.num_rows)
        if self.kind == "parquet":
            return int(_dataset(self.obj).count_rows())
        return None


def _dataset(path: Path) -> Any:
    import pyarrow.dataset as ds

    return ds.dataset(str(path), format="parquet")


def as_source(data: Any) -> Source:
    """Recognise a data source; raises DataError for anything else."""
    if isinstance(data, Source):
        return data
    if isinstance(data, pd.DataFrame):
        return Source("pandas", data)
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if not path.exists():
            raise DataError(f"data file not found: {path}")
        if path.is_dir() or path.suffix.lower() in PARQUET_SUFFIXES:
            return Source("parquet", path)
        if path.suffix.lower() in (".csv", ".txt", ".gz"):
            return Source("csv", path)
        raise DataError(f"cannot read {path}: give a Parquet file or folder, or a CSV file")
    try:
        import pyarrow as pa

        if isinstance(data, pa.Table):
            return Source("arrow", data)
        if isinstance(data, pa.RecordBatch):
            return Source("arrow", pa.Table.from_batches([data]))
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    to_arrow = getattr(data, "to_arrow", None)  # polars DataFrame
    if callable(to_arrow) and type(data).__module__.startswith("polars"):
        return Source("arrow", to_arrow())
    raise DataError(
        f"cannot read data of type {type(data).__name__} in chunks; pass a pandas, polars or "
        "Arrow table, or a Parquet/CSV path"
    )


def iter_chunks(source: Source, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Chunks of at most ``chunk_rows`` rows (a Parquet row group may make them smaller)."""
    chunk_rows = max(1, int(chunk_rows))
    if source.kind == "pandas":
        df = source.obj
        for start in range(0, len(df), chunk_rows):
            yield df.iloc[start : start + chunk_rows][columns]
    elif source.kind == "arrow":
        table = source.obj.select(columns)
        for batch in table.to_batches(max_chunksize=chunk_rows):
            if batch.num_rows:
                yield batch.to_pandas(split_blocks=True)
    elif source.kind == "parquet":
        import pyarrow.parquet as pq

        # file by file, row group by row group, without read-ahead (pre_buffer would read every
        # row group of a file ahead, so memory would grow with the file)
        for path in _dataset(source.obj).files:
            pf = pq.ParquetFile(path, pre_buffer=False)
            for batch in pf.iter_batches(batch_size=chunk_rows, columns=columns):
                if batch.num_rows:
                    yield batch.to_pandas(split_blocks=True)
    else:
        try:
            reader = pd.read_csv(source.obj, usecols=columns, chunksize=chunk_rows)
            with reader:
                for chunk in reader:
                    yield chunk[columns]
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"cannot read data file {source.obj}: {exc}") from None


def complete_rows(chunk: pd.DataFrame) -> np.ndarray:
    """True for rows without a missing value in any column."""
    return ~chunk.isna().to_numpy().any(axis=1)


def scan_levels(
    source: Source, columns: list[str], kinds: dict[str, str], chunk_rows: int
) -> dict[str, list[Any]]:
    """First pass: the levels of the factor columns ``kinds`` ({column: kind}, see
    :mod:`multilevel.sources.encoding`) among complete rows (no missing value in any of
    ``columns``), ordered as R's ``factor`` orders them after incomplete rows are dropped."""
    found: dict[str, dict[Any, None]] = {c: {} for c in kinds}
    cats: dict[str, list[Any] | None] = {c: None for c in kinds}
    for chunk in iter_chunks(source, columns, chunk_rows):
        keep = complete_rows(chunk)
        for c, kind in kinds.items():
            col = chunk[c]
            if isinstance(col.dtype, pd.CategoricalDtype) and cats[c] is None:
                cats[c] = list(col.cat.categories)
            if kind != "bool":
                for v in pd.unique(factor_values(col[keep], kind)):
                    found[c].setdefault(v, None)
    return {c: order_levels(list(found[c]), k, cats[c]) for c, k in kinds.items()}


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
