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
