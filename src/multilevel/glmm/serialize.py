"""The JSON form of a GLMM fit: the field names of the glmer reference files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from multilevel.result.serialize import _num, random_effects_to_dicts

if TYPE_CHECKING:
    from multilevel.glmm.result import GlmmFit


def glmm_to_dict(fit: GlmmFit) -> dict[str, Any]:
    fe = fit.fixed_effects()
    return {
        "formula": fit.formula,
        "family": fit.family.name,
        "link": fit.link,
        "nagq": fit.nagq,
        "method": "Laplace" if fit.nagq == 1 else f"AGQ({fit.nagq})",
        "n_obs": fit.n_obs,
        "n_groups": dict(fit.n_groups),
        "n_dropped": fit.n_dropped,
        "converged": fit.converged,
        "fixed_effects": [
            {
                "name": name,
                "estimate": _num(r.estimate),
                "std_error": _num(r.std_error),
                "z_value": _num(r.z_value),
                "p_value": _num(r.p_value),
            }
            for name, r in fe.iterrows()
        ],
        "vcov_fixed": [[_num(v) for v in row] for row in np.atleast_2d(fit.vcov_beta)],
        "random_effects": random_effects_to_dicts(fit.random_effects),
        "loglik": _num(fit.loglik),
        "loglik_lme4": _num(fit.loglik_lme4),
        "saturated_loglik": _num(fit.saturated_loglik),
        "deviance": _num(fit.deviance),
        "aic": _num(fit.aic),
        "bic": _num(fit.bic),
        "n_params": fit.n_params,
        "theta": [_num(v) for v in fit.theta],
        "theta_names": list(fit.theta_names),
        "beta": [_num(v) for v in fit.beta],
        "is_singular": fit.is_singular,
        "icc": None if fit.icc is None else {k: _num(v) for k, v in fit.icc.items()},
        "dispersion_ratio": _num(fit.dispersion_ratio) if fit.family.name == "poisson" else None,
        "warnings": list(fit.warnings),
        "optimizer": fit.optimization.to_dict(),
    }
