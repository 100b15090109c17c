"""Group coding: R's factor order of the levels for every type of id, in memory and in chunks
(one function, multilevel.design.groups), against lme4's level names and fits."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.design.groups import group_codes, group_values, level_labels, level_order

HERE = Path(__file__).parent / "groups_reference"
REFERENCE = json.loads((HERE / "groups.json").read_text(encoding="utf-8"))["fits"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """read.csv's types: integer, double, text, logical ids; a (text) and b (integer)."""
    df = pd.read_csv(HERE / "groups.csv", encoding="utf-8")
    assert [str(df[c].dtype) for c in ("g_int", "g_float", "g_bool", "b")] == [
        "int64",
        "float64",
        "bool",
        "int64",
    ]
    return df


def _fit(formula: str, df: pd.DataFrame, chunk_rows: int | None) -> multilevel.LmmFit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the last model is singular, as in lme4
        return multilevel.fit(formula, df, chunk_rows=chunk_rows, warn=False)


@pytest.mark.parametrize("ref", REFERENCE, ids=[r["formula"] for r in REFERENCE])
def test_levels_in_lme4s_order_in_memory_and_in_chunks(ref, data):
    memory = _fit(ref["formula"], data, None)
    chunked = _fit(ref["formula"], data, 50)  # 5 chunks: levels met in a different order
    for fit in (memory, chunked):
        got = {name: list(levels) for name, levels in fit.layout.levels.items()}
        assert got == ref["levels"]
        assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-8)
        np.testing.assert_allclose(fit.beta, ref["beta"], rtol=1e-6)
    assert chunked.loglik == pytest.approx(memory.loglik, rel=1e-10)
    np.testing.assert_allclose(chunked.beta, memory.beta, rtol=1e-8)
    np.testing.assert_allclose(chunked.theta, memory.theta, rtol=1e-8, atol=1e-8)
    for name, modes in memory.modes.items():
        np.testing.assert_allclose(chunked.modes[name].b, modes.b, rtol=1e-6, atol=1e-8)


def _check_codes(codes, values, columns):
    """Every row's code points at its own value(s); codes run 0..G-1, each level used."""
    G = values.shape[0]
    assert codes.min() == 0 and codes.max() == G - 1
    assert np.all(np.bincount(codes.astype(np.int64), minlength=G) > 0)
    got = values[codes] if values.ndim == 1 else values[codes.astype(np.int64)]
    if values.ndim == 1:
        np.testing.assert_array_equal(got, columns[0])
    else:
        for j, col in enumerate(columns):
            np.testing.assert_array_equal(got[:, j], col)


@pytest.mark.parametrize(
    "values",
    [
        np.array([30, -7, 12, 30, 5, -7]),  # integers in a compact range: coded by offset
        np.array([10**15, 3, -(10**14), 3, 77]),  # far apart: hashed, then sorted
        np.array([2.5, -1.0, 0.25, 2.5, 10.0]),
        np.array([True, False, True]),
    ],
)
def test_numbers_and_logicals_in_numeric_order(values):
    df = pd.DataFrame({"g": values})
    codes, uniq = group_values(df, ["g"])
    np.testing.assert_array_equal(uniq, np.unique(values))  # sorted, as R's factor
    _check_codes(codes, uniq, [values])
    raw_codes, raw = group_values(df, ["g"], ordered=False)  # a chunk: any order, same groups
    _check_codes(raw_codes, raw, [values])
    np.testing.assert_array_equal(raw[level_order(raw)], uniq)


def test_text_in_rs_collation_and_logicals_labelled_as_r():
    # R 4.2.2 (ICU): levels(factor(c("x-1", "x_1", "x.1", "x1", "B", "b", "_")))
    # [1] "_"   "b"   "B"   "x_1" "x-1" "x.1" "x1"
    text = np.array(["x-1", "x_1", "x.1", "x1", "B", "b", "_", "x1"], dtype=object)
    codes, values = group_codes(pd.DataFrame({"g": text}), ["g"])
    assert values == ("_", "b", "B", "x_1", "x-1", "x.1", "x1")
    np.testing.assert_array_equal(np.array(values, dtype=object)[codes], text)
    assert group_codes(pd.DataFrame({"g": [True, False]}), ["g"])[1] == ("FALSE", "TRUE")
    assert level_labels(np.array([1.0, 2.5, -3.0])) == ("1", "2.5", "-3")


def test_categorical_keeps_its_order_and_codes_and_drops_unused_levels():
    cat = pd.Categorical(["lo", "hi", "mid", "hi"], categories=["lo", "mid", "hi"])
    codes, values = group_values(pd.DataFrame({"g": cat}), ["g"])
    assert list(values) == ["lo", "mid", "hi"]
    assert codes.dtype == np.int8 and codes.tolist() == [0, 2, 1, 2]  # its own codes
    unused = pd.Categorical(["hi", "lo", "hi"], categories=["lo", "mid", "hi"])
    codes, values = group_values(pd.DataFrame({"g": unused}), ["g"])
    assert list(values) == ["lo", "hi"] and codes.tolist() == [1, 0, 1]


@pytest.mark.parametrize("far", [False, True])
def test_interaction_ordered_by_first_factor_then_second(far):
    rng = np.random.default_rng(3)
    a = rng.choice(np.array(["v", "W", "u"], dtype=object), 400)
    b = rng.choice([20, 5, 15] if not far else [20 * 10**12, 5, 15 * 10**12], 400)
    df = pd.DataFrame({"a": a, "b": b})
    codes, values = group_values(df, ["a", "b"])
    _check_codes(codes, values, [a, b])
    # R: levels(factor(a:b)) with a's levels u, v, W and b's numeric order
    expect = [(x, y) for x in ["u", "v", "W"] for y in sorted(set(b))]
    assert [tuple(v) for v in values] == expect
    raw_codes, raw = group_values(df, ["a", "b"], ordered=False)
    _check_codes(raw_codes, raw, [a, b])
    assert [tuple(v) for v in raw[level_order(raw)]] == expect


@pytest.mark.parametrize("chunk_rows", [None, 50])
@pytest.mark.parametrize("ref", REFERENCE, ids=[r["formula"] for r in REFERENCE])
def test_ids_read_from_a_csv_as_text_keep_lme4s_order(ref, chunk_rows):
    """Group ids read from the file as text (``007`` and ``7`` stay apart) are ordered as R
    orders the column read.csv makes of them: numbers (written as R writes them) numerically."""
    fit = _fit(ref["formula"], str(HERE / "groups.csv"), chunk_rows)
    assert {name: list(levels) for name, levels in fit.layout.levels.items()} == ref["levels"]
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-8)
