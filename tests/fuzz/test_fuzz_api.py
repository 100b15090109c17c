"""Fuzzing ``multilevel.fit``: every input ends in a fit or in one of our own errors.

The invariants (issue 6, item 2): no exception other than a ``MultilevelError`` subclass; no
warning other than ``FitWarning`` (numpy's RuntimeWarnings must not leak: the checks run with
warnings turned into errors); a returned fit has finite loglik, beta and sigma unless it is
flagged (not converged, or carrying warnings), and serialises to strict JSON.

The ordinary space must be clean. The extreme space (magnitudes near the ends of the double
range, the outcome among the predictors, string constants) still finds bugs: its test is a strict
xfail, and each bug class it finds has a minimal regression test below, also a strict xfail, so
the suite stays green and turns red as soon as a fix lands (remove the mark then).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, example, given, reject, settings

import multilevel
from fuzz.strategies import KNOWN_BUGS, formulas, frames
from multilevel.errors import DataError, FormulaError, MultilevelError

FitWarning = multilevel.FitWarning

ORDINARY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# known failures: find one, do not shrink (shrinking refits hundreds of times)
EXTREME = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)


def _base(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"y": rng.normal(size=n), "x": rng.normal(size=n), "g": np.repeat(list("abcdefgh"), n // 8)}
    )


def fit_or_error(formula, data, known_bugs: bool = False, **kwargs):
    """Fit; our own errors return None, anything else propagates; no warning but FitWarning.

    Warnings are recorded rather than turned into errors: with ``simplefilter("error")`` a numpy
    warning raised inside formulaic becomes formulaic's own error and then ours, which would hide
    the leak this is meant to find. ``known_bugs=True`` (fuzz tests only) discards examples
    that raise an exception type in KNOWN_BUGS.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = multilevel.fit(formula, data, **kwargs)
        except MultilevelError as exc:
            assert str(exc).strip(), "an error without a message"
            fit = None
        except KNOWN_BUGS:
            if not known_bugs:
                raise
            reject()
    leaked = [
        f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
        for w in caught
        if not issubclass(w.category, FitWarning)
    ]
    assert not leaked, f"warnings other than FitWarning: {leaked}"
    if fit is not None:
        check_fit(fit)
    return fit


def check_fit(fit) -> None:
    """A returned fit is finite where defined, or flagged, and serialises to strict JSON."""
    values = [fit.loglik, fit.sigma, *np.asarray(fit.beta, dtype=float).ravel()]
    finite = all(math.isfinite(v) for v in values)
    flagged = (not fit.converged) or bool(fit.warnings)
    assert finite or flagged, f"non-finite result without a flag: {values}"
    json.dumps(fit.to_dict(), allow_nan=False)


# ---------------------------------------------------------------- fuzzing
@ORDINARY
@given(data=frames(), formula=formulas())
def test_fit_ordinary_space(data, formula):
    fit_or_error(formula, data, known_bugs=True)


