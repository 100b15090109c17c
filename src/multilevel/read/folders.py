"""Folders of data files and Parquet files read with one schema.

A folder holds Parquet files or CSV files (any depth; names starting with ``.`` or ``_``, such as
``_SUCCESS`` or ``.DS_Store``, and checksum files are skipped). Folder names ``key=value`` are Hive
partitions: ``key`` becomes a column. Anything else in the folder stops with one line naming it,
rather than an Arrow error from deep inside a scan.

The Parquet files may disagree on a column's type (int64 in one, string in another): the type is
decided once from all footers (no data read), so every chunk has the same groups as the whole:
numbers stay numbers (int64, or float64 when any file holds floats), anything with text becomes
text, and group ids (``ids``) are text unless every file declares them integers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".gz")
SKIPPED_SUFFIXES = (".crc", ".json", ".md")


def is_parquet(path: Path) -> bool:
    """A Parquet file by its magic bytes (``PAR1`` at both ends)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(-4, 2)
            return head == b"PAR1" and fh.read(4) == b"PAR1"
    except OSError:
        return False


def _skipped(rel: Path) -> bool:
    return any(p.startswith((".", "_")) for p in rel.parts) or rel.suffix in SKIPPED_SUFFIXES


def data_files(folder: Path) -> tuple[str, list[Path]]:
    """('parquet' or 'csv', the data files of a folder in path order); DataError otherwise."""
    parquet, csv, other = [], [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if _skipped(rel):
            continue
        if path.suffix.lower() in PARQUET_SUFFIXES or is_parquet(path):
            parquet.append(path)
        elif path.suffix.lower() in CSV_SUFFIXES:
            csv.append(rel)
        else:
            other.append(rel)
    if parquet and (csv or other):
        odd = (csv + other)[0]
        raise DataError(
            f"folder {folder} holds {odd}, which is not a Parquet file, beside "
            f"{len(parquet)} Parquet file(s); move it out of the folder"
        )
    if csv and other:
        raise DataError(
            f"folder {folder} holds {other[0]}, which is not a CSV file, beside {len(csv)} CSV "
            "file(s); move it out of the folder"
        )
    if not parquet and not csv:
        what = f" (only {other[0]}, ...)" if other else ""
        raise DataError(f"{folder} is a folder without Parquet or CSV files{what}")
    return ("parquet", parquet) if parquet else ("csv", [folder / p for p in csv])


def hive_keys(path: Path, base: Path) -> dict[str, str]:
    """The ``key=value`` folder names between ``base`` and the file."""
    out = {}
    for part in path.relative_to(base).parts[:-1] if path != base else ():
        if "=" in part:
            key, _, value = part.partition("=")
            out[key] = value
    return out


def _unify(name: str, types: list[Any], ids: bool) -> Any:
    """One Arrow type for a column stored with ``types`` in different files."""
    import pyarrow as pa
    import pyarrow.types as pt

    def plain(t: Any) -> Any:
        return t.value_type if pt.is_dictionary(t) else t

    distinct = list(dict.fromkeys(types))
    if len(distinct) == 1 and not (ids and not pt.is_integer(plain(distinct[0]))):
        return distinct[0]
    values = [plain(t) for t in distinct]
    if all(pt.is_integer(t) for t in values):
        return pa.int64()
    if not ids and all(pt.is_integer(t) or pt.is_floating(t) for t in values):
        return pa.float64()
    if all(pt.is_boolean(t) for t in values):
        return pa.bool_()
    return pa.string()


def _partition_type(values: list[str], ids: bool) -> Any:
    import pyarrow as pa

    if ids:
        return pa.string()
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    if numbers.isna().any():
        return pa.string()
    if all(v.lstrip("-").isdigit() for v in values):
        return pa.int64()
    return pa.float64()


@dataclass(frozen=True)
class ParquetFiles:
    """Parquet files read as one table: each column's type decided from all footers."""

    files: tuple[Path, ...]
    partitions: tuple[dict[str, str], ...]  # Hive keys of each file
    schemas: tuple[dict[str, Any], ...]  # {column: Arrow type} of each file
    types: dict[str, Any]  # the decided type of every column
    n_rows: int

    @property
    def columns(self) -> list[str]:
        return list(self.types)

    @classmethod
    def of(cls, files: Sequence[Path], base: Path, ids: Sequence[str] = ()) -> ParquetFiles:
        import pyarrow.parquet as pq

        base = base if base.is_dir() else base.parent
        schemas, n_rows = [], 0
        for f in files:
            try:
                meta = pq.read_metadata(f)
            except Exception as exc:  # noqa: BLE001 - any Arrow failure is a bad file
                raise DataError(f"cannot read Parquet file {f}: {exc}") from None
            n_rows += meta.num_rows
            schema = meta.schema.to_arrow_schema()
            schemas.append({n: schema.field(n).type for n in schema.names})
        parts = [hive_keys(f, base) for f in files]
        keys = list(dict.fromkeys(k for p in parts for k in p))
        types: dict[str, Any] = {}
        for name in dict.fromkeys(n for s in schemas for n in s):
            types[name] = _unify(name, [s[name] for s in schemas if name in s], name in ids)
        for key in keys:
            if key in types:
                continue
            values = [p[key] for p in parts if key in p]
            if len(values) != len(files):
                raise DataError(
                    f"the Hive partition {key}= is missing from some folders of {base}; every "
                    "file needs the same partition folders"
                )
            types[key] = _partition_type(values, key in ids)
        return cls(tuple(files), tuple(parts), tuple(schemas), types, n_rows)

    def chunks(self, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
        """File by file, row group by row group, without read-ahead (pre_buffer would read every
        row group of a file ahead, so memory would grow with the file)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        for path, schema, part in zip(self.files, self.schemas, self.partitions, strict=True):
            stored = [c for c in columns if c in schema]
            lacking = [c for c in columns if c not in schema and c not in part]
            if lacking:
                raise DataError(
                    f"Parquet file {path} lacks column {lacking[0]!r}, which other files of the "
                    "folder have; give files with the same columns"
                )
            pf = pq.ParquetFile(path, pre_buffer=False)
            for batch in pf.iter_batches(batch_size=chunk_rows, columns=stored):
                n = batch.num_rows
                if not n:
                    continue
                arrays = {}
                for c in columns:
                    target = self.types[c]
                    if c in schema:
                        a = batch.column(c)
                        arrays[c] = a if a.type == target else a.cast(target)
                    else:
                        value = pa.scalar(part[c]).cast(target)
                        arrays[c] = pa.array(np.repeat(value.as_py(), n), type=target)
                table = pa.table(arrays)
                yield table.to_pandas(split_blocks=True)
