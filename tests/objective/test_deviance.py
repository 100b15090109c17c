"""The profiled deviance at lme4's theta, checked tightly and apart from the optimizer."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel
from multilevel.design import build_design
from multilevel.objective import ProfiledDeviance, cross_products
from multilevel.optimize.optimizer import central_gradient
from refdata import reference_models

MODELS = reference_models()
IDS = [m["model_id"] for _, m in MODELS]


@pytest.mark.parametrize("method", ["reml", "ml"])
@pytest.mark.parametrize(("case", "model"), MODELS, ids=IDS)
def test_deviance_at_lme4_theta(case, model, method):
    """d(theta_lme4) = -2 loglik_lme4 to ~1e-10 relative: the same objective, not only the
    same optimum."""
    ref = model["fits"][method]
    design = build_design(model["formula"], multilevel.datasets.load(case))
    dev = ProfiledDeviance(cross_products(design), reml=method == "reml")
    theta = np.array(ref["theta"])
    assert dev(theta) == pytest.approx(-2 * ref["loglik"], rel=1e-10, abs=1e-7)
    ev = dev.evaluate(theta)
    np.testing.assert_allclose(ev.beta, ref["beta"], rtol=1e-7, atol=1e-9)
    assert np.sqrt(dev.sigma2(ev)) == pytest.approx(ref["sigma"], rel=1e-8)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize(
    ("case", "formula"),
    [
        ("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
        ("hsb", "mathach ~ cses * meanses + (1 + cses | school)"),
        ("hsb", "mathach ~ cses + (1 | school) + (0 + cses | school)"),
        ("exam", "normexam ~ standLRT + (1 | school)"),
    ],
)
def test_exact_gradient_matches_differences(case, formula, reml):
    """The analytic gradient against central differences, away from the optimum."""
    design = build_design(formula, multilevel.datasets.load(case))
    dev = ProfiledDeviance(cross_products(design), reml=reml)
    assert dev.has_gradient
    rng = np.random.default_rng(1)
    for _ in range(3):
        theta = design.theta_start() * rng.uniform(0.2, 1.5, design.n_theta)
        theta += np.where(design.theta_lower() == 0, 0, rng.normal(0, 0.3, design.n_theta))
        _, grad = dev.value_and_gradient(theta)
        num = central_gradient(dev, theta, h=1e-6)
        np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-4)


def test_penalized_rss_equals_direct_computation():
    """r^2 = |y - X beta - Z b|^2 + |u|^2 at any theta (definition of the penalized RSS)."""
    data = multilevel.datasets.load("penicillin")
    design = build_design("diameter ~ 1 + (1 | plate) + (1 | sample)", data)
    dev = ProfiledDeviance(cross_products(design), reml=False)
    theta = np.array([0.7, 1.9])
    ev = dev.evaluate(theta)
    # dense reference: Z Lambda, solve the penalized least squares directly
    n = design.n
    blocks = []
    for t, th in zip(design.terms, design.split_theta(theta), strict=True):
        Zt = np.zeros((n, t.n_levels))
        Zt[np.arange(n), t.codes] = t.Z[:, 0]
        blocks.append(Zt * th[0])
    ZL = np.hstack(blocks)
    A = np.block([[ZL, design.X], [np.eye(ZL.shape[1]), np.zeros((ZL.shape[1], design.p))]])
    rhs = np.concatenate([design.y, np.zeros(ZL.shape[1])])
    sol, *_ = np.linalg.lstsq(A, rhs, rcond=None)
    r2 = float(np.sum((rhs - A @ sol) ** 2))
    assert ev.r2 == pytest.approx(r2, rel=1e-10)
    np.testing.assert_allclose(ev.beta, sol[-design.p :], rtol=1e-10)
    sign, logdet = np.linalg.slogdet(ZL.T @ ZL + np.eye(ZL.shape[1]))
    assert ev.ldL2 == pytest.approx(logdet, rel=1e-10)
