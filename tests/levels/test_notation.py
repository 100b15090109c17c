"""gamma/tau names of fitted models, checked against HLM's conventions and the lme4 reference."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.design.model import build_design
from multilevel.errors import FormulaError
from multilevel.levels import gamma_table, notation, tau_table
from multilevel.result.fit import VarianceComponent

REF = Path(__file__).resolve().parents[1] / "reference"


def _ref(case: str, model_id: str) -> dict:
    models = json.loads((REF / f"{case}.json").read_text())["models"]
    return next(m for m in models if m["model_id"] == model_id)


@pytest.fixture(scope="module")
def hsb_d():
    return multilevel.fit(
        _ref("hsb", "hsb_d_slopes_as_outcomes")["formula"], multilevel.datasets.hsb()
    )


def test_gamma_names_follow_hlm(hsb_d):
    nt = notation(hsb_d)
    assert {g.name: g.symbol for g in nt.gammas} == {
        "(Intercept)": "gamma00",
        "cses": "gamma10",
        "meanses": "gamma01",
        "catholic": "gamma02",
        "cses:meanses": "gamma11",
        "cses:catholic": "gamma12",
    }
    table = nt.fixed_table()
    assert table.loc["cses:catholic", "gamma"] == "gamma12"
    assert table.loc["cses:catholic", "predictors"] == "cses x catholic"


def test_tau_values_equal_lme4_varcorr(hsb_d):
    ref = _ref("hsb", "hsb_d_slopes_as_outcomes")["fits"]["reml"]
    cov = np.array(ref["random_effects"][0]["covariance_matrix"])
    taus = {t.symbol: t.value for t in notation(hsb_d).taus}
    assert set(taus) == {"tau00", "tau11", "tau01", "sigma^2"}
    np.testing.assert_allclose(taus["tau00"], cov[0, 0], rtol=1e-4)
    np.testing.assert_allclose(taus["tau11"], cov[1, 1], rtol=2e-3)
    np.testing.assert_allclose(taus["tau01"], cov[0, 1], rtol=2e-3)
    np.testing.assert_allclose(taus["sigma^2"], ref["residual_variance"], rtol=1e-4)
    table = notation(hsb_d).variance_table()
    assert list(table["symbol"]) == ["tau00", "tau11", "tau01", "sigma^2"]


def test_uncorrelated_blocks_give_a_constrained_tau01():
    fit = multilevel.fit(
        _ref("hsb", "hsb_e_uncorrelated_slopes")["formula"], multilevel.datasets.hsb()
    )
    nt = notation(fit)
    tau01 = next(t for t in nt.taus if t.symbol == "tau01")
    assert tau01.constrained and tau01.value == 0.0
    assert [r.symbol for r in nt.random] == ["u0j", "u1j"]


def test_random_slope_without_fixed_slope_and_interaction_without_main_effect():
    hsb = multilevel.datasets.hsb()
    fit = multilevel.fit("mathach ~ meanses + cses:meanses + (1 + cses | school)", hsb)
    nt = notation(fit)
    assert {g.name: g.symbol for g in nt.gammas} == {
        "(Intercept)": "gamma00",
        "meanses": "gamma01",
        "cses:meanses": "gamma11",
    }
    assert [r.symbol for r in nt.random] == ["u0j", "u1j"]


def test_three_level_names_on_pastes():
    ref = _ref("pastes", "pastes_nested")["fits"]["reml"]
    fit = multilevel.fit("strength ~ 1 + (1 | batch/cask)", multilevel.datasets.pastes())
    nt = notation(fit)
    assert nt.levels == 3 and nt.groups == ("cask:batch", "batch")
    assert [g.symbol for g in nt.gammas] == ["gamma000"]
    taus = {t.symbol: t.value for t in nt.taus}
    var = {r["group"]: r["variances"][0] for r in ref["random_effects"]}
    np.testing.assert_allclose(taus["tau_pi00"], var["cask:batch"], rtol=1e-4)
    np.testing.assert_allclose(taus["tau_beta00"], var["batch"], rtol=1e-4)
    assert [r.symbol for r in nt.random] == ["r0jk", "u00k"]


def _three_level_data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    school = np.repeat(np.arange(20), 20)
    klass = np.repeat(np.arange(100), 4)
    s = rng.normal(size=20)[school]
    c = rng.normal(size=100)[klass]
    x = rng.normal(size=400)
    y = (
        1
        + 0.5 * x
        + 0.3 * c
        + 0.2 * s
        + 0.1 * x * s
        + rng.normal(size=100)[klass]
        + rng.normal(size=20)[school]
        + rng.normal(size=400)
        + x * (0.7 * rng.normal(size=100)[klass] + 0.7 * rng.normal(size=20)[school])
    )
    return pd.DataFrame({"y": y, "x": x, "c": c, "s": s, "school": school, "klass": klass})


def _unfitted(formula: str, data: pd.DataFrame) -> SimpleNamespace:
    """What notation() reads from a fit, without fitting (names do not depend on estimates)."""
    design = build_design(formula, data)
    blocks = tuple(
        VarianceComponent(t.name, t.grouping_factor, t.term_names, np.eye(t.q))
        for t in design.terms
    )
    return SimpleNamespace(
        design=design,
        random_effects=blocks,
        fixed_names=design.fixed.names,
        sigma=1.0,
        response=design.formula.response,
    )


def test_three_level_predictors_at_each_level():
    fit = _unfitted("y ~ x + c + s + x:s + c:s + (1 + x | school/klass)", _three_level_data())
    nt = notation(fit)
    assert {g.name: g.symbol for g in nt.gammas} == {
        "(Intercept)": "gamma000",
        "x": "gamma100",
        "c": "gamma010",
        "s": "gamma001",
        "x:s": "gamma101",
        "c:s": "gamma011",
    }
    assert [r.symbol for r in nt.random] == ["r0jk", "r1jk", "u00k", "u10k"]
    assert {t.symbol for t in nt.taus} == {
        "tau_pi00",
        "tau_pi11",
        "tau_pi01",
        "tau_beta00",
        "tau_beta10",
        "tau_beta00,10",
        "sigma^2",
    }


def test_crossed_factors_cannot_be_written_as_levels():
    fit = multilevel.fit(
        "diameter ~ 1 + (1 | plate) + (1 | sample)", multilevel.datasets.penicillin()
    )
    with pytest.raises(FormulaError, match="crossed, not nested"):
        notation(fit)


def test_gamma_and_tau_tables_beside_lme4_names(hsb_d):
    table = gamma_table(hsb_d)
    assert list(table.columns[:2]) == ["gamma", "estimate"]
    assert table.loc["cses:meanses", "gamma"] == "gamma11"
    ref = _ref("hsb", "hsb_d_slopes_as_outcomes")["fits"]["reml"]["fixed_effects"]
    est = {f["name"]: f["estimate"] for f in ref}
    np.testing.assert_allclose(table["estimate"], [est[n] for n in table.index], rtol=1e-4)
    taus = tau_table(hsb_d).set_index("symbol")
    assert taus.loc["tau01", "var1"] == "(Intercept)" and taus.loc["tau01", "var2"] == "cses"
