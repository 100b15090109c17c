"""Binary-outcome comparison estimators against R (tests/compare/glm_reference.json, made by
make_glm_reference.R): glm, sandwich::vcovCL (HC0, with and without G/(G-1)), geepack::geeglm
(exchangeable, independence) and lme4::glmer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multilevel.compare import compare_estimators
from multilevel.compare.glm import BINOMIAL_ESTIMATORS, ZLA, attenuation
from multilevel.errors import DataError

HERE = Path(__file__).parent
REF = json.loads((HERE / "glm_reference.json").read_text())


@pytest.fixture(scope="module")
def comparison():  # type: ignore[no-untyped-def]
    data = pd.read_csv(HERE / "glmm_binary.csv")
    return compare_estimators(data, "y ~ x + w + (1 | school)", family="binomial")


@pytest.mark.parametrize("name", [n for n in BINOMIAL_ESTIMATORS if n != "one_per_group"])
def test_matches_r(comparison, name: str) -> None:  # type: ignore[no-untyped-def]
    r, ref = comparison[name], REF[name]
    assert list(r.coef_names) == REF["names"]
    np.testing.assert_allclose(r.estimates, ref["estimate"], rtol=1e-4)
    np.testing.assert_allclose(r.std_errors, ref["std_error"], rtol=1e-4)
    if name == "gee_exchangeable":
        assert r.extras["alpha"] == pytest.approx(ref["alpha"], rel=1e-4)
    if "loglik" in ref:
        assert r.loglik == pytest.approx(ref["loglik"], abs=1e-5)


def test_attenuation_explains_the_difference_in_size(comparison) -> None:  # type: ignore[no-untyped-def]
    """GEE's marginal slope is about the GLMM's conditional slope / sqrt(1 + 0.346 tau00)."""
    ml, gee = comparison["multilevel"], comparison["gee_exchangeable"]
    tau00 = ml.extras["tau00"]
    assert tau00 == pytest.approx(REF["multilevel"]["tau00"], rel=1e-4)
    predicted = ml.estimate("x") * attenuation(tau00)
    assert gee.estimate("x") == pytest.approx(predicted, rel=0.1)
    assert gee.estimate("x") < ml.estimate("x")
    assert attenuation(1.0) == pytest.approx(1 / np.sqrt(1 + ZLA))
    assert ZLA == pytest.approx(0.346, abs=1e-3)


def test_one_per_group_is_a_logistic_fit_on_one_row_per_cluster(comparison) -> None:  # type: ignore[no-untyped-def]
    r = comparison["one_per_group"]
    assert np.all(r.std_errors > comparison["glm"].std_errors)  # 80 rows instead of 790
    assert "80 rows" in r.notes[0]


def test_non_binary_outcome_is_refused() -> None:
    data = pd.read_csv(HERE / "glmm_binary.csv").assign(y=lambda d: d.y * 2.0)
    with pytest.raises(DataError, match="0/1"):
        compare_estimators(data, "y ~ x + w + (1 | school)", family="binomial")


def test_cli_json() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "multilevel.cli",
            "compare",
            str(HERE / "glmm_binary.csv"),
            "y ~ x + w + (1 | school)",
            "--family",
            "binomial",
            "--json",
            "--estimators",
            "glm,glm_cluster_cr1,gee_exchangeable",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    d = json.loads(out.stdout)
    est = {e["name"]: e for e in d["estimators"]}
    assert set(est) == {"glm", "glm_cluster_cr1", "gee_exchangeable"}
    coef = {c["name"]: c for c in est["glm_cluster_cr1"]["coefficients"]}
    assert coef["x"]["std_error"] == pytest.approx(REF["glm_cluster_cr1"]["std_error"][1], rel=1e-4)


def test_attenuation_plot(comparison) -> None:  # type: ignore[no-untyped-def]
    from multilevel.compare.glm import attenuation_plot

    fig = attenuation_plot(comparison)
    ax = fig.axes[0]
    cond, implied, marg = (c.get_offsets()[:, 0] for c in ax.collections)
    ml, gee = comparison["multilevel"], comparison["gee_exchangeable"]
    np.testing.assert_allclose(cond, [ml.estimate("x"), ml.estimate("w")])
    np.testing.assert_allclose(implied, cond * attenuation(ml.extras["tau00"]))
    np.testing.assert_allclose(marg, [gee.estimate("x"), gee.estimate("w")])
