"""Every source a user has gives the in-memory fit, whole and in chunks, with one type per column.

The reference is the fit of the same rows as a pandas DataFrame (a different path through the
code: no reading, no type decisions); the deviance is a deterministic function of the rows, so
the log-likelihoods agree to rounding (1e-9).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import multilevel
from multilevel.errors import DataError
from multilevel.read.source import as_source

FORMULA = "y ~ x + (1 + x | g)"


def simulate(n: int = 1200, groups: int = 40, seed: int = 3) -> pd.DataFrame:
    """y = 1 + 0.5 x + u0_g + u1_g x + e with SDs (1, 0.5) and residual SD 1."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    x = rng.normal(size=n)
    u = rng.normal(size=(groups, 2)) * [1.0, 0.5]
    y = 1 + 0.5 * x + u[g, 0] + u[g, 1] * x + rng.normal(size=n)
    return pd.DataFrame({"g": g, "x": x, "y": y})


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return simulate()


@pytest.fixture(scope="module")
def reference(data):
    return quiet(multilevel.fit, FORMULA, data)


def test_polars_lazyframe_whole_and_in_chunks(data, reference):
    pl = pytest.importorskip("polars")
    lazy = pl.from_pandas(data).lazy()
    assert quiet(multilevel.fit, FORMULA, lazy).loglik == pytest.approx(reference.loglik, abs=1e-9)
    src = as_source(lazy)
    assert src.n_rows == len(data)
    chunks = list(src.iter_chunks(["y", "x", "g"], 500))
    assert [len(c) for c in chunks] == [500, 500, 200]
    np.testing.assert_array_equal(pd.concat(chunks)["y"].to_numpy(), data["y"].to_numpy())


def test_dask_dataframe_exposes_its_partitions(data, reference):
    dd = pytest.importorskip("dask.dataframe")
    ddf = dd.from_pandas(data, npartitions=3)
    assert quiet(multilevel.fit, FORMULA, ddf).loglik == pytest.approx(reference.loglik, abs=1e-9)
    src = as_source(ddf)
    parts = src.partitions(["y", "g"])
    assert len(parts) == 3
    import dask

    got = pd.concat(dask.compute(*parts))
    assert list(got.columns) == ["y", "g"] and len(got) == len(data)
    assert as_source(data).partitions(["y"]) is None


def test_arrow_dataset_and_table(data, reference):
    table = pa.Table.from_pandas(data, preserve_index=False)
    for obj in (table, ds.dataset(table)):
        assert quiet(multilevel.fit, FORMULA, obj).loglik == pytest.approx(
            reference.loglik, abs=1e-9
        )


def test_duckdb_relation(data, reference):
    duckdb = pytest.importorskip("duckdb", reason="duckdb is an optional dependency")
    con = duckdb.connect()
    rel = con.from_df(data)
    assert quiet(multilevel.fit, FORMULA, rel).loglik == pytest.approx(reference.loglik, abs=1e-9)
    assert as_source(rel).n_rows == len(data)
    assert sum(len(c) for c in as_source(rel).iter_chunks(["y", "g"], 300)) == len(data)


def test_hive_partitioned_folder_gives_its_partition_column(tmp_path, data, reference):
    pq.write_to_dataset(pa.Table.from_pandas(data, preserve_index=False), tmp_path, ["g"])
    src = as_source(tmp_path, ids=["g"])
    assert set(src.columns) == {"x", "y", "g"} and src.n_rows == len(data)
    whole = quiet(multilevel.fit, FORMULA, tmp_path)
    chunked = quiet(multilevel.fit_large, FORMULA, tmp_path, chunk_rows=100)
    assert whole.loglik == pytest.approx(reference.loglik, abs=1e-9)
    assert chunked.loglik == pytest.approx(reference.loglik, abs=1e-9)
    assert chunked.n_groups == {"g": 40}


def test_csv_and_parquet_folders_whole_and_chunked(tmp_path, data, reference):
    (tmp_path / "csv").mkdir()
    (tmp_path / "pq").mkdir()
    for i, start in enumerate(range(0, len(data), 400)):
        part = data.iloc[start : start + 400]
        part.to_csv(tmp_path / "csv" / f"part{i}.csv", index=False)
        part.to_parquet(tmp_path / "pq" / f"part{i}.parquet")
    (tmp_path / "pq" / "_SUCCESS").write_text("")  # written by Spark: skipped
    for folder in (tmp_path / "csv", tmp_path / "pq"):
        assert quiet(multilevel.fit, FORMULA, folder).loglik == pytest.approx(
            reference.loglik, abs=1e-9
        )
        got = quiet(multilevel.fit_large, FORMULA, folder, chunk_rows=250)
        assert got.loglik == pytest.approx(reference.loglik, abs=1e-9)


