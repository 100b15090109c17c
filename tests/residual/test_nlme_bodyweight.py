"""nlme on BodyWeight (tests/residual/nlme_bodyweight/make_bodyweight.R): varPower of the fitted
values or of a column, and continuous-time AR(1) with varPower, where nlme's default start stops
at a local optimum 0.53 log-likelihood units short and nlme started at our estimates reaches
ours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel

HERE = Path(__file__).parent / "nlme_bodyweight"
REF = json.loads((HERE / "bodyweight.json").read_text())
FORMULA = "weight ~ Time * Diet + (1 | Rat)"


def _data() -> pd.DataFrame:
    d = pd.read_csv(HERE / "bodyweight.csv", dtype={"Rat": str, "Diet": str})
    return d.assign(Time1=d["Time"] + 1)


def _check(fit, ref: dict) -> None:  # type: ignore[no-untyped-def]
    np.testing.assert_allclose(fit.loglik, ref["loglik"], atol=2e-4)
    np.testing.assert_allclose(fit.beta, ref["fixed_effects"], rtol=1e-4)
    np.testing.assert_allclose(fit.std_errors, ref["std_errors"], rtol=3e-3)
    structure = fit.residual_structure
    np.testing.assert_allclose(structure.power, ref["power"], atol=3e-3)
    np.testing.assert_allclose(fit.sigma * structure.sigma_scale_nlme, ref["sigma"], rtol=3e-3)


@pytest.mark.parametrize(("model", "covariate"), [("power_fitted", None), ("power_time1", "Time1")])
def test_var_power_matches_nlme(model: str, covariate: str | None) -> None:
    fit = multilevel.fit(FORMULA, _data(), variance=multilevel.VarPower(covariate), warn=False)
    _check(fit, REF[model])


def test_car1_with_var_power_beats_nlme_default_and_equals_nlme_from_our_start() -> None:
    fit = multilevel.fit(
        FORMULA,
        _data(),
        correlation=multilevel.CAR1(time="Time"),
        variance=multilevel.VarPower(),
        warn=False,
    )
    assert fit.loglik > REF["car1_power_default"]["loglik"] + 0.5
    _check(fit, REF["car1_power_from_ours"])
    np.testing.assert_allclose(
        fit.residual_structure.phi, REF["car1_power_from_ours"]["phi"], atol=2e-3
    )
