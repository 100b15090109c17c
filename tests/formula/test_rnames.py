"""Column names as lme4 prints them (R deparse spacing)."""

from __future__ import annotations

import pytest

from multilevel.formula.rnames import lme4_name, r_deparse


@pytest.mark.parametrize(
    ("python", "r"),
    [
        ("I(w / 2 - 1)", "I(w/2 - 1)"),
        ("exp(w / 3)", "exp(w/3)"),
        ("I((w - 1) ** 2)", "I((w - 1)^2)"),
        ("log(w + 1)", "log(w + 1)"),
        ("I(-x ** 2)", "I(-x^2)"),
        ("I(a - (b - c))", "I(a - (b - c))"),
        ("I(a * b + c)", "I(a * b + c)"),
        ("I((a + b) * c)", "I((a + b) * c)"),
        ("poly(k, degree=2)", "poly(k, degree = 2)"),
        ("I(x == 2)", "I(x == 2)"),
    ],
)
def test_r_deparse(python, r):
    assert r_deparse(python) == r


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("exp(w / 3):sex[T.m]", "exp(w/3):sexm"),
        ("sex[m]:w", "sexm:w"),
        ("poly(k, 2)[1]", "poly(k, 2)1"),
        ("factor(k)[T.2]", "factor(k)2"),
    ],
)
def test_interactions_and_levels(raw, name):
    assert lme4_name(raw) == name