@settings(ORDINARY, max_examples=120)
@given(data=frames())
def test_fit_valid_formula_on_odd_data(data):
    """A valid model on odd data: most examples reach the optimizer."""
    for formula in ("y ~ x + (1 | g)", "y ~ 1 + (1 + x | g)"):
        fit_or_error(formula, data, known_bugs=True)


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(formula=formulas())
def test_formula_on_good_data(formula):
    """Malformed formulas against good data: parsing, not data, must stop them."""
    data = _base()
    data["z"] = np.linspace(0.5, 3, len(data))
    data["h"] = np.tile(list("pq"), len(data) // 2)
    fit_or_error(formula, data, known_bugs=True)


@EXTREME
@given(data=frames(extreme=True), formula=formulas(extreme=True))
@example(data=_base().assign(y=lambda d: d.y * 1e300), formula="y ~ x + (1 | g)")
def test_fit_extreme_space(data, formula):
    fit_or_error(formula, data)


# ---------------------------------------------------------------- odd input, one case each
def _with(**cols):
    d = _base()
    for k, v in cols.items():
        d[k] = v
    return d


ODD_INPUT = [
    ("empty frame", "y ~ x + (1 | g)", lambda: _base().head(0), DataError),
    ("one row", "y ~ x + (1 | g)", lambda: _base().head(1), DataError),
    (
        "duplicate names",
        "y ~ x + (1 | g)",
        lambda: _base().set_axis(["y", "y", "g"], axis=1),
        DataError,
    ),
    ("string outcome", "y ~ x + (1 | g)", lambda: _with(y=_base().y.astype(str)), DataError),
    ("all-NaN predictor", "y ~ x + (1 | g)", lambda: _with(x=np.nan), DataError),
    ("all-NaN group", "y ~ x + (1 | g)", lambda: _with(g=np.nan), DataError),
    ("infinite outcome", "y ~ x + (1 | g)", lambda: _with(y=np.inf), DataError),
    ("one-level factor", "y ~ x + (1 | g)", lambda: _with(g="a"), DataError),
    (
        "one used level of a categorical",
        "y ~ x + (1 | g)",
        lambda: _with(g=pd.Categorical(["a"] * 40, categories=["a", "b"])),
        DataError,
    ),
    (
        "datetime predictor",
        "y ~ x + (1 | g)",
        lambda: _with(x=pd.Timestamp("2020-01-01")),
        DataError,
    ),
    ("no data", "y ~ x + (1 | g)", lambda: None, DataError),
    ("empty file", "y ~ x + (1 | g)", lambda: "/dev/null", DataError),
    ("ndarray data", "y ~ x + (1 | g)", lambda: np.zeros((3, 3)), DataError),
    ("unbalanced (", "y ~ x + ((1 | g)", _base, FormulaError),
    ("unbalanced )", "y ~ x + (1 | g))", _base, FormulaError),
    ("two bars", "y ~ x + (1 | g | g)", _base, FormulaError),
    ("empty group", "y ~ x + (1 | )", _base, FormulaError),
    ("dot", "y ~ . + (1 | g)", _base, FormulaError),
    ("no random term", "y ~ x", _base, FormulaError),
    ("two tildes", "y ~ x ~ z + (1 | g)", _base, FormulaError),
    ("empty formula", "   ", _base, FormulaError),
    ("NUL byte", "y ~ x\x00 + (1 | g)", _base, FormulaError),
    ("unknown function", "y ~ foo(x) + (1 | g)", _base, FormulaError),
    ("(0 | g)", "y ~ x + (0 | g)", _base, DataError),
    (
        "too many random effects",
        "y ~ x + (1 + x + I(x^2) + I(x^3) + I(x^4) + I(x^5) | g)",
        _base,
        DataError,
    ),
    (
        "unicode names",
        "y ~ é + (1 | `日本`)",
        lambda: _base().rename(columns={"x": "é", "g": "日本"}),
        None,
    ),
    (
        "backticked name with a space",
        "y ~ `x var` + (1 | g)",
        lambda: _base().rename(columns={"x": "x var"}),
        None,
    ),
    (
        "boolean outcome and predictor",
        "y ~ x + (1 | g)",
        lambda: _with(y=_base().y > 0, x=_base().x > 0),
        None,
    ),
    ("boolean grouping", "y ~ x + (1 | g)", lambda: _with(g=np.tile([True, False], 20)), None),
    (
        "nullable Int64 with NA",
        "y ~ x + (1 | g)",
        lambda: _with(x=pd.array([1, None] * 20, dtype="Int64")),
        None,
    ),
    ("constant predictor (aliased)", "y ~ x + (x | g)", lambda: _with(x=1.0), None),
    ("|| with 0 +", "y ~ x + (0 + x || g)", _base, None),
    ("0 + and - 1", "y ~ 0 + x - 1 + (1 | g)", _base, None),
    ("x:g and C(g)", "y ~ x:C(g) + (1 | g)", _base, None),
]


@pytest.mark.parametrize("name,formula,make,expected", ODD_INPUT, ids=[c[0] for c in ODD_INPUT])
def test_odd_input(name, formula, make, expected):
    if expected is None:
        assert fit_or_error(formula, make()) is not None
    else:
        with pytest.raises(expected):
            multilevel.fit(formula, make())


# ---------------------------------------------------------------- known bugs (strict xfail)
def _scaled(col: str, s: float) -> pd.DataFrame:
    d = _base()
    d[col] = d[col] * s
    return d


@pytest.mark.parametrize("s", [1e300, 1e150, 1e-160, 1e-300])
def test_outcome_near_double_range(s):
    ref = multilevel.fit("y ~ x + (1 | g)", _base())
    fit = fit_or_error("y ~ x + (1 | g)", _scaled("y", s))
    if fit is not None:  # either a clear error, or the scaled answer
        np.testing.assert_allclose(fit.beta / s, ref.beta, rtol=1e-6)
        assert fit.sigma / s == pytest.approx(ref.sigma, rel=1e-6)


@pytest.mark.parametrize("s", [1e300, 1e-300])
def test_predictor_near_double_range_is_not_called_collinear(s):
    ref = multilevel.fit("y ~ x + (1 | g)", _base())
    fit = fit_or_error("y ~ x + (1 | g)", _scaled("x", s))
    if fit is not None:  # lme4 stops with an error at 1e300; a fit must keep x
        assert "x" in fit.fixed_names
        assert fit.beta[1] * s == pytest.approx(ref.beta[1], rel=1e-6)


def test_predictor_scaled_1e_minus_160():
    assert fit_or_error("y ~ x + (1 | g)", _scaled("x", 1e-160)) is None
    with pytest.raises(DataError, match="'x'.*rescale"):
        multilevel.fit("y ~ x + (1 | g)", _scaled("x", 1e-160))


@pytest.mark.parametrize("formula", ["y ~ y + (1 | g)", "y ~ scale(y) + (1 | g)"])
def test_outcome_on_both_sides(formula):
    assert fit_or_error(formula, _base()) is None
    with pytest.raises(DataError, match="exact linear function of the fixed effects"):
        multilevel.fit(formula, _base())


def test_string_constant_term():
    assert fit_or_error("y ~ I('a') + (1 | g)", _base()) is None
    with pytest.raises(DataError, match="not numeric"):
        multilevel.fit("y ~ I('a') + (1 | g)", _base())


@pytest.mark.parametrize("formula", [None, 5, b"y ~ x + (1 | g)"], ids=["None", "int", "bytes"])
def test_formula_not_a_string(formula):
    with pytest.raises(FormulaError):
        multilevel.fit(formula, _base())


def test_ragged_dict():
    with pytest.raises(DataError):
        multilevel.fit("y ~ x + (1 | g)", {"y": [1.0, 2, 3], "x": [1.0, 2], "g": ["a", "b"]})


def test_complex_column():
    with pytest.raises(DataError, match="complex"):
        multilevel.fit("y ~ x + (1 | g)", _with(x=_base().x + 1j))


@pytest.mark.parametrize(
    "formula,make",
    [
        ("y ~ log(x) + (1 | g)", _base),
        ("log(y) ~ x + (1 | g)", _base),
        ("y ~ sqrt(x) + (1 | g)", _base),
        ("y ~ exp(1000 * x) + (1 | g)", _base),
        ("y ~ scale(x) + (1 | g)", lambda: _with(x=2.0)),
        ("y ~ poly(x, 2) + (1 | g)", lambda: _base().head(2)),
    ],
)
def test_no_runtime_warning_before_data_error(formula, make):
    fit_or_error(formula, make())


def test_overflowing_column_expression():
    fit = fit_or_error("y ~ I(1e300 * x) + (1 | g)", _base())
    assert fit is None or len(fit.fixed_names) == 2


@pytest.mark.parametrize(
    "x",
    [["a"] * 40, [[1]] * 40, pd.Categorical(["a"] * 40, categories=["a", "b"])],
    ids=["string", "lists", "categorical"],
)
def test_one_level_factor_predictor_is_not_silent(x):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = multilevel.fit("y ~ x + (1 | g)", _with(x=x))
        except DataError as exc:
            assert "'x'" in str(exc)
            return
    assert "x" in " ".join(fit.warnings) and caught


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ foo(x/) + (1 | g)",
        "y ~ log(abs(x)  1) + (1 | g)",
        "y ~ sqrt(ab\\s(x)) + (1 | g)",
        "log(ab]s(y) + 1) ~ x + (1 | g)",
    ],
)
def test_broken_python_in_a_call(formula):
    fit_or_error(formula, _base())


def test_redundant_terms_large_scale():
    fit_or_error("y ~ x + (1 + x || g) + (x | g)", _scaled("x", 1e6))


def test_ml_as_many_fixed_effects_as_needed():
    data = pd.DataFrame(
        {
            "y": [0.3, -0.5, 0.0, 1.0],
            "x": [0.3, -0.8, -0.9, 0.5],
            "z": [-0.3, 1.7, -1.2, 0.4],
            "h": list("bccb"),
        }
    )
    fit_or_error("y ~ x + z + (0 + z | h)", data, reml=False)


def test_unicode_grouping_factor_unquoted():
    data = _base().rename(columns={"x": "é", "g": "日本"})
    assert fit_or_error("y ~ é + (1 | 日本)", data) is not None


def test_removing_a_term_keeps_the_intercept():
    fit = fit_or_error("y ~ -x + (1 | g)", _base())
    assert fit.fixed_names == ("(Intercept)",)
