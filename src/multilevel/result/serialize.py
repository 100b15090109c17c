"""The stable machine-readable form of a fit: the field names of the reference fit objects."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from multilevel.result.fit import MixedFit


def _num(x: Any) -> Any:
    """JSON-safe float (NaN/inf -> None)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def random_effects_to_dicts(components: Any) -> list[dict[str, Any]]:
    """The variance components of a fit (linear or generalized) as the reference files write
    them: variances, SDs, covariance and correlation matrices per random block."""
    return [
        {
            "group": vc.group,
            "grouping_factor": vc.grouping_factor,
            "terms": list(vc.terms),
            "variances": [_num(v) for v in vc.variances],
            "std_devs": [_num(v) for v in vc.std_devs],
            "covariance_matrix": [[_num(v) for v in row] for row in vc.covariance],
            "correlation_matrix": [[_num(v) for v in row] for row in vc.correlation],
        }
        for vc in components
    ]


def fit_to_dict(fit: MixedFit, kenward_roger: bool = False) -> dict[str, Any]:
    """A plain dict (JSON-ready) with the reference files' field names, plus run metadata.

    The keys are those of every fit; a GLMM's fixed effects carry Wald ``z_value`` and
    ``p_value`` (as glmer prints them) where a linear mixed model's carry t with Satterthwaite
    df, it has no residual variance (``sigma`` None), and it adds ``nagq``, ``loglik_lme4``,
    ``saturated_loglik`` and (Poisson) ``dispersion_ratio``."""
    glmm = fit.is_glmm
    fe = fit.fixed_effects()
    kr = fit.fixed_effects("kenward-roger") if kenward_roger and fit.reml else None
    fixed = []
    for i, name in enumerate(fit.fixed_names):
        row = {
            "name": name,
            "estimate": _num(fe["estimate"].iloc[i]),
            "std_error": _num(fe["std_error"].iloc[i]),
        }
        if glmm:
            row.update(z_value=_num(fe["z_value"].iloc[i]), p_value=_num(fe["p_value"].iloc[i]))
        else:
            row.update(
                t_value=_num(fe["t_value"].iloc[i]),
                df_satterthwaite=_num(fe["df"].iloc[i]),
                p_value_satterthwaite=_num(fe["p_value"].iloc[i]),
            )
        if kr is not None:
            row.update(
                std_error_kenward_roger=_num(kr["std_error"].iloc[i]),
                df_kenward_roger=_num(kr["df"].iloc[i]),
                p_value_kenward_roger=_num(kr["p_value"].iloc[i]),
            )
        fixed.append(row)
    random = random_effects_to_dicts(fit.random_effects)
    out = {
        "formula": fit.formula,
        "family": fit.family.name,
        "link": fit.link,
        "method": fit.method,
        "reml": fit.reml,
        "n_obs": fit.n_obs,
        "n_groups": dict(fit.n_groups),
        "n_dropped": fit.n_dropped,
        "converged": fit.converged,
        "fixed_effects": fixed,
        "vcov_fixed": [[_num(v) for v in row] for row in np.atleast_2d(fit.vcov_beta)],
        "random_effects": random,
        "sigma": None if glmm else _num(fit.sigma),
        "residual_variance": None if glmm else _num(fit.sigma**2),
        "loglik": _num(fit.loglik),
        "n_params": fit.n_params,
        "deviance": _num(fit.deviance),
        "reml_criterion": _num(fit.reml_criterion),
        "aic": _num(fit.aic),
        "bic": _num(fit.bic),
        "theta": [_num(v) for v in fit.theta],
        "theta_names": list(fit.theta_names),
        "beta": [_num(v) for v in fit.beta],
        "is_singular": fit.is_singular,
        "icc": None if fit.icc is None else {k: _num(v) for k, v in fit.icc.items()},
        "warnings": list(fit.warnings),
        "optimizer": fit.optimization.to_dict(),
    }
    if glmm:
        out.update(
            nagq=fit.nagq,
            loglik_lme4=_num(fit.loglik_lme4),
            saturated_loglik=_num(fit.saturated_loglik),
            dispersion_ratio=_num(fit.dispersion_ratio) if fit.family.name == "poisson" else None,
        )
    residual = getattr(fit, "residual_structure", None)  # hook: multilevel.residual
    if residual is not None:
        out.update(residual.to_dict())
    return out
