"""Formula expressions are arithmetic only: nothing else is evaluated."""

from __future__ import annotations

import pandas as pd
import pytest

import multilevel
from multilevel.errors import UnsafeFormulaError
from multilevel.formula.safety import check_expression


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('echo hacked')",
        "x.__class__",
        "open('/etc/passwd')",
        "eval('1')",
        "(lambda: 1)()",
        "[c for c in x]",
        "x[0]",
        "np.log(x)",
        "_private",
    ],
)
def test_rejected(expr):
    with pytest.raises(UnsafeFormulaError):
        check_expression(expr)


@pytest.mark.parametrize(
    "expr", ["I(x ** 2)", "log(x + 1)", "C(g)", "sqrt(abs(x)) * 2", "center(x)"]
)
def test_allowed(expr):
    check_expression(expr)


def test_injection_through_fit_is_rejected_before_evaluation(tmp_path):
    marker = tmp_path / "pwned"
    data = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "x": [1.0, 2, 3, 4, 5, 6], "g": list("aabbcc")})
    formula = f"y ~ I(__import__('os').system('touch {marker}')) + (1 | g)"
    with pytest.raises(UnsafeFormulaError):
        multilevel.fit(formula, data)
    assert not marker.exists()


@pytest.mark.parametrize(
    "expr",
    [
        "I(x*(((1000**1000)**1000)**1000))",  # each exponent <= 1000, the value 2^(1e10)
        "I(x * (2**1000)**3)",
        "I(x + (9**999) * (9**999) * (9**999))",
        "I(x * (1 + 1)**(999 + 999))",
    ],
)
def test_large_constant_subexpressions_refused(expr):
    """Issue 11 item 6: the size of every constant subexpression is bounded (not only each
    exponent), so no exact-integer computation that Ctrl-C cannot stop is started."""
    with pytest.raises(UnsafeFormulaError, match="constant .* may reach 2\\^2048"):
        check_expression(expr)


@pytest.mark.parametrize(
    "expr", ["I(x * 2**1000)", "I(x / 10**300)", "I(x * 10**300 * 10**300)", "exp(700) * x"]
)
def test_constants_within_double_range_allowed(expr):
    check_expression(expr)


@pytest.mark.parametrize("expr", ["poly(x, 10**6)", "poly(x, degree=500)", "bs(x, df=1000)"])
def test_basis_transforms_bounded(expr):
    with pytest.raises(UnsafeFormulaError, match="at most 100 are allowed"):
        check_expression(expr)


def test_constant_bomb_through_fit_refused_at_once():
    data = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "x": [1.0, 2, 3, 4, 5, 6], "g": list("aabbcc")})
    with pytest.raises(UnsafeFormulaError, match="1000 \\*\\* 1000"):
        multilevel.fit("y ~ I(x*(((1000**1000)**1000)**1000)) + (1 | g)", data)
