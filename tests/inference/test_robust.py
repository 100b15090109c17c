"""Cluster-robust standard errors of lmer fits against clubSandwich (hsb models c and d;
vcovCR types CR0, CR1, CR2 with coef_test(test = "Satterthwaite"))."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from refcases import close

import multilevel

REF = json.loads((Path(__file__).parent / "reference" / "robust_hsb.json").read_text())
CASES = [(i, t["type"]) for i, m in enumerate(REF["models"]) for t in m["types"]]


def _fit(i):
    return multilevel.fit(REF["models"][i]["formula"], multilevel.datasets.hsb())


@pytest.mark.parametrize("i, kind", CASES)
def test_as_clubsandwich(i, kind):
    ref = pd.DataFrame(next(t for t in REF["models"][i]["types"] if t["type"] == kind)["rows"])
    got = _fit(i).fixed_effects(vcov=kind)
    assert list(got.columns) == ["estimate", "std_error", "t_value", "df", "p_value"]
    assert list(got.index) == list(ref.name)
    assert close(got.estimate, ref.estimate, rtol=1e-6)
    assert close(got.std_error, ref.std_error, rtol=1e-4)
    assert close(got.df, ref.df, rtol=1e-3)
    assert close(got.p_value, ref.p_value, rtol=1e-3, atol=1e-12)


def test_summary_shows_the_robust_table_when_asked():
    fit = _fit(0)
    text = fit.summary(vcov="CR2").to_text()
    assert "robust standard errors (CR2 cluster-robust by 'school'" in text
    assert "robust" not in fit.summary().to_text()


def test_crossed_factors_and_unknown_types_are_refused():
    from refcases import data

    d = data("cake")
    fit = multilevel.fit("angle ~ recipe + (1 | replicate) + (1 | temperature)", d)
    with pytest.raises(multilevel.errors.MultilevelError, match="crossed"):
        fit.fixed_effects(vcov="CR2")
    with pytest.raises(multilevel.errors.MultilevelError, match="CR0, CR1, CR2"):
        _fit(0).fixed_effects(vcov="HC3")


def test_cr0_equals_the_sandwich_by_hand():
    """CR0 is M (sum_j X_j'W_j e_j e_j'W_j X_j) M, written out with dense V."""
    fit = multilevel.fit("Reaction ~ Days + (Days | Subject)", multilevel.datasets.sleepstudy())
    X, e = fit.design.X, fit.design.y - fit.design.X @ fit.beta
    t = fit.design.terms[0]
    D = fit.random_effects[0].covariance
    meat = np.zeros((2, 2))
    bread = np.zeros((2, 2))
    for j in range(t.n_levels):
        idx = np.flatnonzero(t.codes == j)
        V = t.Z[idx] @ D @ t.Z[idx].T + fit.sigma**2 * np.eye(idx.size)
        u = X[idx].T @ np.linalg.solve(V, e[idx])
        meat += np.outer(u, u)
        bread += X[idx].T @ np.linalg.solve(V, X[idx])
    M = np.linalg.inv(bread)
    got = fit.fixed_effects(vcov="CR0").std_error.to_numpy()
    assert np.allclose(got, np.sqrt(np.diag(M @ meat @ M)), rtol=1e-8)
