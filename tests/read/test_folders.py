"""Folders of Parquet files: one schema decided from the footers, one-line errors for files that
do not belong, Hive partition columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from multilevel.errors import DataError
from multilevel.read.folders import ParquetFiles, data_files, hive_keys
from multilevel.read.source import as_source


def _write(path, df):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)


def test_types_are_decided_from_all_footers(tmp_path):
    _write(tmp_path / "a.parquet", pd.DataFrame({"g": [1, 2], "x": [1, 2], "w": [1.5, 2.5]}))
    _write(tmp_path / "b.parquet", pd.DataFrame({"g": ["3", "x"], "x": [0.5, 1.0], "w": [1.0, 2]}))
    files = ParquetFiles.of(data_files(tmp_path)[1], tmp_path, ids=["g"])
    assert {c: str(t) for c, t in files.types.items()} == {
        "g": "string",
        "x": "double",
        "w": "double",
    }
    got = pd.concat(as_source(tmp_path, ids=["g"]).iter_chunks(["g", "x"], 10))
    assert got["g"].tolist() == ["1", "2", "3", "x"]
    assert got["x"].tolist() == [1.0, 2.0, 0.5, 1.0]


def test_integer_ids_in_every_file_stay_numbers(tmp_path):
    _write(tmp_path / "a.parquet", pd.DataFrame({"g": np.array([1, 2], "int32")}))
    _write(tmp_path / "b.parquet", pd.DataFrame({"g": np.array([3, 4], "int64")}))
    got = as_source(tmp_path, ids=["g"]).to_pandas(["g"])
    assert got["g"].dtype == np.int64 and got["g"].tolist() == [1, 2, 3, 4]


def test_a_file_lacking_a_column_is_named(tmp_path):
    _write(tmp_path / "a.parquet", pd.DataFrame({"g": [1], "x": [1.0]}))
    _write(tmp_path / "b.parquet", pd.DataFrame({"g": [2]}))
    with pytest.raises(DataError, match=r"b\.parquet lacks column 'x'"):
        list(as_source(tmp_path).iter_chunks(["g", "x"], 10))


def test_a_non_parquet_file_in_the_folder_is_named(tmp_path):
    _write(tmp_path / "a.parquet", pd.DataFrame({"g": [1]}))
    (tmp_path / "notes.txt").write_text("read me")
    (tmp_path / ".hidden").write_text("skipped")
    with pytest.raises(DataError, match=r"holds notes\.txt, which is not a Parquet file"):
        as_source(tmp_path)
    (tmp_path / "notes.txt").unlink()
    assert as_source(tmp_path).columns == ["g"]
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01")
    with pytest.raises(DataError, match="junk.bin"):
        as_source(tmp_path)


def test_an_empty_folder_is_one_line(tmp_path):
    with pytest.raises(DataError, match="without Parquet or CSV files"):
        as_source(tmp_path)


def test_hive_keys_and_their_types(tmp_path):
    for year, site in [(2020, "007"), (2021, "7")]:
        df = pd.DataFrame({"y": [1.0, 2.0]})
        _write(tmp_path / f"year={year}" / f"site={site}" / "part-0.parquet", df)
    path = tmp_path / "year=2020" / "site=007" / "part-0.parquet"
    assert hive_keys(path, tmp_path) == {"year": "2020", "site": "007"}
    got = as_source(tmp_path, ids=["site"]).to_pandas(["y", "year", "site"])
    assert got["year"].tolist() == [2020, 2020, 2021, 2021]
    assert got["site"].tolist() == ["007", "007", "7", "7"]  # ids: text, leading zeros kept
