"""The Newton step after the derivative-free optimizer: bounds respected, lme4's optimum reached."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import multilevel
from multilevel.optimize import optimizer
from multilevel.optimize.polish import newton_step

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "penicillin.json"


def test_newton_step_minimizes_a_quadratic_exactly():
    H = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
    optimum = np.array([0.3, 0.8, 1.1])
    theta = np.array([0.5, 0.6, 1.0])
    g = H @ (theta - optimum)
    np.testing.assert_allclose(newton_step(theta, g, H, np.zeros(3)), optimum, rtol=1e-14)


def test_newton_step_holds_a_parameter_at_its_bound():
    """Minimum of (t - c)'H(t - c)/2 over t >= 0 with c_0 < 0: t_0 = 0 and, for the others,
    the unconstrained minimum given t_0 = 0: t_F = c_F - H_FF^-1 H_F0 (0 - c_0)."""
    H = np.array([[2.0, 0.6], [0.6, 1.0]])
    c = np.array([-0.2, 0.5])
    theta = np.array([0.05, 0.4])
    got = newton_step(theta, H @ (theta - c), H, np.zeros(2))
    assert got[0] == 0.0
    assert got[1] == pytest.approx(c[1] - 0.6 / 1.0 * (0.0 - c[0]))


def test_loose_radius_and_newton_step_reach_lme4s_optimum(monkeypatch):
    """Penicillin's crossed fit treated as an expensive one (COBYQA stops at radius 1e-4):
    after the step, lme4's REML criterion and theta."""
    monkeypatch.setattr(optimizer, "EXPENSIVE_SCHUR", 0)
    models = json.loads(REFERENCE.read_text())["models"]
    ref = next(m for m in models if "sample" in m["formula"])["fits"]["reml"]
    fit = multilevel.fit(
        "diameter ~ 1 + (1 | plate) + (1 | sample)", multilevel.datasets.penicillin()
    )
    assert fit.optimization.tolerances["final_tr_radius"] == optimizer.LOOSE_TR_RADIUS
    assert any("Newton step" in note for note in fit.optimization.notes)
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-7)
    np.testing.assert_allclose(fit.theta, ref["theta"], rtol=1e-5)
    assert fit.optimization.converged
