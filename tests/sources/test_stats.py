"""Chunked statistics equal the in-memory cross-products, whatever the chunking or merge order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from multilevel.design.fixed import aliased_columns
from multilevel.design.model import build_design
from multilevel.errors import DataError, MultilevelError
from multilevel.formula.parse import parse_formula
from multilevel.objective import cross_products
from multilevel.sources.chunks import as_source, iter_chunks
from multilevel.sources.encoding import check_supported, learn_encoding
from multilevel.sources.stats import (
    cross_products_of,
    empty_stats,
    merge,
    partial_stats,
)
from sources.conftest import MULTI_FORMULAS, NA_CODES  # noqa: E402

FORMULAS = [
    "y ~ x + f + (1 + x | g)",
    "y ~ x * f + z + (1 | g) + (0 + x | g)",
    "y ~ 1 + (1 | g)",
    "y ~ I(x**2) + log(abs(z)) + (1 + z | g)",
]


def chunked(formula, data, chunk_rows, **kw):
    enc = learn_encoding(parse_formula(formula), as_source(data), chunk_rows, **kw)
    total = empty_stats(enc)
    for chunk in iter_chunks(as_source(data), list(enc.columns), chunk_rows):
        total = merge(total, partial_stats(chunk, enc))
    xp, layout, _ = cross_products_of(total, enc)
    return xp, layout


def group_levels(layout):
    return layout.levels[layout.terms[0].name]


def assert_same(xp, ref):
    assert (xp.n, xp.p, xp.G, xp.Q) == (ref.n, ref.p, ref.G, ref.Q)
    for name in ("A", "B", "C"):
        a, b = getattr(xp, name), getattr(ref, name)
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) <= 1e-12 * np.max(np.abs(b))
    assert xp.yy == pytest.approx(ref.yy, rel=1e-12)
    np.testing.assert_array_equal(xp.first_map.rows, ref.first_map.rows)
    np.testing.assert_array_equal(xp.first_map.cols, ref.first_map.cols)
    np.testing.assert_array_equal(xp.first_theta, ref.first_theta)


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("chunk_rows", [250, 10_000])
def test_statistics_equal_in_memory_cross_products(formula, chunk_rows, frame):
    xp, tot = chunked(formula, frame, chunk_rows)
    design = build_design(formula, frame)
    assert_same(xp, cross_products(design))
    assert tot.fixed_names == design.fixed.names
    assert group_levels(tot) == design.terms[0].levels
    assert tot.n_dropped == design.frame.n_dropped
    assert tot.dropped_by == design.frame.dropped_by
    assert tot.warnings == design.warnings


def test_level_seen_only_in_later_chunks_is_encoded(frame):
    # 'd' first occurs after row 2600; the sample the encoding is learned on has none
    assert "d" not in set(frame["f"].iloc[:2000].dropna())
    xp, tot = chunked("y ~ x + f + (1 | g)", frame, 300)
    assert "fd" in tot.fixed_names
    assert_same(xp, cross_products(build_design("y ~ x + f + (1 | g)", frame)))


def test_partials_merge_in_any_order(frame):
    enc = learn_encoding(parse_formula(FORMULAS[0]), as_source(frame), 1000)
    rng = np.random.default_rng(3)
    shuffled = frame.iloc[rng.permutation(len(frame))]
    parts = [shuffled.iloc[idx] for idx in np.array_split(np.arange(len(frame)), 7)]
    stats = [partial_stats(p, enc) for p in parts]
    forward = empty_stats(enc)
    for s in stats:
        forward = merge(forward, s)
    # a tree: pairs, then pairs of pairs
    level = stats
    while len(level) > 1:
        level = [
            merge(*level[i : i + 2]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
    xp1, _, _ = cross_products_of(forward, enc)
    xp2, _, _ = cross_products_of(level[0], enc)
    assert_same(xp1, xp2)
    assert_same(xp1, cross_products(build_design(FORMULAS[0], frame)))
    assert forward.n_input == len(frame)


def test_aliased_columns_are_dropped_as_in_memory(frame):
    df = frame.assign(x2=2.0 * frame["x"] - 1.0)
    formula = "y ~ x + x2 + z + (1 | g)"
    xp, tot = chunked(formula, df, 700)
    design = build_design(formula, df)
    assert design.fixed.dropped == ("x2",)
    assert tot.fixed_names == design.fixed.names
    assert tot.warnings == design.warnings
    assert_same(xp, cross_products(design))


def test_aliased_from_crossprod_matches_qr():
    """The rank check from X'X alone (a fit from chunks) drops what the QR of X drops."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    X = np.column_stack([X[:, 0], X[:, 1], X[:, 0] + X[:, 1], X[:, 2], 3 * X[:, 3]])
    assert aliased_columns(None, XtX=X.T @ X) == aliased_columns(X) == [2]


def test_stateful_transforms_are_rejected():
    with pytest.raises(MultilevelError, match="center"):
        check_supported(parse_formula("y ~ center(x) + (1 | g)"))
    for formula in ["y ~ x + (1 | a) + (1 | b)", "y ~ (1 | a/b)", "y ~ (1 | a:b)"]:
        check_supported(parse_formula(formula))  # any random part


def test_declared_levels_must_cover_the_data(frame):
    with pytest.raises(DataError, match="not among its levels"):
        chunked("y ~ x + f + (1 | g)", frame, 1000, categories={"f": ["a", "b", "c"]})


