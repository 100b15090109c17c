"""Missing-value codes and column types (issue 11 item 4): a ``.`` in a column of numbers stops
naming the token and the option; declared codes drop the rows, as R's ``na.strings`` does."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import DataError
from multilevel.read.schema import NUMBER, TEXT, apply_na_values, kind_of, settle

FORMULA = "y ~ x + (1 | g)"


def _data(n: int = 300, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 15, n)
    x = rng.normal(size=n).round(3)
    y = 1 + 0.4 * x + rng.normal(size=15)[g] + rng.normal(size=n)
    return pd.DataFrame({"g": g.astype(str), "x": x, "y": y})


def _fit(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return multilevel.fit(FORMULA, data, **kw)


def test_a_dot_in_a_numeric_column_stops_naming_token_and_option(tmp_path):
    df = _data().astype({"x": object})
    df.loc[[4, 90, 91], "x"] = "."
    df.to_csv(tmp_path / "d.csv", index=False)
    for source in (df, tmp_path / "d.csv"):
        with pytest.raises(DataError) as err:
            _fit(source)
        msg = str(err.value)
        assert "column 'x'" in msg and "'.'" in msg and "3 row(s)" in msg
        assert "na_values=['.']" in msg and "--na ." in msg
    with pytest.raises(DataError, match="column 'x'.*'.'"):
        multilevel.fit_large(FORMULA, tmp_path / "d.csv", chunk_rows=50)


def test_declared_codes_drop_the_rows_as_in_r(tmp_path):
    """lme4 on read.csv(na.strings = c(".", "-999")) fits the rows without the codes."""
    df = _data()
    expected = _fit(df.drop(index=[4, 90, 91, 200]))
    coded = df.astype({"x": object})
    coded.loc[[4, 90, 91], "x"] = "."
    coded.loc[200, "y"] = -999
    coded.to_csv(tmp_path / "d.csv", index=False)
    for source in (coded, tmp_path / "d.csv"):
        got = _fit(source, na_values=[".", "-999"])
        assert got.n_obs == len(df) - 4
        assert got.loglik == pytest.approx(expected.loglik, abs=1e-9)
        np.testing.assert_allclose(got.beta, expected.beta, rtol=1e-10)


def test_a_code_used_as_a_group_is_refused():
    df = _data()
    df.loc[[1, 2], "g"] = "."
    with pytest.raises(DataError, match="grouping column 'g' holds '.' in 2 row"):
        _fit(df)
    assert _fit(df, na_values=["."]).n_obs == len(df) - 2


def test_an_object_column_of_numbers_and_none_is_numeric():
    df = _data()
    ref = _fit(df.assign(x=df["x"].where(df.index % 7 != 0)))
    x = df["x"].astype(object)
    x[df.index % 7 == 0] = None
    got = _fit(df.assign(x=x))
    assert got.fixed_names == ("(Intercept)", "x")  # not a factor with 290 levels
    assert got.loglik == pytest.approx(ref.loglik, abs=1e-9)


def test_text_factors_are_left_alone():
    col = pd.Series(["low", "high", "mid", "low"], dtype=object)
    assert settle(col, "dose") is col
    mixed = pd.Series(["1", "2", "3", "control"] * 3, dtype=object)  # a factor with a control
    assert settle(mixed, "arm") is mixed


def test_a_later_chunk_is_converted_to_the_first_chunks_kind():
    later = pd.Series(["1.5", None, "2"], dtype=object)
    got = settle(later, "x", expected=NUMBER)
    assert got.dtype == np.float64 and np.isnan(got[1]) and got[2] == 2.0
    with pytest.raises(DataError, match=r"'x' .* 'oops' in 1 row\(s\) \(rows 5-7\)"):
        settle(pd.Series(["1", "oops", "3"]), "x", expected=NUMBER, where=" (rows 5-7)")
    assert kind_of(settle(pd.Series([1, 2]), "x", expected=TEXT)) == TEXT


def test_numeric_codes_only_when_declared():
    col = pd.Series([1.0, -999.0, 3.0])
    assert apply_na_values(col, []) is col
    assert apply_na_values(col, ["-999"]).isna().tolist() == [False, True, False]


def test_r_ordered_factor_from_one_hash_pass():
    col = pd.Series(["b", "A", "a", None, "B", "a"], dtype=object)
    got = settle(col, "f", as_factor=True)
    assert list(got.cat.categories) == ["a", "A", "b", "B"]  # R's collation
    assert got.isna().tolist() == [False, False, False, True, False, False]
    ids = settle(pd.Series(["10", "9", "100", "9"]), "g", ids=True, as_factor=True)
    assert list(ids.cat.categories) == ["9", "10", "100"]  # integer ids: numeric order


@pytest.mark.parametrize("chunks", [[], ["--chunk-rows", "70"]])
def test_command_line_na_declares_the_codes(capsys, tmp_path, chunks):
    import json

    from multilevel.cli import main

    df = _data()
    expected = _fit(df.drop(index=[4, 200]))
    coded = df.astype({"x": object})
    coded.loc[4, "x"] = "."
    coded.loc[200, "y"] = -999
    coded.to_csv(tmp_path / "d.csv", index=False)
    assert main(["fit", str(tmp_path / "d.csv"), FORMULA, "--json", *chunks]) == 2
    assert "--na ." in capsys.readouterr().err
    args = ["fit", str(tmp_path / "d.csv"), FORMULA, "--na", ".", "--na", "-999", "--json"]
    assert main(args + chunks) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_obs"] == len(df) - 2
    assert out["loglik"] == pytest.approx(expected.loglik, abs=1e-8)


def test_an_outcome_that_is_the_grouping_column_is_named():
    """lme4 fits g ~ x + (1 | g) to sigma = 1e-7 without a warning; we say why instead of
    reporting a numerically singular system."""
    df = _data().assign(g=np.repeat(np.arange(1, 31), 10))
    with pytest.raises(DataError, match=r"outcome 'g' is also the grouping factor of '\(1 \| g\)'"):
        multilevel.fit("g ~ x + (1 | g)", df)
