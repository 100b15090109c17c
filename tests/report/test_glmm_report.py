"""Reports of GLMMs: the fixed-effects table reads like summary(glmer) (estimate, SE, z, p equal
to lme4's cbpp reference), no residual row or sigma^2, the equations carry the link, plots
that make no sense for a GLMM are skipped with their reason, the ladder report works."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats

import multilevel
from glmmref import fitted, reference, tight
from multilevel.ladder import ladder
from multilevel.report import report_html
from multilevel.report.tables import fixed_effects_table, random_effects_table, tables_for


@pytest.fixture(scope="module")
def cbpp():
    model = reference("cbpp")["models"][0]
    return model, fitted("cbpp", model["formula"], 1)


def _text(html: str) -> str:
    html = re.sub(r'src="data:[^"]+"', "", html)
    return re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", html))


def test_fixed_effects_table_is_glmers_summary(cbpp):
    """lme4 with an exact PIRLS (lme4_tight.json): its default tolerance stops short here."""
    _, fit = cbpp
    table = fixed_effects_table(fit)
    ref = tight()["cbpp_period"]
    beta, se = np.array(ref["beta"]), np.array(ref["std_error"])
    assert [c.header for c in table.columns] == ["Predictor", "b", "SE", "95% CI", "z", "p"]
    d = table.data
    assert list(d["term"]) == ref["names"]
    np.testing.assert_allclose(d["estimate"], beta, rtol=1e-4)
    np.testing.assert_allclose(d["std_error"], se, rtol=3e-3)
    np.testing.assert_allclose(d["z_value"], beta / se, rtol=3e-3)
    np.testing.assert_allclose(d["p_value"], 2 * stats.norm.sf(np.abs(beta / se)), rtol=2e-2)
    np.testing.assert_allclose(d["ci_upper"] - d["estimate"], 1.959964 * d["std_error"])
    assert "Wald z" in table.note and "df" not in d.columns


def test_random_effects_table_has_no_residual_row(cbpp):
    _, fit = cbpp
    table = random_effects_table(fit)
    assert list(table.data["group"]) == ["herd"]
    assert table.data["variance"][0] == pytest.approx(tight()["cbpp_period"]["variances"], rel=3e-3)
    assert "no sigma^2" in table.note


def test_fit_report_of_a_glmm(cbpp):
    _, fit = cbpp
    html = report_html(fit)
    text = _text(html)
    assert "logit ( p ij )" in text  # cbind(successes, failures): the success probability
    assert "r ij" not in text and "σ 2" not in text
    assert "Residual" not in text
    assert "GLMMs have no REML" in text
    assert "residuals plot not drawn: no residual plot for a binomial GLMM" in text
    assert "shrinkage plot not drawn: no shrinkage plot for a binomial GLMM" in text
    assert 'id="figure-caterpillar"' in html or "caterpillar plot" in html
    names = [t.name for t in tables_for(fit)]
    assert names == ["data_summary", "fixed_effects", "random_effects"]


def test_ladder_report_of_a_glmm():
    hsb = multilevel.datasets.hsb()
    hsb = hsb.assign(high=(hsb.mathach > 15).astype(int))
    lad = ladder(hsb, "high", "school", ["cses"], ["meanses"], family="binomial")
    text = _text(report_html(lad))
    assert "ICC = 0.162 (on the latent scale)" in text
    assert "PVE L1" not in text and "Var(Residual)" not in text
    assert "level-1 variance explained is not defined" in text
    assert text.count("GLMMs have no REML") == 1  # once for the ladder, not per step
