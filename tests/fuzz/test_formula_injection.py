"""Formula injection: nothing in a formula may run code (issue 6, item 1).

Each payload tries to create a marker file. It goes through the API (fixed part, random part,
grouping factor, outcome), the CLI (``fit`` and ``ladder``) and the level-equation parser
(``multilevel.levels``). It must be rejected with :class:`UnsafeFormulaError` (or, when it is
not code at all but a name, with another of our errors) and the marker must not exist.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.cli import main
from multilevel.errors import MultilevelError, UnsafeFormulaError
from multilevel.formula.safety import check_expression

M = "MARKER"  # replaced by the marker file's path

#: Payloads that are Python code: must raise UnsafeFormulaError.
CODE = [
    "I(__import__('os').system('touch MARKER'))",
    "I(open('MARKER', 'w'))",
    "I(eval(\"open('MARKER', 'w')\"))",
    "I(exec(\"open('MARKER', 'w')\"))",
    "I(getattr(__builtins__, 'open')('MARKER', 'w'))",
    "I(globals()['__builtins__'])",
    "I(vars())",
    "I(compile('1', 'f', 'eval'))",
    "I((lambda: open('MARKER', 'w'))())",
    "I([c for c in ().__class__.__base__.__subclasses__()])",
    "I(x.__class__.__mro__)",
    "I(np.lib.npyio.open('MARKER', 'w'))",
    "{open('MARKER', 'w')}",
    "{__import__('os').system('touch MARKER')}",
    "log({open('MARKER', 'w')})",
    "C(x, __import__('os').system('touch MARKER'))",
    "center(x, open('MARKER', 'w'))",
    "round(x, decimals=open('MARKER', 'w'))",
    "I(ｏｐｅｎ('MARKER', 'w'))",  # fullwidth: NFKC makes it 'open'
    "I(__ｉｍｐｏｒｔ__('os').system('touch MARKER'))",
    "I((f := open('MARKER', 'w')))",
    "I(f\"{open('MARKER', 'w')}\")",
    "I(x if open('MARKER', 'w') else x)",
    "I(breakpoint())",
    "I(help())",
    "I(input())",
    "I(x[open('MARKER', 'w')])",
    "I(__builtins__)",
    "I(_)",
]
#: Not code, only odd names: any of our errors will do.
NAMES = ["x.__class__", "__class__", "(lambda: 1)()", "`__import__('os')`"]


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"y": rng.normal(size=24), "x": rng.normal(size=24), "g": np.repeat(list("abcd"), 6)}
    )


def _formulas(payload: str) -> list[str]:
    """The payload in every place of an lme4 formula."""
    return [
        f"y ~ x + {payload} + (1 | g)",
        f"y ~ x + ({payload} | g)",
        f"y ~ x + (1 + x || g) + (0 + {payload} | g)",
        f"{payload} ~ x + (1 | g)",
        f"y ~ x * {payload} + (1 | g)",
    ]


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "a formula ran code"


@pytest.mark.parametrize("payload", CODE)
def test_code_is_rejected_by_fit(payload, marker):
    for formula in _formulas(payload.replace(M, str(marker))):
        with pytest.raises(UnsafeFormulaError):
            multilevel.fit(formula, _data())


@pytest.mark.parametrize("payload", CODE)
def test_code_is_rejected_by_check_expression(payload, marker):
    if payload.startswith("{") or "{open" in payload:  # a formulaic python block, not Python
        payload = payload.replace("{", "(").replace("}", ")")
    with pytest.raises(UnsafeFormulaError):
        check_expression(payload.replace(M, str(marker)))


@pytest.mark.parametrize("payload", NAMES)
def test_names_are_not_evaluated(payload, marker):
    for formula in _formulas(payload):
        with pytest.raises(MultilevelError):
            multilevel.fit(formula, _data())


def test_grouping_factor_is_a_name_only(marker):
    for group in ["__import__('os').system('touch MARKER')", "g.__class__", "open('MARKER')"]:
        with pytest.raises(MultilevelError):
            multilevel.fit(f"y ~ x + (1 | {group.replace(M, str(marker))})", _data())


def test_bare_call_chain(marker):
    payload = f"__import__('os').system('touch {marker}')"
    with pytest.raises(UnsafeFormulaError):
        multilevel.fit(f"y ~ x + {payload} + (1 | g)", _data())


def test_deep_nesting_of_plain_parentheses():
    deep = "(" * 3000 + "x" + ")" * 3000
    fit = multilevel.fit(f"y ~ {deep} + (1 | g)", _data(), warn=False)
    assert fit.fixed_names == ("(Intercept)", "x")


def test_deep_nesting_inside_a_call():
    deep = "(" * 300 + "x" + ")" * 300
    with pytest.raises(MultilevelError):
        multilevel.fit(f"y ~ I({deep}) + (1 | g)", _data())


# ------------------------------------------------------------- resource exhaustion
BOMBS = ["10**10**10", "9**9**9", "'a' * 10**10", "[1] * 10**10", "10^10^10"]


@pytest.mark.parametrize("expr", BOMBS)
def test_constant_bombs_are_rejected_statically(expr):
    from multilevel.formula.safety import r_to_python

    with pytest.raises(UnsafeFormulaError):
        check_expression(r_to_python(f"I({expr})"))


@pytest.mark.parametrize(
    ("formula", "error"),
    [
        ("y ~ I(10**10**10) + (1 | g)", "UnsafeFormulaError"),
        ("y ~ I(x*(((1000**1000)**1000)**1000)) + (1 | g)", "UnsafeFormulaError"),
        ("y ~ poly(x, 10**7) + (1 | g)", "UnsafeFormulaError"),
        ("y ~ (x + y + g + w + v + u + t + s)^1000 + (1 | g)", "FormulaError"),
    ],
)
def test_power_bomb_returns_quickly(tmp_path, formula, error):
    """Refused before any work: the fit's CPU time (not the import, slow on a loaded machine) is
    under a second; the subprocess timeout only guards against a hang."""
    code = (
        "import time, numpy as np, pandas as pd, multilevel\n"
        f"from multilevel.errors import {error}\n"
        "d = pd.DataFrame({'y': np.arange(12.) % 5, 'x': np.arange(12.), 'g': list('ab') * 6})\n"
        "fit = multilevel.fit  # imported on first use: the import is not timed\n"
        "t = time.process_time()\n"
        f"try:\n    fit({formula!r}, d)\n"
        f"except {error}:\n    raise SystemExit(0 if time.process_time() - t < 1 else 2)\n"
        "raise SystemExit(1)\n"
    )
    try:
        src = str(Path(multilevel.__file__).parents[1])  # the package under test, not another
        env = {**os.environ, "PYTHONPATH": src}
        res = subprocess.run([sys.executable, "-c", code], timeout=120, cwd=tmp_path, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("fit() did not return within 120 s")
    assert res.returncode == 0


# ------------------------------------------------------------- CLI
def _cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, err.getvalue()


@pytest.mark.parametrize("payload", CODE[:6] + CODE[12:14] + CODE[18:20])
def test_code_is_rejected_by_cli_fit(payload, marker, tmp_path):
    path = tmp_path / "d.csv"
    _data().to_csv(path, index=False)
    for formula in _formulas(payload.replace(M, str(marker))):
        rc, err = _cli(["fit", str(path), formula])
        assert rc == 2 and err.startswith("error: ") and "allowed" in err


@pytest.mark.parametrize(
    "option",
    [
        "--group",
        "--level1",
        "--outcome",
    ],
)
def test_code_is_rejected_by_cli_ladder(option, marker, tmp_path):
    path = tmp_path / "d.csv"
    _data().to_csv(path, index=False)
    payload = f"I(__import__('os').system('touch {marker}'))"
    args = {"--outcome": "y", "--group": "g", option: payload}
    rc, err = _cli(["ladder", str(path), *[a for kv in args.items() for a in kv]])
    assert rc == 2 and err.startswith("error: ")


# ------------------------------------------------------------- level equations
def _levels_texts(payload: str) -> list[str]:
    return [
        f"Level 1: y = b0 + b1*{payload} + r\nLevel 2: b0 = g00 + u0\nb1 = g10",
        f"Level 1: y = b0 + b1*x + r\nLevel 2: b0 = g00 + g01*{payload} + u0\nb1 = g10",
        f"Level 1: {payload} = b0 + r\nLevel 2: b0 = g00 + u0",
    ]


@pytest.mark.parametrize("payload", [p for p in CODE if not p.startswith("{")])
def test_code_is_rejected_by_level_equations(payload, marker):
    levels = pytest.importorskip("multilevel.levels")
    # a payload with '=' breaks the equation itself: a FormulaError before any expression
    expected = MultilevelError if "=" in payload else UnsafeFormulaError
    for text in _levels_texts(payload.replace(M, str(marker))):
        with pytest.raises(expected):
            levels.fit_levels(text, _data(), group="g")


def test_bare_call_chain_in_level_equations(marker):
    from multilevel.levels import fit_levels

    payload = f"__import__('os').system('touch {marker}')"
    with pytest.raises(MultilevelError):
        fit_levels(
            f"Level 1: y = b0 + b1*{payload} + r\nLevel 2: b0 = g00 + u0\nb1 = g10",
            _data(),
            group="g",
        )


def test_group_argument_of_level_equations(marker):
    from multilevel.levels import fit_levels

    with pytest.raises(MultilevelError):
        fit_levels(
            "Level 1: y = b0 + r\nLevel 2: b0 = g00 + u0",
            _data(),
            group=f"__import__('os').system('touch {marker}')",
        )
