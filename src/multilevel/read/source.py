"""Every data source, one way in: :class:`Source` yields the needed columns as pandas chunks.

A source is a pandas DataFrame, a polars DataFrame or LazyFrame, a pyarrow Table, RecordBatch or
Dataset, a DuckDB relation, a Dask DataFrame, or a path: a CSV file, a Parquet file, or a folder of
either (Hive-partitioned folders such as ``year=2020/part.parquet`` give their partition columns).
Only one chunk is materialised at a time, so memory is bounded by the chunk size.

Each column has one kind (number, text, logical, category) in every chunk, decided once for the
whole source (:mod:`multilevel.sources.schema`): Parquet files from their footers, a CSV from its
first chunk, with group ids (``ids``) read as text unless the source declares them numeric. A
later chunk that disagrees with the first stops with one line naming the column and the values.

The interface the rest of the package uses:

* ``as_source(data, ids=..., na_values=...)`` -> :class:`Source`
* ``source.columns``, ``source.n_rows`` (None when unknown without a pass)
* ``source.iter_chunks(columns, chunk_rows)`` -> pandas DataFrames of those columns
* ``source.to_pandas(columns)`` -> the whole frame (small data)
* ``source.partitions(columns)`` -> Dask delayed pandas partitions (None for other sources), so a
  reduction can run where the partitions live
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from multilevel.design.values import missing_column_error
from multilevel.errors import DataError
from multilevel.read import folders
from multilevel.read.csvfile import CsvDialect, describe, sniff
from multilevel.read.schema import NUMBER, TEXT, kind_of, settle_frame

PARQUET_SUFFIXES = folders.PARQUET_SUFFIXES
CSV_SUFFIXES = (".csv", ".txt", ".gz", ".tsv")
KINDS = ("pandas", "arrow", "dataset", "parquet", "csv", "polars", "duckdb", "dask")


@dataclass(frozen=True)
class Source:
    """A data source and how to read it. ``kind`` is one of :data:`KINDS`; ``obj`` the object (or
    the path); ``ids`` the group id columns (text unless the source declares them numeric);
    ``na_values`` the declared missing-value codes."""

    kind: str
    obj: Any
    ids: tuple[str, ...] = ()
    na_values: tuple[Any, ...] = ()
    files: tuple[Path, ...] = field(default=(), compare=False)

    def with_options(
        self, ids: Sequence[str] | None = None, na_values: Sequence[Any] | None = None
    ) -> Source:
        """The same source with group id columns and missing-value codes declared."""
        return replace(
            self,
            ids=tuple(ids) if ids is not None else self.ids,
            na_values=tuple(na_values) if na_values is not None else self.na_values,
        )

    # -- what is in it ------------------------------------------------------------------------
    @functools.cached_property
    def columns(self) -> list[str]:
        k, o = self.kind, self.obj
        if k in ("pandas", "dask"):
            cols = [str(c) for c in o.columns]
        elif k == "arrow":
            cols = list(o.schema.names)
        elif k == "dataset":
            cols = list(o.schema.names)
        elif k == "parquet":
            cols = self._parquet.columns
        elif k == "csv":
            cols = list(self._dialect.header)
        elif k == "polars":
            cols = list(o.collect_schema().names())
        else:  # duckdb
            cols = [str(c) for c in o.columns]
        dup = sorted({c for c in cols if cols.count(c) > 1})
        if dup:
            raise DataError(f"the data has duplicate column names: {', '.join(map(repr, dup))}")
        return cols

    @property
    def n_rows(self) -> int | None:
        """Number of rows when it is cheap to know (None for CSV and Dask)."""
        k, o = self.kind, self.obj
        if k == "pandas":
            return len(o)
        if k == "arrow":
            return int(o.num_rows)
        if k == "dataset":
            return int(o.count_rows())
        if k == "parquet":
            return self._parquet.n_rows
        if k == "polars":
            import polars as pl

            return int(o.select(pl.len()).collect().item())
        if k == "duckdb":
            return int(o.aggregate("count(*)").fetchall()[0][0])
        return None

    @functools.cached_property
    def _parquet(self) -> folders.ParquetFiles:
        return folders.ParquetFiles.of(self.files, Path(self.obj), self.ids)

    @functools.cached_property
    def _dialect(self) -> CsvDialect:
        dialects = {sniff(f) for f in self.files}
        d = next(iter(dialects))
        if len({(x.sep, x.encoding, x.decimal, x.header) for x in dialects}) > 1:
            raise DataError(
                f"the CSV files in {self.obj} differ in their columns or format; give files with "
                "the same header and separator"
            )
        return d

    def _check(self, columns: Sequence[str]) -> list[str]:
        columns = list(columns)
        have = set(self.columns)
        missing = [c for c in columns if c not in have]
        if missing:
            raise missing_column_error(missing[0], self.columns, "asked for")
        return columns

    # -- reading ------------------------------------------------------------------------------
    def iter_chunks(self, columns: Sequence[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
        """Chunks of at most ``chunk_rows`` rows of ``columns`` (a Parquet row group or a Dask
        partition may make them smaller), every column of one kind throughout."""
        columns = self._check(columns)
        chunk_rows = max(1, int(chunk_rows))
        if self.kind == "csv":
            yield from self._csv_chunks(columns, chunk_rows)
            return
        kinds: dict[str, str] | None = None
        start = 0
        for raw in self._raw_chunks(columns, chunk_rows):
            if not len(raw):
                continue
            where = f" (rows {start + 1}-{start + len(raw)})"
            chunk = settle_frame(
                raw[columns], ids=self.ids, na_values=self.na_values, expected=kinds, where=where
            )
            if kinds is None:
                kinds = {c: kind_of(chunk[c]) for c in columns}
            start += len(raw)
            yield chunk

    def to_pandas(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The whole source as one frame (for data that fit in memory)."""
        columns = self._check(self.columns if columns is None else columns)
        k, o = self.kind, self.obj
        if k == "pandas":
            return o if list(o.columns) == columns else o[columns]
        if k == "csv":
            return self._read_csv_whole(columns)
        if k == "dask":
            return o[columns].compute()
        if k == "polars":
            return _arrow_to_pandas(o.select(columns).collect().to_arrow())
        if k == "duckdb":
            return _arrow_to_pandas(_duck_table(o, columns))
        if k == "arrow":
            return _arrow_to_pandas(o.select(columns))
        chunks = list(self._raw_chunks(columns, 1 << 22))
        if not chunks:
            return pd.DataFrame({c: [] for c in columns})
        return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]

    def partitions(self, columns: Sequence[str]) -> list[Any] | None:
        """Dask delayed objects, one pandas frame of ``columns`` per partition (None unless the
        source is a Dask DataFrame), for reductions that run where the partitions live."""
        if self.kind != "dask":
            return None
        return list(self.obj[self._check(columns)].to_delayed())

    def _raw_chunks(self, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
        k, o = self.kind, self.obj
        if k == "pandas":
            for start in range(0, len(o), chunk_rows):
                yield o.iloc[start : start + chunk_rows][columns]
        elif k == "arrow":
            for batch in o.select(columns).to_batches(max_chunksize=chunk_rows):
                yield _arrow_to_pandas(batch)
        elif k == "dataset":
            for batch in o.to_batches(columns=columns, batch_size=chunk_rows):
                yield _arrow_to_pandas(batch)
        elif k == "parquet":
            yield from self._parquet.chunks(columns, chunk_rows)
        elif k == "polars":
            for df in o.select(columns).collect_batches(chunk_size=chunk_rows):
                yield _arrow_to_pandas(df.to_arrow())
        elif k == "duckdb":
            rel = o.select(*[_duck_ident(c) for c in columns])
            read = getattr(rel, "to_arrow_reader", None) or rel.fetch_record_batch  # duckdb < 1.4
            for batch in read(chunk_rows):
                yield _arrow_to_pandas(batch)
        elif k == "dask":
            for part in o[columns].to_delayed():
                df = part.compute()
                for start in range(0, len(df), chunk_rows):
                    yield df.iloc[start : start + chunk_rows]

    # -- CSV ----------------------------------------------------------------------------------
    def _csv_options(self, columns: list[str], text: Sequence[str]) -> dict[str, Any]:
        d = self._dialect
        opts: dict[str, Any] = dict(d.read_options(), usecols=columns)
        opts["dtype"] = {c: str for c in columns if c in set(text)}
        if self.na_values:
            opts["na_values"] = [str(t) for t in self.na_values]
        return opts

    def _read_csv(self, path: Path, **opts: Any) -> Any:
        try:
            return pd.read_csv(path, **opts)
        except pd.errors.EmptyDataError:
            raise DataError(f"data file {path} has no columns (is it empty?)") from None
        except UnicodeDecodeError as exc:
            raise DataError(
                f"cannot read data file {path} as {self._dialect.encoding} text ({exc.reason} at "
                "byte {exc.start}); save it as UTF-8"
            ) from None
        except (pd.errors.ParserError, ValueError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(
                f"cannot read data file {path} (read as {describe(self._dialect)}): {msg}"
            ) from None

    def _read_csv_whole(self, columns: list[str]) -> pd.DataFrame:
        frames = [self._read_csv(f, **self._csv_options(columns, self.ids)) for f in self.files]
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        return frame[columns]

    def _csv_chunks(self, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
        """The first chunk decides each column's kind; later chunks read text columns as text,
        and a column of numbers that later holds other values stops with one line."""
        first = self._read_csv(
            self.files[0], nrows=chunk_rows, **self._csv_options(columns, self.ids)
        )
        first = settle_frame(first[columns], ids=self.ids, na_values=self.na_values)
        kinds = {c: kind_of(first[c]) for c in columns}
        text = [c for c in columns if kinds[c] == TEXT or c in self.ids]
        start = 0
        for path in self.files:
            opts = self._csv_options(columns, text)
            reader = self._read_csv(path, chunksize=chunk_rows, **opts)
            with reader:
                while True:
                    try:
                        raw = next(reader)
                    except StopIteration:
                        break
                    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
                        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                        raise DataError(
                            f"cannot read data file {path} after row {start} (read as "
                            f"{describe(self._dialect)}): {msg or type(exc).__name__}"
                        ) from None
                    if not len(raw):
                        continue
                    where = (
                        f" (rows {start + 1}-{start + len(raw)} of {path.name}; the first "
                        f"{len(first)} rows held only numbers there)"
                    )
                    expected = {c: k for c, k in kinds.items() if k == NUMBER}
                    start += len(raw)
                    yield settle_frame(
                        raw[columns],
                        ids=self.ids,
                        na_values=self.na_values,
                        expected=expected,
                        where=where,
                    )


def _arrow_to_pandas(table: Any) -> pd.DataFrame:
    return table.to_pandas(split_blocks=True)


def _duck_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duck_table(rel: Any, columns: list[str]) -> Any:
    rel = rel.select(*[_duck_ident(c) for c in columns])
    return (getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table)()


def _path_source(path: Path) -> Source:
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if path.is_dir():
        kind, files = folders.data_files(path)
        return Source(kind, path, files=tuple(files))
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise DataError(f"data file {path} is empty")
    if suffix in PARQUET_SUFFIXES or folders.is_parquet(path):
        return Source("parquet", path, files=(path,))
    if suffix in CSV_SUFFIXES:
        return Source("csv", path, files=(path,))
    if suffix == ".feather":
        import pyarrow.feather as feather

        return Source("arrow", feather.read_table(path))
    raise DataError(
        f"cannot read {path}: give a CSV or Parquet file, or a folder of them (the file name "
        "should end in .csv or .parquet)"
    )


def _kind_of_object(data: Any) -> str | None:
    module = type(data).__module__.split(".")[0]
    name = type(data).__name__
    if module == "polars":
        return {"DataFrame": "polars-df", "LazyFrame": "polars"}.get(name)
    if module == "duckdb" and "Relation" in name:
        return "duckdb"
    if module.startswith("dask") and hasattr(data, "to_delayed") and hasattr(data, "columns"):
        return "dask"
    if module == "pyarrow" and hasattr(data, "to_batches") and hasattr(data, "count_rows"):
        return "dataset"
    return None


def as_source(
    data: Any, ids: Sequence[str] | None = None, na_values: Sequence[Any] | None = None
) -> Source:
    """Recognise a data source; raises DataError naming what can be read for anything else."""
    if isinstance(data, Source):
        src = data
    elif isinstance(data, pd.DataFrame):
        src = Source("pandas", data)
    elif isinstance(data, str | os.PathLike):
        src = _path_source(Path(data))
    elif isinstance(data, dict):
        try:
            src = Source("pandas", pd.DataFrame(data))
        except (ValueError, TypeError) as exc:
            raise DataError(f"cannot make a table of the columns given: {exc}") from None
    else:
        src = _object_source(data)
    return src.with_options(ids, na_values)


def _object_source(data: Any) -> Source:
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return Source("arrow", data)
    if isinstance(data, pa.RecordBatch):
        return Source("arrow", pa.Table.from_batches([data]))
    kind = _kind_of_object(data)
    if kind == "polars-df":
        return Source("arrow", data.to_arrow())
    if kind is not None:
        return Source(kind, data)
    raise DataError(
        f"cannot read data of type {type(data).__name__}; pass a pandas, polars (DataFrame or "
        "LazyFrame), Arrow or Dask table, a DuckDB relation, or a CSV/Parquet file or folder"
    )
