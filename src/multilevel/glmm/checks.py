"""What the data and the estimates say about a GLMM fit, as notes recorded in the result:
groups whose outcomes are all 0 or all 1 (or all zero counts), and separation."""

from __future__ import annotations

import numpy as np

from multilevel.glmm.design import GlmmDesign

#: a logit/probit coefficient times the SD of its predictor beyond this is implausible: the
#: fitted probabilities are 0 or 1, the signature of (quasi-)complete separation
SEPARATION_EFFECT = 10.0


def data_notes(gd: GlmmDesign) -> list[str]:
    """Groups with outcomes all at one extreme: estimated, not dropped (as lme4)."""
    out: list[str] = []
    if gd.kind == "poisson":
        return out
    successes = gd.y * gd.weights
    for t in gd.base.terms[:1] if gd.base.is_nested_single else gd.base.terms:
        if t.term_names[0] != "(Intercept)":
            continue
        s = np.bincount(t.codes, weights=successes, minlength=t.n_levels)
        n = np.bincount(t.codes, weights=gd.weights, minlength=t.n_levels)
        all0 = int(np.sum((s == 0) & (n > 0)))
        all1 = int(np.sum((s == n) & (n > 0)))
        if all0 or all1:
            out.append(
                f"{all0} {t.grouping_factor} group(s) have only failures (0) and {all1} only "
                f"successes (1) among {t.n_levels}; they are kept: their maximum-likelihood "
                "intercepts would be -/+infinity, the random-effects distribution shrinks them "
                "to finite modes (they still inform the variance and the fixed effects)"
            )
    return out


def fit_notes(gd: GlmmDesign, beta: np.ndarray, vcov: np.ndarray) -> list[str]:
    """(Quasi-)complete separation: a fixed effect whose size on the link scale, per SD of its
    predictor, is implausibly large (its Wald test is then meaningless)."""
    if gd.family.name != "binomial":
        return []
    X = gd.base.X
    names = gd.base.fixed.names
    out = []
    for j, name in enumerate(names):
        sd = float(np.std(X[:, j]))
        if name == "(Intercept)" or sd == 0:
            continue
        if abs(beta[j]) * sd > SEPARATION_EFFECT:
            out.append(
                f"separation: the estimate of {name} ({beta[j]:.3g}, SE "
                f"{np.sqrt(max(vcov[j, j], 0)):.3g}) is so large that the fitted probabilities "
                "are 0 or 1: the outcome is (quasi-)perfectly predicted by it, so this estimate "
                "and its test are not meaningful (remove or merge categories, or use a penalised "
                "method)"
            )
    if len(names) and names[0] == "(Intercept)" and abs(beta[0]) > 15:
        out.append(
            f"the intercept is {beta[0]:.3g} on the link scale: fitted probabilities are near 0 "
            "or 1 for typical rows; check for separation or an outcome that hardly varies"
        )
    return out
