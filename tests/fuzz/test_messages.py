"""Messages in plain words (issue 6, item 4): each warning or error says what happened, what it
means for the results, and what the user can do.

``assert_plain`` checks the three parts with a regular expression each (case-insensitive), plus
one line and the names at fault. Messages that lack a part are strict xfails whose reason says
what is missing, so the suite turns red (remove the mark) when the wording is improved.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import DataError
from multilevel.optimize.optimizer import check_convergence


def assert_plain(msg: str, *, what: list[str], means: str, do: str) -> None:
    """``what``: literal fragments that must appear (names, counts); ``means``, ``do``: regexes."""
    assert "\n" not in msg, "a message is one line"
    for fragment in what:
        assert fragment in msg, f"does not say {fragment!r}: {msg}"
    assert re.search(means, msg, re.I), f"does not say what it means ({means}): {msg}"
    assert re.search(do, msg, re.I), f"does not say what to do ({do}): {msg}"


def _data(n: int = 40, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"y": rng.normal(size=n), "x": rng.normal(size=n), "g": np.repeat(list("abcdefgh"), n // 8)}
    )


def _warnings_of(formula: str, data: pd.DataFrame) -> tuple[str, ...]:
    return multilevel.fit(formula, data, warn=False).warnings


def _message(messages, pattern: str) -> str:
    found = [m for m in messages if re.search(pattern, m, re.I)]
    assert found, f"no message matching {pattern!r} in {messages}"
    return found[0]


def _error(formula: str, data: pd.DataFrame) -> str:
    with pytest.raises(DataError) as info:
        multilevel.fit(formula, data)
    return str(info.value)


# ------------------------------------------------------------- warnings
def test_singular_fit():
    # y and x are pure noise: the between-group variance is estimated as exactly zero (lme4 too)
    msg = _message(_warnings_of("y ~ x + (1 | g)", _data()), "singular")
    assert_plain(
        msg,
        what=["g", "(Intercept)", "zero"],
        means=r"fits the data equally well|no evidence|cannot be distinguished",
        do=r"simpler|remove|drop|without it",
    )


def test_non_convergence():
    fit = multilevel.fit("y ~ x + (1 + x | g)", _data(), warn=False)
    k = len(fit.theta)
    opt = check_convergence(
        fit.optimization, np.full(k, 0.5), np.eye(k), np.asarray(fit.optimization.lower)
    )
    assert not opt.converged
    assert_plain(
        opt.notes[-1],
        what=["0.5"],
        means=r"may not be|not the maximum|unreliable|cannot be trusted",
        do=r"rescal|cent(er|re)|standardi|simpler|fewer random",
    )
    assert re.search(r"did not converge|not converged|failed to converge", opt.notes[-1], re.I)


def test_dropped_rows():
    data = _data()
    data.loc[:2, "x"] = np.nan
    msg = _message(_warnings_of("y ~ x + (1 | g)", data), "dropped")
    assert_plain(
        msg,
        what=["3 of 40 rows", "x"],
        means=r"37 (complete )?rows|fitted to|fit uses|remaining|at random",
        do=r"imput|fill|recod|check",
    )


def test_rank_deficient_fixed_effects():
    data = _data().assign(x2=lambda d: 2 * d.x)
    msg = _message(_warnings_of("y ~ x + x2 + (1 | g)", data), "rank deficient|dropping")
    assert_plain(
        msg,
        what=["x2"],
        means=r"cannot be (separated|estimated|distinguished)|same information|"
        r"not estimated|perfectly (collinear|correlated)",
        do=r"remove|drop .* from the formula|combine|keep one",
    )


# ------------------------------------------------------------- errors
def test_missing_column_suggests_the_close_name():
    msg = _error("y ~ X + (1 | g)", _data())
    assert_plain(msg, what=["'X'", "not in the data"], means=r"fixed part", do=r"did you mean 'x'")


def test_missing_column_lists_the_columns():
    msg = _error("y ~ sex + (1 | g)", _data())
    assert_plain(
        msg, what=["'sex'", "not in the data"], means=r"fixed part", do=r"columns: y, x, g"
    )


def test_one_level_grouping_factor():
    msg = _error("y ~ x + (1 | g)", _data().assign(g="a"))
    assert_plain(
        msg,
        what=["'g'", "1 level"],
        means=r"at least 2|needs .* groups",
        do=r"remove|drop|without the random|ordinary|regression|check",
    )


def test_too_many_random_effects():
    msg = _error("y ~ x + (1 + x + I(x^2) + I(x^3) + I(x^4) + I(x^5) | g)", _data())
    assert_plain(
        msg,
        what=["48 random effects", "8 groups x 6", "40 observations"],
        means=r"unidentifiable|cannot be (separated|estimated)",
        do=r"simpler random part, e\.g\. \(1 \| g\)",
    )


# ------------------------------------------------------------- delivery
def test_warnings_are_fit_warnings_and_recorded():
    data = _data()
    data.loc[:2, "x"] = np.nan
    with pytest.warns(multilevel.FitWarning) as caught:
        fit = multilevel.fit("y ~ x + (1 | g)", data)
    assert [str(w.message) for w in caught] == list(fit.warnings)
    assert fit.to_dict()["warnings"] == list(fit.warnings)
    assert any("singular" in m for m in fit.warnings) and fit.is_singular


def test_warning_points_at_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        multilevel.fit("y ~ x + (1 | g)", _data())
    assert caught and all(w.filename == __file__ for w in caught), [w.filename for w in caught]