def test_csv_ids_numeric_early_and_text_later_give_the_same_groups(tmp_path):
    """Issue 11 item 3: 387 groups chunked against 201 in memory before."""
    df = simulate(n=2000, groups=200, seed=5).sort_values("g", kind="stable")
    df["g"] = np.where(df["g"] < 100, df["g"].astype(str), "s" + df["g"].astype(str))
    df.to_csv(tmp_path / "d.csv", index=False)
    ref = quiet(multilevel.fit, FORMULA, df)
    whole = quiet(multilevel.fit, FORMULA, tmp_path / "d.csv")
    chunked = quiet(multilevel.fit_large, FORMULA, tmp_path / "d.csv", chunk_rows=300)
    assert chunked.n_groups == {"g": 200}
    assert whole.loglik == pytest.approx(ref.loglik, abs=1e-9)
    assert chunked.loglik == pytest.approx(ref.loglik, abs=1e-9)


def test_parquet_id_int64_in_one_file_and_string_in_another(tmp_path):
    """Issue 11 item 3: 200 groups against 100 before."""
    df = simulate(n=1600, groups=100, seed=6)
    pq.write_table(pa.Table.from_pandas(df.iloc[:800], preserve_index=False), tmp_path / "a.pq")
    strings = df.iloc[800:].astype({"g": str})
    pq.write_table(pa.Table.from_pandas(strings, preserve_index=False), tmp_path / "b.pq")
    ref = quiet(multilevel.fit, FORMULA, df)
    chunked = quiet(multilevel.fit_large, FORMULA, tmp_path, chunk_rows=300)
    assert chunked.n_groups == {"g": 100}
    assert chunked.loglik == pytest.approx(ref.loglik, abs=1e-9)
    assert quiet(multilevel.fit, FORMULA, tmp_path).loglik == pytest.approx(ref.loglik, abs=1e-9)


def test_leading_zeros_keep_ids_apart(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"g": ["007", "7", "07"] * 20, "y": rng.normal(size=60)})
    df.to_csv(tmp_path / "d.csv", index=False)
    fit = quiet(multilevel.fit, "y ~ 1 + (1 | g)", tmp_path / "d.csv")
    assert fit.ranef()["g"].index.tolist() == ["007", "07", "7"]
    chunked = quiet(multilevel.fit_large, "y ~ 1 + (1 | g)", tmp_path / "d.csv", chunk_rows=7)
    assert chunked.n_groups == {"g": 3}
    assert chunked.loglik == pytest.approx(fit.loglik, abs=1e-9)


def test_plain_integer_ids_from_a_csv_keep_rs_numeric_order(tmp_path, data):
    data.to_csv(tmp_path / "d.csv", index=False)
    fit = quiet(multilevel.fit, FORMULA, tmp_path / "d.csv")
    assert fit.ranef()["g"].index.tolist()[:12] == [str(i) for i in range(12)]


def test_a_later_csv_chunk_with_text_in_a_number_column_is_one_line(tmp_path, data):
    df = data.astype({"x": object})
    df.loc[1000, "x"] = "n/a?"
    df.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(DataError) as err:
        list(as_source(tmp_path / "d.csv").iter_chunks(["y", "x"], 400))
    msg = str(err.value)
    assert "'x'" in msg and "'n/a?'" in msg and "rows 801-1200" in msg and "na_values" in msg
    assert "\n" not in msg and len(msg) < 400


def test_fit_large_does_not_need_the_first_rows_complete():
    """Issue 11 item 7: the encoding was learned from the first 2000 rows only."""
    first = simulate(n=2500, seed=4).assign(x=np.nan)  # 2500 incomplete rows first
    big = pd.concat([first, simulate(n=3000, seed=9)], ignore_index=True)
    big["f"] = np.where(np.arange(len(big)) % 3 == 0, "b", "a")
    formula = "y ~ x + f + (1 + x | g)"
    got = quiet(multilevel.fit_large, formula, big, chunk_rows=500)
    ref = quiet(multilevel.fit, formula, big)
    assert got.loglik == pytest.approx(ref.loglik, abs=1e-9)
    assert got.n_obs == ref.n_obs == 3000


def test_unknown_objects_are_refused_naming_what_can_be_read():
    with pytest.raises(DataError, match="cannot read data of type list.*LazyFrame"):
        as_source([1, 2, 3])
