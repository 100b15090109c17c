"""GLMM level equations: predictors sorted into levels by whether they vary within groups,
cross-level interactions in the slope equations, the link on the left."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel


def test_level_equations_with_the_link() -> None:
    rng = np.random.default_rng(8)
    G, n = 40, 800
    g = rng.integers(0, G, n)
    tv = rng.standard_normal(n)
    frl = rng.standard_normal(G)[g]
    eta = -0.2 + 0.5 * tv - 0.4 * frl + 0.3 * tv * frl + rng.normal(0, 0.7, G)[g]
    df = pd.DataFrame(
        {"s": g.astype(str), "tv": tv, "frl": frl, "y": (rng.random(n) < 1 / (1 + np.exp(-eta)))}
    )
    fit = multilevel.fit("y ~ tv * frl + (1 + tv | s)", df, family="binomial", warn=False)
    text = fit.level_equations()
    b = dict(zip(fit.fixed_names, fit.beta, strict=True))
    assert "Level 1: logit(P(y_ij = 1)) = b0j + b1j*tv_ij" in text
    assert f"b0j = g00[{b['(Intercept)']:.3f}] + g01[{b['frl']:.3f}]*frl_j + u0j" in text
    assert f"b1j = g10[{b['tv']:.3f}] + g11[{b['tv:frl']:.3f}]*frl_j + u1j" in text
    tau = fit.random_effects[0].variances
    assert f"tau11 = Var(u1j) [s] = {tau[1]:.4f}" in text
    with pytest.raises(ValueError):
        multilevel.latent_icc(fit)  # needs a single random intercept
