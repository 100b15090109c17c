"""Each source yields its rows in bounded chunks of the needed columns; the first pass finds the
levels R's factor() would give after incomplete rows are dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from multilevel.errors import DataError
from multilevel.sources.chunks import as_source, iter_chunks, prefetch, scan_levels

COLUMNS = ["y", "x", "f", "g"]


def _sources(frame, files):
    out = {"pandas": frame, "arrow": pa.Table.from_pandas(frame, preserve_index=False), **files}
    try:
        import polars as pl

        out["polars"] = pl.from_pandas(frame)
    except ImportError:
        pass
    return out


@pytest.mark.parametrize("kind", ["pandas", "arrow", "polars", "parquet", "folder", "csv"])
def test_chunks_cover_the_rows_in_bounded_pieces(kind, frame, files):
    sources = _sources(frame, files)
    if kind not in sources:
        pytest.skip("polars is not installed")
    chunks = list(iter_chunks(as_source(sources[kind]), COLUMNS, 700))
    assert all(0 < len(c) <= 700 for c in chunks)
    assert all(list(c.columns) == COLUMNS for c in chunks)
    got = pd.concat(chunks, ignore_index=True)
    assert len(got) == len(frame)
    np.testing.assert_allclose(got["y"].to_numpy(float), frame["y"].to_numpy(float), rtol=1e-15)
    np.testing.assert_array_equal(got["x"].isna().to_numpy(), frame["x"].isna().to_numpy())
    assert got["f"].isna().sum() == frame["f"].isna().sum()


def test_levels_come_from_complete_rows_only():
    df = pd.DataFrame({"y": [1.0, 2.0, np.nan, 4.0], "f": ["b", "a", "zz", "b"], "g": [1, 1, 2, 2]})
    # 'zz' only occurs in a row with a missing outcome: R's factor() after na.omit drops it
    levels = scan_levels(as_source(df), ["y", "f", "g"], {"f": "string"}, chunk_rows=2)
    assert levels == {"f": ["a", "b"]}


def test_categorical_order_is_kept():
    f = pd.Categorical(["lo", "hi", "mid", "hi"], categories=["lo", "mid", "hi"])
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "f": f})
    levels = scan_levels(as_source(df), ["y", "f"], {"f": "category"}, 3)
    assert levels == {"f": ["lo", "mid", "hi"]}


def test_unknown_sources_are_rejected(tmp_path):
    with pytest.raises(DataError, match="not found"):
        as_source(tmp_path / "missing.parquet")
    with pytest.raises(DataError, match="cannot read data of type"):
        as_source([1, 2, 3])


def test_prefetch_keeps_order_and_reraises():
    assert list(prefetch(iter(range(50)))) == list(range(50))

    def failing():
        yield 1
        raise DataError("bad chunk")

    with pytest.raises(DataError, match="bad chunk"):
        list(prefetch(failing()))