def test_declared_group_levels_set_the_order(frame):
    levels = sorted(frame["g"].dropna().unique(), reverse=True)
    xp, tot = chunked("y ~ x + (1 | g)", frame, 1000, group_levels=levels)
    ref = cross_products(build_design("y ~ x + (1 | g)", frame))
    assert group_levels(tot) == tuple(levels)
    np.testing.assert_allclose(xp.A[..., ::-1], ref.A, rtol=1e-12)


def test_infinite_values_are_errors(frame):
    df = frame.copy()
    df.loc[100, "x"] = np.inf
    with pytest.raises(DataError, match="infinite"):
        chunked("y ~ x + (1 | g)", df, 1000)


def test_integer_groups_match_factor_order():
    rng = np.random.default_rng(5)
    g = rng.choice([3, 1000, 7, 12, -4], 400)
    df = pd.DataFrame({"g": g, "x": rng.normal(size=400)})
    df["y"] = df["x"] + rng.normal(size=400) + g / 1000
    xp, tot = chunked("y ~ x + (1 | g)", df, 64)
    design = build_design("y ~ x + (1 | g)", df)
    assert group_levels(tot) == design.terms[0].levels == ("-4", "3", "7", "12", "1000")
    assert_same(xp, cross_products(design))


def test_model_frame_as_r_builds_it():
    """Text in R's collation (case-insensitive), logicals as FALSE/TRUE, categorical order kept,
    an outcome expression, text group labels in R's order."""
    rng = np.random.default_rng(11)
    n = 600
    df = pd.DataFrame(
        {
            "g": rng.choice(["b", "A", "a", "C", "c2", "B"], n),
            "t": rng.choice(["beta", "Alpha", "alpha", "Gamma"], n),
            "flag": rng.random(n) < 0.3,
            "o": pd.Categorical(rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi"]),
            "x": rng.normal(size=n),
        }
    )
    df["y"] = np.exp(1 + 0.2 * df["x"] + rng.normal(scale=0.3, size=n))
    formula = "log(y) ~ x + t + flag + o + (1 | g)"
    xp, tot = chunked(formula, df, 128)
    design = build_design(formula, df)
    assert tot.fixed_names == design.fixed.names
    assert "flagTRUE" in tot.fixed_names and "ohi" in tot.fixed_names
    assert group_levels(tot) == design.terms[0].levels
    assert_same(xp, cross_products(design))


@pytest.mark.parametrize("model", list(MULTI_FORMULAS))
def test_several_grouping_factors_give_the_in_memory_cross_products(model, multi):
    """Per-factor blocks and sparse cross-factor sums, merged over chunks in any order, give
    the in-memory first block, Z_1'Z_rest, Z_rest'Z_rest and Z_rest'[X y] entry by entry."""
    formula = MULTI_FORMULAS[model]
    enc = learn_encoding(parse_formula(formula), as_source(multi), 600)
    rng = np.random.default_rng(8)
    parts = np.array_split(rng.permutation(len(multi)), 5)
    total = empty_stats(enc)
    for idx in parts[::-1]:
        total = merge(total, partial_stats(multi.iloc[idx], enc))
    xp, layout, _ = cross_products_of(total, enc)
    design = build_design(formula, multi)
    ref = cross_products(design)
    assert_same(xp, ref)
    assert layout.theta_names() == design.layout.theta_names()
    assert layout.levels == design.layout.levels
    assert xp.n_rest == ref.n_rest
    for name in ("B_rest", "C_rr", "C_rw"):
        a, b = getattr(xp, name), getattr(ref, name)
        a = a.toarray() if hasattr(a, "toarray") else a
        b = b.toarray() if hasattr(b, "toarray") else b
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)
    for got, want in zip(xp.rest_map, ref.rest_map, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("model", list(MULTI_FORMULAS))
def test_weights_offset_contrasts_and_codes_give_the_in_memory_deviance(model, extras):
    """Weighted cross-products of y - offset, with sum coding and missing-value codes, from
    53-row chunks: the profiled deviance at a fixed theta (plus 1/2 sum log w) equals the
    in-memory one to 1e-12, REML and ML, and the rows dropped are those dropped in memory."""
    from multilevel.design.weights import log_weight_sum, working_design
    from multilevel.objective.deviance import ProfiledDeviance

    formula = MULTI_FORMULAS[model].replace("y ~ x", "y ~ x * f")
    kw = dict(weights="w", offset="o", contrasts={"f": "sum"}, na_values=NA_CODES)
    source = as_source(extras, na_values=NA_CODES)
    enc = learn_encoding(parse_formula(formula), source, 53, **kw)
    total = empty_stats(enc)
    for chunk in iter_chunks(source, list(enc.columns), 53):
        total = merge(total, partial_stats(chunk, enc))
    xp, layout, _ = cross_products_of(total, enc)
    design = build_design(formula, extras, kw["contrasts"], kw["weights"], kw["offset"], NA_CODES)
    ref = cross_products(working_design(design))
    assert layout.fixed_names == design.fixed.names and "f1" in layout.fixed_names
    assert (layout.n_obs, layout.dropped_by) == (design.n, design.frame.dropped_by)
    assert total.log_w == pytest.approx(log_weight_sum(design), rel=1e-13)
    theta = 0.5 + 0.1 * np.arange(len(layout.theta_names()))
    for reml in (True, False):
        got = ProfiledDeviance(xp, reml=reml)(theta)
        want = ProfiledDeviance(ref, reml=reml)(theta)
        assert got == pytest.approx(want, rel=1e-12)
