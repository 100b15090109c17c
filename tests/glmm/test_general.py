"""The general (any random part) Laplace engine: the sparse factorisation used for many random
effects gives the dense one's deviance, gradient, modes and fit."""

from __future__ import annotations

import numpy as np
import pytest

from glmmref import data
from multilevel.family import Poisson
from multilevel.glmm import general
from multilevel.glmm.design import build_glmm_design
from multilevel.glmm.engine import make_engine

FORMULA = "TICKS ~ factor(YEAR) + cHEIGHT + (1 | BROOD) + (1 | LOCATION)"


def test_sparse_factor_equals_dense(monkeypatch: pytest.MonkeyPatch) -> None:
    gd = build_glmm_design(FORMULA, data("grouseticks"), Poisson())
    phi = np.array([0.7, 0.5, 0.4, 1.1, -0.9, -0.02])
    dense = make_engine(gd)
    f1, g1 = dense.deviance_and_gradient(phi, 2)
    u1, v1 = dense.modes(phi[:2])
    monkeypatch.setattr(general, "DENSE_LIMIT", 0)
    sparse = make_engine(gd)
    f2, g2 = sparse.deviance_and_gradient(phi, 2)
    u2, v2 = sparse.modes(phi[:2])
    assert f2 == pytest.approx(f1, rel=1e-12)
    np.testing.assert_allclose(g2, g1, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(u2, u1, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(v2, v1, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(
        sparse.unscaled_vcov(phi[:2]), dense.unscaled_vcov(phi[:2]), rtol=1e-8
    )
