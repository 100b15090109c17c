"""Bad input gets a clear message naming the column; missing rows are dropped and counted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import DataError


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(6), n // 6)
    x = rng.normal(size=n)
    return pd.DataFrame({"y": x + rng.normal(size=6)[g] + rng.normal(size=n), "x": x, "g": g})


def test_missing_column_suggests_close_match():
    with pytest.raises(DataError, match=r"'xx'.*did you mean 'x'"):
        multilevel.fit("y ~ xx + (1 | g)", _data())


def test_non_numeric_outcome():
    df = _data().assign(y=lambda d: np.where(d.y > 0, "high", "low"))
    with pytest.raises(DataError, match="outcome 'y' is not numeric"):
        multilevel.fit("y ~ x + (1 | g)", df)


def test_missing_values_dropped_and_counted():
    df = _data()
    df.loc[[0, 5], "y"] = np.nan
    df.loc[7, "x"] = np.nan
    df.loc[9, "g"] = np.nan
    with pytest.warns(multilevel.FitWarning, match="4 of 60 rows dropped"):
        fit = multilevel.fit("y ~ x + (1 | g)", df)
    assert fit.n_dropped == 4 and fit.n_obs == 56
    assert fit.to_dict()["n_dropped"] == 4
    assert "rows dropped for missing values: 4" in fit.summary().to_text()
    # the same as fitting the complete rows
    clean = multilevel.fit("y ~ x + (1 | g)", df.dropna())
    assert fit.loglik == pytest.approx(clean.loglik, abs=1e-9)


def test_infinite_values():
    df = _data()
    df.loc[3, "x"] = np.inf
    with pytest.raises(DataError, match="column 'x' has 1 infinite"):
        multilevel.fit("y ~ x + (1 | g)", df)


def test_one_level_grouping_factor():
    df = _data().assign(g=1)
    with pytest.raises(DataError, match="'g'.*only 1 level"):
        multilevel.fit("y ~ x + (1 | g)", df)


def test_too_many_random_effects():
    df = _data(12).assign(g=np.repeat(np.arange(6), 2))
    with pytest.raises(DataError, match="unidentifiable"):
        multilevel.fit("y ~ x + (1 + x | g)", df)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty"):
        multilevel.fit("y ~ x + (1 | g)", path)


def test_csv_and_parquet_paths(tmp_path):
    df = _data()
    df.to_csv(tmp_path / "d.csv", index=False)
    df.to_parquet(tmp_path / "d.parquet")
    ref = multilevel.fit("y ~ x + (1 | g)", df)
    for name in ("d.csv", "d.parquet"):
        got = multilevel.fit("y ~ x + (1 | g)", tmp_path / name)
        assert got.loglik == pytest.approx(ref.loglik, abs=1e-9)


def test_no_random_term():
    with pytest.raises(multilevel.FormulaError, match="no random-effects terms"):
        multilevel.fit("y ~ x", _data())


def test_unused_categories_are_dropped_as_in_r():
    df = _data()
    df["dose"] = pd.Categorical(
        np.tile(["low", "mid", "high"], 20), categories=["none", "low", "mid", "high"]
    )
    fit = multilevel.fit("y ~ dose + (1 | g)", df)
    assert fit.fixed_names == ("(Intercept)", "dosemid", "dosehigh")


def test_strings_and_logicals_become_factors_as_in_r():
    df = _data()
    df["arm"] = np.tile(["Drug A", "control", "Drug B"], 20)
    df["flag"] = np.tile([True, False], 30)
    fit = multilevel.fit("y ~ arm + flag + (1 | g)", df)
    # R's collation puts "control" first (case-insensitive); logicals are factors FALSE/TRUE
    assert fit.fixed_names == ("(Intercept)", "armDrug A", "armDrug B", "flagTRUE")


def test_transformed_outcome():
    df = _data().assign(pos=lambda d: np.exp(d.y))
    fit = multilevel.fit("log(pos) ~ x + (1 | g)", df)
    ref = multilevel.fit("y ~ x + (1 | g)", df)
    assert fit.loglik == pytest.approx(ref.loglik, abs=1e-8)
    with pytest.raises(DataError, match="'nope'"):
        multilevel.fit("log(nope) ~ x + (1 | g)", df)


def test_changing_the_data_after_the_fit_does_not_change_the_fit():
    """The fit reads the data columns in place (no copy); later edits of the caller's frame
    must not reach its lazily computed fitted values."""
    import multilevel

    rng = np.random.default_rng(0)
    n = 20_000  # above the size where columns are read in place
    df = pd.DataFrame(
        {"y": rng.standard_normal(n), "x": rng.standard_normal(n), "g": rng.integers(0, 50, n)}
    )
    df["y"] += rng.standard_normal(50)[df["g"]]
    y0, x0 = df["y"].to_numpy().copy(), df["x"].to_numpy().copy()
    fit = multilevel.fit("y ~ x + (1 | g)", df)
    df.loc[0, "x"] = 1e3
    df["y"] *= 2
    b = fit.modes["g"].b[fit.design.terms[0].codes, 0]
    np.testing.assert_allclose(fit.fitted, fit.beta[0] + fit.beta[1] * x0 + b, rtol=1e-12)
    np.testing.assert_array_equal(fit.design.y, y0)
    np.testing.assert_allclose(fit.residuals, y0 - fit.fitted, rtol=1e-12)


def test_files_are_read_only_in_the_columns_the_formula_uses(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    n = 300
    df = pd.DataFrame({"y": rng.standard_normal(n), "x": rng.standard_normal(n)})
    df["g"] = np.arange(n) % 10
    df["unused"] = ["text"] * n  # would not even be numeric
    for name, write in (("d.parquet", df.to_parquet), ("d.csv", df.to_csv)):
        path = tmp_path / name
        write(path, index=False) if name.endswith("csv") else write(path)
        fit = multilevel.fit("y ~ x + (1 | g)", path)
        assert list(fit.design.frame.data.columns) == ["y", "x", "g"]
        assert fit.n_obs == n
        with pytest.raises(DataError, match="column 'z' .* is not in the data") as err:
            multilevel.fit("y ~ z + (1 | g)", path)
        assert "cannot read" not in str(err.value)
