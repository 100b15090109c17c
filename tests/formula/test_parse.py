"""lme4 formula syntax: fixed part, random terms and lme4's expansions of / and ||."""

from __future__ import annotations

import pytest

from multilevel.errors import FormulaError
from multilevel.formula import parse_formula


def test_fixed_and_random_split():
    spec = parse_formula("mathach ~ cses * meanses + (1 + cses | school)")
    assert spec.response == "mathach"
    assert spec.fixed == "cses * meanses"
    assert [(r.expr, r.factors) for r in spec.random] == [("1 + cses", ("school",))]


@pytest.mark.parametrize(
    ("formula", "fixed"),
    [
        ("y ~ (1 | g)", "1"),
        ("y ~ 0 + x + (1 | g)", "0 + x"),
        ("y ~ x - 1 + (1 | g)", "x - 1"),
        ("y ~ -1 + x + (1 | g)", "x - 1"),
        ("y ~ I(x^2) + log(z) + (1 | g)", "I(x^2) + log(z)"),
    ],
)
def test_fixed_part(formula, fixed):
    assert parse_formula(formula).fixed == fixed


def test_double_bar_expands_to_uncorrelated_terms():
    spec = parse_formula("y ~ x + (1 + x + z || g)")
    assert [r.expr for r in spec.random] == ["1", "0 + x", "0 + z"]
    spec = parse_formula("y ~ x + (x || g)")  # intercept implied, as in lme4
    assert [r.expr for r in spec.random] == ["1", "0 + x"]
    spec = parse_formula("y ~ x + (0 + x || g)")
    assert [r.expr for r in spec.random] == ["0 + x"]


def test_nested_slash_expands_as_lme4():
    spec = parse_formula("strength ~ 1 + (1 | batch/cask)")
    assert [r.group_name for r in spec.random] == ["batch", "cask:batch"]
    spec = parse_formula("y ~ 1 + (1 | a/b/c)")
    assert [r.group_name for r in spec.random] == ["a", "b:a", "c:b:a"]


def test_interaction_grouping():
    spec = parse_formula("y ~ 1 + (1 | batch:cask) + (1 | batch)")
    assert [r.factors for r in spec.random] == [("batch", "cask"), ("batch",)]


@pytest.mark.parametrize(
    ("formula", "fragment"),
    [
        ("", "empty"),
        ("y x + (1|g)", "'~'"),
        ("y ~ x + (1 | )", "no grouping factor"),
        ("y ~ x + ( | g)", "nothing before '|'"),
        ("y ~ x + (1 | g", "unbalanced"),
        ("y ~ x + (1 | g + h)", "not a column name"),
        ("y ~ x + 1 | g", "outside a parenthesised"),
        ("y ~ x + - (1 | g)", "cannot be subtracted"),
        ("~ x + (1 | g)", "no outcome"),
    ],
)
def test_errors_name_the_problem(formula, fragment):
    with pytest.raises(FormulaError, match=None) as exc:
        parse_formula(formula)
    assert fragment in str(exc.value)


def test_formula_power_clamped_to_the_number_of_names():
    """R's (a + b + c)^1000 is (a + b + c)^3; formulaic would expand 1000 powers (hours)."""
    spec = parse_formula("y ~ (a + b + c)^1000 + (1 + (x + z)**50 | g)")
    assert spec.fixed == "(a + b + c)^3"
    assert spec.random[0].expr == "1 + (x + z)**2"
    assert parse_formula("y ~ I(x^5) + (a + b)^2").fixed == "I(x^5) + (a + b)^2"


def test_formula_power_too_large_to_expand_refused():
    with pytest.raises(FormulaError, match="interacts 8 names up to order 8"):
        parse_formula("y ~ (a + b + c + d + e + f + h + k)^8")


def test_fitted_power_gives_all_interactions():
    import numpy as np
    import pandas as pd

    import multilevel

    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(40, 4)), columns=["y", "a", "b", "c"])
    df["g"] = np.repeat(list("abcdefgh"), 5)
    fit = multilevel.fit("y ~ (a + b + c)^1000 + (1 | g)", df, warn=False)
    assert fit.fixed_names == multilevel.fit("y ~ a * b * c + (1 | g)", df, warn=False).fixed_names
