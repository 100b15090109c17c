"""The one summary of every fit: a GLMM's reads like ``summary(glmer)``, with lme4's scaled
(Pearson) residuals, and a Poisson fit's Pearson dispersion ratio as ``performance``'s."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest

from glmmref import REFERENCE, fitted


@cache
def _lme4(model_id: str) -> dict:
    """lme4 with an exact PIRLS (tests/glmm/reference/make_residual_reference.R)."""
    models = json.loads((REFERENCE / "lme4_residuals.json").read_text())["models"]
    return next(m for m in models if m["model_id"] == model_id)


@pytest.mark.parametrize(
    ("case", "model_id"), [("cbpp", "cbpp_period"), ("grouseticks", "grouseticks_brood")]
)
def test_glmm_scaled_residuals_are_lme4s_pearson_residuals(case: str, model_id: str) -> None:
    ref = _lme4(model_id)
    fit = fitted(case, ref["formula"], 1)
    np.testing.assert_allclose(fit.pearson_residuals(), ref["pearson"], rtol=1e-4, atol=1e-5)
    table = fit.summary().tables[0]
    assert table.title == "Scaled residuals"
    shown = np.array([float(c) for c in table.rows[0]])
    np.testing.assert_allclose(shown, ref["quantiles"], atol=1.5e-4)  # printed to 4 decimals
    assert fit.n_obs - fit.n_params == ref["df_residual"]


def test_poisson_dispersion_ratio_as_performance() -> None:
    ref = _lme4("grouseticks_brood")
    fit = fitted("grouseticks", ref["formula"], 1)
    assert fit.dispersion_ratio == pytest.approx(ref["dispersion_ratio"], rel=1e-5)
    notes = fit.summary().notes
    assert any(
        n.startswith(f"Pearson dispersion ratio {ref['dispersion_ratio']:.3f}: overdispersion")
        for n in notes
    )
    assert fit.to_dict()["dispersion_ratio"] == pytest.approx(ref["dispersion_ratio"], rel=1e-5)
