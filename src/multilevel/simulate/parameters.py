"""The parameters as lme4's ``confint`` names them (``oldNames = FALSE``): for each random term
the standard deviations and correlations of its block (``sd_(Intercept)|Subject``,
``cor_Days.(Intercept)|Subject``, ``sd_Days|Subject``, in the order of theta), then ``sigma``,
then the fixed effects."""

from __future__ import annotations

import numpy as np

from multilevel.design.model import ModelDesign


def parameter_names(design: ModelDesign) -> list[str]:
    names = []
    for t in design.terms:
        rows, cols = t.tril
        for r, c in zip(rows, cols, strict=True):
            if r == c:
                names.append(f"sd_{t.term_names[r]}|{t.grouping_factor}")
            else:
                names.append(f"cor_{t.term_names[r]}.{t.term_names[c]}|{t.grouping_factor}")
    return [*names, "sigma", *design.fixed.names]


def parameter_values(
    design: ModelDesign, theta: np.ndarray, sigma: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    """(S, m) values for thetas (S, k), sigmas (S,) and betas (S, p), in :func:`parameter_names`'
    order. A correlation with a zero standard deviation is NaN (lme4 shows NaN too)."""
    theta = np.atleast_2d(theta)
    sigma = np.atleast_1d(np.asarray(sigma, float))
    S = theta.shape[0]
    out = []
    k = 0
    for t in design.terms:
        rows, cols = t.tril
        L = np.zeros((S, t.q, t.q))
        L[:, rows, cols] = theta[:, k : k + t.n_theta]
        k += t.n_theta
        cov = (sigma**2)[:, None, None] * np.einsum("sab,scb->sac", L, L)
        sd = np.sqrt(np.einsum("saa->sa", cov))
        for r, c in zip(rows, cols, strict=True):
            if r == c:
                out.append(sd[:, r])
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    out.append(
                        np.where(
                            sd[:, r] * sd[:, c] > 0, cov[:, r, c] / (sd[:, r] * sd[:, c]), np.nan
                        )
                    )
    out.append(sigma)
    return np.column_stack([*out, np.atleast_2d(beta)]) if out else np.atleast_2d(beta)
