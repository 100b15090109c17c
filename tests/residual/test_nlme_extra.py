"""More nlme 3.1-162 references made here (tests/residual/nlme_extra/make_nlme_extra.R):
varPower of the fitted values and of a column, AR1 and varIdent together, AR1 with gaps in
integer times and CAR1 on real times (rows shuffled)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel

HERE = Path(__file__).parent
EXTRA = json.loads((HERE / "nlme_extra" / "nlme_extra.json").read_text())["models"]
FILES = {
    "sleepstudy": HERE / "nlme_reference" / "sleepstudy.csv",
    "orthodont": HERE / "nlme_reference" / "orthodont.csv",
    "sleep_gaps": HERE / "nlme_extra" / "sleep_gaps.csv",
}
SPECS = {
    "sleep_varpower_fitted": (None, multilevel.VarPower()),
    "orth_varpower_age": (None, multilevel.VarPower(covariate="age")),
    "orth_ar1_varident": (multilevel.AR1(time="occasion"), multilevel.VarIdent(by="Sex")),
    "gaps_ar1": (multilevel.AR1(time="Days"), None),
    "gaps_car1_t": (multilevel.CAR1(time="t"), None),
}


def _data(name: str) -> pd.DataFrame:
    d = pd.read_csv(FILES[name])
    d["Subject"] = d["Subject"].astype(str)
    return d


@pytest.mark.parametrize("model", EXTRA, ids=[m["model_id"] for m in EXTRA])
@pytest.mark.parametrize("method", ["reml", "ml"])
def test_matches_nlme(model, method):
    ref = model["fits"][method]
    correlation, variance = SPECS[model["model_id"]]
    formula = f"{model['fixed']} + ({model['random'].lstrip('~').strip()})"
    fit = multilevel.fit(
        formula,
        _data(model["data"]),
        reml=method == "reml",
        correlation=correlation,
        variance=variance,
        warn=False,
    )
    n, p = fit.n_obs, len(fit.beta)
    # varPower(fitted) alternates between the power and the fitted values (nlme too): ~1e-7
    np.testing.assert_allclose(fit.loglik, ref["loglik"], atol=2e-4)
    np.testing.assert_allclose(fit.beta, ref["fixed_effects"], rtol=1e-4)
    se = np.array(ref["std_errors"]) * (np.sqrt((n - p) / n) if method == "ml" else 1.0)
    np.testing.assert_allclose(fit.std_errors, se, rtol=3e-3)
    # VarPower: our sigma is the SD at the geometric mean v0 of |v|, nlme's at |v| = 1
    sigma = fit.sigma * fit.residual_structure.sigma_scale_nlme
    np.testing.assert_allclose(sigma, ref["sigma"], rtol=2e-3)
    np.testing.assert_allclose(fit.random_effects[0].variances, ref["re_variances"], rtol=3e-3)
    assert fit.n_params == ref["n_params"]
    r = fit.residual_structure
    if ref["correlation"]:
        np.testing.assert_allclose(r.phi, next(iter(ref["correlation"].values())), atol=2e-3)
    if variance is not None and isinstance(variance, multilevel.VarPower):
        np.testing.assert_allclose(r.power, ref["variance"]["power"], atol=3e-3)
    elif variance is not None:
        for k, v in ref["variance"].items():
            np.testing.assert_allclose(r.sd_ratios[k], v, rtol=3e-3)
