"""``fit.confint(method, level)``: intervals for every parameter with lme4's names.

``wald``: estimate -/+ z SE for the fixed effects; none for the variance parameters (NaN, as
lme4's NA). ``profile``: the ML profile likelihood (inference/profile.py). ``bootstrap``:
percentile intervals of a parametric bootstrap (multilevel.simulate.bootstrap).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.errors import MultilevelError
from multilevel.inference.profile import PhiMap, profile_confint

if TYPE_CHECKING:
    from multilevel.result.fit import LmmFit

METHODS = ("wald", "profile", "bootstrap")
COLUMNS = ["parameter", "lower", "upper", "note"]


def variance_parameter_names(fit: LmmFit) -> list[str]:
    """lme4's names: ``sd_(Intercept)|Subject``, ``cor_Days.(Intercept)|Subject``, ..., sigma."""
    return [p.name for p in PhiMap(fit).params]


def wald_confint(fit: LmmFit, level: float = 0.95) -> pd.DataFrame:
    z = float(stats.norm.ppf(0.5 + level / 2))
    se = np.sqrt(np.diag(fit.vcov_beta))
    rows = [
        {
            "parameter": n,
            "lower": np.nan,
            "upper": np.nan,
            "note": "no Wald interval for a variance parameter (as lme4); use method='profile'",
        }
        for n in variance_parameter_names(fit)
    ]
    for name, b, s in zip(fit.fixed_names, fit.beta, se, strict=True):
        rows.append({"parameter": name, "lower": b - z * s, "upper": b + z * s, "note": ""})
    return pd.DataFrame(rows, columns=COLUMNS)


def bootstrap_confint(
    fit: LmmFit, level: float = 0.95, nsim: int = 1000, seed: int | None = None
) -> pd.DataFrame:
    try:
        from multilevel.simulate import bootstrap
    except ImportError:
        raise MultilevelError(
            "confint(method='bootstrap') needs the parametric bootstrap "
            "(multilevel.simulate.bootstrap), which this installation does not have; use "
            "method='profile' or 'wald'"
        ) from None
    out = bootstrap(fit, nsim, seed=seed).confint(level)
    if "note" not in out.columns:
        out = out.assign(note="")
    return out[COLUMNS]


def confint(
    fit: LmmFit,
    method: str = "profile",
    level: float = 0.95,
    *,
    parm: list[str] | None = None,
    nsim: int = 1000,
    seed: int | None = None,
) -> pd.DataFrame:
    """Columns parameter, lower, upper (and note: why a limit is missing); ``parm`` limits the
    rows to the parameters named (lme4's ``parm``)."""
    key = str(method).lower()
    if not 0 < level < 1:
        raise MultilevelError(f"level must be between 0 and 1, not {level!r}")
    if getattr(fit, "residual_structure", None) is not None and key != "wald":
        # hook: multilevel.residual (profiles and bootstrap refit without the structure)
        raise MultilevelError(
            f"confint method {method!r} is not available for a fit with a residual correlation "
            "or variance function; use method='wald'"
        )
    if key == "profile":
        return profile_confint(fit, level, parm)
    if key == "wald":
        out = wald_confint(fit, level)
    elif key in ("bootstrap", "boot"):
        out = bootstrap_confint(fit, level, nsim=nsim, seed=seed)
    else:
        raise MultilevelError(f"unknown confint method {method!r}: use one of {', '.join(METHODS)}")
    if parm is None:
        return out
    unknown = [p for p in parm if p not in set(out.parameter)]
    if unknown:
        raise MultilevelError(
            f"no parameter {unknown[0]!r} in the model; parameters: {', '.join(out.parameter)}"
        )
    return out[out.parameter.isin(parm)].reset_index(drop=True)
