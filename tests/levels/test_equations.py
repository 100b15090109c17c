"""Level equations -> lme4 formula: the lecture's example, spellings, three levels, errors,
and the data checks (level-2 predictors constant within groups)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import DataError, FormulaError
from multilevel.levels import LevelWarning, check_levels, fit_levels, parse_levels

REF = Path(__file__).resolve().parents[1] / "reference"

LECTURE = """
Level 1: math = b0 + b1*tvhours + r
Level 2: b0 = g00 + g01*pctfrl + u0
         b1 = g10 + g11*pctfrl + u1
"""
LECTURE_FORMULA = "math ~ 1 + tvhours + pctfrl + tvhours:pctfrl + (1 + tvhours | schoolid)"


def _ref_model(case: str, model_id: str) -> dict:
    models = json.loads((REF / f"{case}.json").read_text())["models"]
    return next(m for m in models if m["model_id"] == model_id)


def test_lecture_example_gives_the_canonical_formula():
    model = parse_levels(LECTURE, group="schoolid")
    assert model.formula == LECTURE_FORMULA
    assert model.levels == 2
    assert model.predictors(1) == ("tvhours",)
    assert model.predictors(2) == ("pctfrl",)
    assert model.fixed_terms == ("(Intercept)", "tvhours", "pctfrl", "tvhours:pctfrl")
    assert model.symbols == ("g00", "g10", "g01", "g11")


@pytest.mark.parametrize(
    "text",
    [
        "Level 1: math = beta0 + beta1*tvhours + e\n"
        "Level 2: beta0 = gamma00 + gamma01*pctfrl + u0j\n"
        "beta1 = gamma10 + gamma11*pctfrl + u1j\nGroups: schoolid",
        "Level-1: math = B0 + B1 tvhours + r_ij\nLevel-2: B0 = G00 + G01 pctfrl + u_0j\n"
        "  B1 = G10 + G11 pctfrl + u_{1j}\nGroup: schoolid",
        "L1: math = β0j + β1j * tvhours + r_ij\nL2 (schoolid): β0j = γ00 + γ01 * pctfrl + u0j\n"
        "  β1j = γ10 + γ11 * pctfrl + u1j",
        "Level 1: math = beta_{0j} + tvhours*beta_{1j} + r\n"
        "Level 2: beta_{0j} = gamma_{00} + gamma_{01}*pctfrl + u_{0j}   # intercepts\n\n"
        "         beta_{1j} = gamma_{10} + gamma_{11}*pctfrl + u_{1j}   # slopes\n"
        "Groups: schoolid",
    ],
)
def test_common_spellings(text):
    assert parse_levels(text).formula == LECTURE_FORMULA


def test_subscripted_variables_resolve_against_the_data():
    data = pd.DataFrame({"math": [1.0], "tvhours": [1.0], "pctfrl": [1.0], "schoolid": [1]})
    text = (
        "Level 1: math_ij = b0 + b1*tvhours_ij + r\n"
        "Level 2: b0 = g00 + g01*pctfrl_j + u0\n b1 = g10 + g11*pctfrl_j + u1"
    )
    assert parse_levels(text, group="schoolid", data=data).formula == LECTURE_FORMULA


def test_coefficient_without_u_is_fixed():
    text = "Level 1: y = b0 + b1*x + r\nLevel 2: b0 = g00 + g01*w + u0\n b1 = g10\nGroups: g"
    assert parse_levels(text).formula == "y ~ 1 + x + w + (1 | g)"
    text = "Level 1: y = b0 + b1*x + r\nLevel 2: b0 = g00\n b1 = g10 + u1\nGroups: g"
    assert parse_levels(text).formula == "y ~ 1 + x + (0 + x | g)"


def test_slope_equation_without_gamma10_and_products():
    text = (
        "Level 1: y = b0 + b1*x + b2*I(x^2) + r\nLevel 2: b0 = g00 + g01*w + g02*z + u0\n"
        " b1 = g11*w + u1\n b2 = g20 + g21*w*z\nGroups: g"
    )
    model = parse_levels(text)
    assert model.formula == "y ~ 1 + I(x^2) + w + z + x:w + I(x^2):w:z + (1 + x | g)"


def test_no_intercept_and_groups_from_argument_or_headings_must_agree():
    text = "Level 1: y = b1*x + r\nLevel 2: b1 = g10 + u1\nGroups: g"
    assert parse_levels(text).formula == "y ~ 0 + x + (0 + x | g)"
    with pytest.raises(FormulaError, match="gives groups"):
        parse_levels(text, group="h")
    with pytest.raises(FormulaError, match="no grouping variable"):
        parse_levels("Level 1: y = b0 + r\nLevel 2: b0 = g00 + u0")


def test_constraint_makes_blocks_uncorrelated_and_matches_lme4():
    text = (
        "Level 1: mathach = b0 + b1*cses + r\nLevel 2: b0 = g00 + u0\n b1 = g10 + u1\n"
        "Groups: school\ntau01 = 0"
    )
    model = parse_levels(text)
    assert model.formula == "mathach ~ 1 + cses + (1 | school) + (0 + cses | school)"
    alt = text.replace("tau01 = 0", "Constraints: cov(u0j, u1j) = 0")
    assert parse_levels(alt).formula == model.formula
    ref = _ref_model("hsb", "hsb_e_uncorrelated_slopes")["fits"]["reml"]
    fit = fit_levels(text, multilevel.datasets.hsb())
    assert abs(fit.loglik - ref["loglik"]) < 1e-6


def test_three_levels_nested_groups_match_lme4_pastes():
    text = (
        "Level 1: strength = p0 + e\nLevel 2: p0 = b00 + r0\nLevel 3: b00 = g000 + u00\n"
        "Groups: batch/cask"
    )
    model = parse_levels(text)
    assert model.groups == ("cask:batch", "batch")
    assert model.formula == "strength ~ 1 + (1 | cask:batch) + (1 | batch)"
    assert parse_levels(text.replace("batch/cask", "sample, batch")).formula == (
        "strength ~ 1 + (1 | sample) + (1 | batch)"
    )
    ref = _ref_model("pastes", "pastes_nested")["fits"]["reml"]
    fit = fit_levels(text, multilevel.datasets.pastes())
    assert abs(fit.loglik - ref["loglik"]) < 1e-6
    assert fit.n_groups == {"cask:batch": 30, "batch": 10}


def test_three_levels_with_predictors_at_each_level():
    text = """
    Level 1: y = p0 + p1*x + e
    Level 2: p0 = b00 + b01*c + r0
             p1 = b10 + r1
    Level 3: b00 = g000 + g001*s + u00
             b01 = g010
             b10 = g100 + g101*s + u10
    Groups: school/class
    """
    assert parse_levels(text).formula == (
        "y ~ 1 + x + c + s + x:s + (1 + x | class:school) + (1 + x | school)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Level 1: y = b0 + b1*x + r\nLevel 2: b0 = g00 + u0\n b2 = g20\nGroups: g",
            r"line 3 .*'b2' is not a coefficient",
        ),
        (
            "Level 1: y = b0 + b1*x + r\nLevel 2: b0 = g00 + u0\nGroups: g",
            r"'b1' has no Level 2 equation",
        ),
        (
            "Level 1: y = b0 + x + r\nLevel 2: b0 = g00 + u0\nGroups: g",
            r"line 1 .*cannot read the term 'x'",
        ),
        ("Level 1: y = b0 + u0\nLevel 2: b0 = g00\nGroups: g", r"line 1 .*group-level random"),
        (
            "Level 1: y = b0 + b1*x + b2*x + r\nLevel 2: b0 = g00\n b1 = g10\n b2 = g20\nGroups: g",
            r"line 1 .*x appears twice",
        ),
        ("Level 1: y = b0 + r\nLevel 3: b0 = g00\nGroups: g", "Level 2 has no equations"),
        ("y = b0 + r", r"line 1: .* is not under a 'Level 1:'"),
        ("Level 1: y = b0 + r\nLevel 2: b0 = g00 + u0\nGroups: a, b", "2 levels need 1 grouping"),
        (
            "Level 1: y = b0 + b1*x + b2*z + r\nLevel 2: b0 = g00 + u0\n b1 = g10 + u1\n"
            " b2 = g20 + u2\nGroups: g\ntau01 = 0",
            "cannot set cov",
        ),
        ("Level 1: y = b0 + r\nLevel 2: b0 = g00 + u0\nGroups: g\ntau05 = 0", "names u5"),
    ],
)
def test_errors_name_the_line_at_fault(text, message):
    with pytest.raises(FormulaError, match=message):
        parse_levels(text)


def test_check_levels_level2_predictor_must_be_constant_within_groups():
    hsb = multilevel.datasets.hsb()
    bad = parse_levels(
        "Level 1: mathach = b0 + r\nLevel 2: b0 = g00 + g01*ses + u0\nGroups: school"
    )
    with pytest.raises(DataError, match=r"level-2 predictor 'ses' varies within school '\d+'"):
        check_levels(hsb, bad)
    with pytest.raises(DataError, match="'ses' varies"):
        fit_levels(
            "Level 1: mathach = b0 + r\nLevel 2: b0 = g00 + g01*ses + u0", hsb, group="school"
        )
    ok = parse_levels(
        "Level 1: mathach = b0 + r\nLevel 2: b0 = g00 + g01*meanses + u0\nGroups: school"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_levels(hsb, ok)


def test_check_levels_warns_for_level1_predictor_constant_within_groups():
    hsb = multilevel.datasets.hsb()
    model = parse_levels(
        "Level 1: mathach = b0 + b1*meanses + r\nLevel 2: b0 = g00 + u0\n b1 = g10\nGroups: school"
    )
    with pytest.warns(LevelWarning, match="'meanses' never varies within school"):
        check_levels(hsb, model)


def test_check_levels_three_levels_nesting():
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "school": np.repeat([1, 2, 3], 4),
            "klass": np.tile([1, 1, 2, 2], 3),
            "y": rng.normal(size=12),
        }
    )
    model = parse_levels(
        "Level 1: y = p0 + e\nLevel 2: p0 = b00 + r0\nLevel 3: b00 = g000 + u00\n"
        "Groups: klass, school"
    )
    with pytest.raises(DataError, match="not nested in 'school'"):
        check_levels(df, model)
    nested = parse_levels(
        "Level 1: y = p0 + e\nLevel 2: p0 = b00 + r0\n"
        "Level 3: b00 = g000 + u00\nGroups: school/klass"
    )
    check_levels(df, nested)


def test_fit_levels_equals_the_reference_slopes_as_outcomes_model():
    text = (
        "Level 1: mathach = b0 + b1*cses + r\n"
        "Level 2: b0 = g00 + g01*meanses + g02*catholic + u0\n"
        "         b1 = g10 + g11*meanses + g12*catholic + u1\nGroups: school"
    )
    ref = _ref_model("hsb", "hsb_d_slopes_as_outcomes")["fits"]
    fit = fit_levels(text, multilevel.datasets.hsb(), reml=False)
    assert abs(fit.loglik - ref["ml"]["loglik"]) < 1e-6
    assert set(fit.fixed_names) == {f["name"] for f in ref["ml"]["fixed_effects"]}
