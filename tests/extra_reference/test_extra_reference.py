"""multilevel.fit against extra lme4 references (make_extra_reference.R in this folder).

The shipped references cover five textbook models; these cases exercise what held-out formulas
will: string, logical and Categorical factors (unused levels, mixed-case labels), ``0 +`` and
``- 1``, interactions and transforms (also in random terms and the response), ``C(x)``, ``||``,
q = 3, nested and crossed terms with slopes, missing values and numerically hard fits (boundary,
scales 1e6 apart, extreme imbalance, two groups, collinear predictors). Tolerances are those of
tests/reference/README.md. Known disagreements are strict xfails with the reason.
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import multilevel

HERE = Path(__file__).parent
CASES = {p.stem: json.loads(p.read_text()) for p in sorted(HERE.glob("*.json"))}
MODELS = {m["model_id"]: m for case in CASES.values() for m in case["models"]}
METHODS = ("reml", "ml")

#: (model_id, method or None for both, check) -> reason. Each is a bug to fix, not a tolerance.
XFAIL: dict[tuple[str, str | None, str], str] = {}


def _params(
    check: str, models: list[str] | None = None, methods: tuple[str, ...] = METHODS
) -> list[Any]:
    out = []
    for model_id in models or list(MODELS):
        for method in methods:
            if method not in MODELS[model_id]["fits"]:
                continue
            reason = XFAIL.get((model_id, method, check)) or XFAIL.get((model_id, None, check))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(model_id, method, id=f"{model_id}-{method}", marks=marks))
    return out


@functools.cache
def _data(data_file: str, categorical: str) -> pd.DataFrame:
    if data_file.startswith("package:"):
        df = multilevel.datasets.load(data_file.split(":", 1)[1])
    else:
        df = pd.read_csv(HERE / data_file)
    for col, levels in json.loads(categorical).items():
        df[col] = pd.Categorical(df[col], categories=levels)
    return df


def data_for(model: dict[str, Any]) -> pd.DataFrame:
    return _data(model["data_file"], json.dumps(model["categorical"], sort_keys=True))


@functools.cache
def fitted(model_id: str, method: str) -> Any:
    model = MODELS[model_id]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return multilevel.fit(model["python_formula"], data_for(model), reml=method == "reml")


def ref_fit(model_id: str, method: str) -> dict[str, Any]:
    return MODELS[model_id]["fits"][method]


def ref_names(model_id: str, method: str) -> list[str]:
    name_map = MODELS[model_id]["name_map"]
    fixed = ref_fit(model_id, method)["fixed_effects"]
    return [name_map.get(fe["name"], fe["name"]) for fe in fixed]


def close(got: Any, ref: Any, rtol: float, atol: float = 0.0) -> bool:
    got, ref = np.asarray(got, float), np.asarray(ref, float)
    return bool(np.all(np.abs(got - ref) <= atol + rtol * np.abs(ref)))


# ---------------------------------------------------------------------------- structure


@pytest.mark.parametrize(("model_id", "method"), _params("structure"))
def test_structure(model_id: str, method: str) -> None:
    """Same observations, groups, fixed-effect names (lme4 order), dropped columns, blocks."""
    ref, fit = ref_fit(model_id, method), fitted(model_id, method)
    assert fit.n_obs == ref["n_obs"]
    assert fit.n_dropped == len(data_for(MODELS[model_id])) - ref["n_obs"]
    assert dict(fit.n_groups) == ref["n_groups"]
    assert list(fit.fixed_names) == ref_names(model_id, method)
    assert list(fit.design.fixed.dropped) == ref["dropped_fixed"]
    assert fit.n_params == ref["n_params"]
    got = [(vc.group, vc.grouping_factor, list(vc.terms)) for vc in fit.random_effects]
    want = [(r["group"], r["grouping_factor"], r["terms"]) for r in ref["random_effects"]]
    assert got == want
    assert list(fit.theta_names) == ref["theta_names"]


@pytest.mark.parametrize(("model_id", "method"), _params("singular"))
def test_singular_flag(model_id: str, method: str) -> None:
    assert fitted(model_id, method).is_singular == ref_fit(model_id, method)["is_singular"]


NOTABLE = [
    m
    for m in MODELS
    if any(f["dropped_fixed"] or f["is_singular"] for f in MODELS[m]["fits"].values())
]


@pytest.mark.parametrize(("model_id", "method"), _params("messages", NOTABLE))
def test_messages_say_what_happened(model_id: str, method: str) -> None:
    """A dropped column is named in a warning; a singular fit says so (lme4 does both)."""
    ref, fit = ref_fit(model_id, method), fitted(model_id, method)
    text = " ".join(fit.warnings).lower()
    for name in ref["dropped_fixed"]:
        assert name.lower() in text
    if ref["is_singular"]:
        assert "singular" in text


# ---------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(("model_id", "method"), _params("loglik"))
def test_loglik(model_id: str, method: str) -> None:
    """At least as high as lme4's (to 1e-6); more than 1e-3 higher would mean another likelihood."""
    ll, ref = fitted(model_id, method).loglik, ref_fit(model_id, method)["loglik"]
    assert ll >= ref - 1e-6, f"loglik {ll!r} < lme4 {ref!r}"
    assert ll <= ref + 1e-3, f"loglik {ll!r} >> lme4 {ref!r}"


@pytest.mark.parametrize(("model_id", "method"), _params("fixed"))
def test_fixed_effects(model_id: str, method: str) -> None:
    ref, fit = ref_fit(model_id, method), fitted(model_id, method)
    got = dict(zip(fit.fixed_names, zip(fit.beta, fit.std_errors, strict=True), strict=True))
    for name, fe in zip(ref_names(model_id, method), ref["fixed_effects"], strict=True):
        est, se = got[name]
        assert close(est, fe["estimate"], 1e-4, 1e-3 * fe["std_error"]), (name, est, fe["estimate"])
        assert close(se, fe["std_error"], 1e-4), (name, se, fe["std_error"])


@pytest.mark.parametrize(("model_id", "method"), _params("vcov"))
def test_vcov_and_theta(model_id: str, method: str) -> None:
    """vcov(beta) to 1e-4 of sqrt(v_ii v_jj); theta (lme4's parameterisation) to atol 1e-4."""
    ref, fit = ref_fit(model_id, method), fitted(model_id, method)
    order = [list(fit.fixed_names).index(n) for n in ref_names(model_id, method)]
    V = np.asarray(fit.vcov_beta)[np.ix_(order, order)]
    Vref = np.asarray(ref["vcov_fixed"], float)
    scale = np.sqrt(np.outer(np.diag(Vref), np.diag(Vref)))
    assert np.all(np.abs(V - Vref) <= 1e-4 * scale), np.max(np.abs(V - Vref) / scale)
    assert close(fit.theta, ref["theta"], 0.0, 1e-4), (fit.theta, ref["theta"])


@pytest.mark.parametrize(("model_id", "method"), _params("to_dict"))
def test_to_dict(model_id: str, method: str) -> None:
    """The machine-readable form carries the reference field names and values."""
    ref, out = ref_fit(model_id, method), fitted(model_id, method).to_dict()
    for key in ("n_obs", "n_groups", "n_params", "is_singular", "method", "reml"):
        assert out[key] == ref[key], key
    for key in ("aic", "bic", "deviance", "reml_criterion"):
        if ref[key] is None:
            assert out[key] is None, key
        else:  # -2 loglik: ours may only be lower (a better optimum), by at most 2e-6
            assert out[key] <= ref[key] + 2e-6 and out[key] >= ref[key] - 2e-3, key
    assert [fe["name"] for fe in out["fixed_effects"]] == ref_names(model_id, method)
    assert [r["group"] for r in out["random_effects"]] == [
        r["group"] for r in ref["random_effects"]
    ]


@pytest.mark.parametrize(("model_id", "method"), _params("df"))
def test_satterthwaite_df(model_id: str, method: str) -> None:
    ref, fit = ref_fit(model_id, method), fitted(model_id, method)
    if ref["is_singular"]:
        pytest.skip("singular fit: lmerTest df at a boundary optimum are not compared")
    got = dict(zip(fit.fixed_names, fit.df_satterthwaite, strict=True))
    for name, fe in zip(ref_names(model_id, method), ref["fixed_effects"], strict=True):
        df = fe["df_satterthwaite"]
        assert close(got[name], df, 1e-3), (name, got[name], df)


@pytest.mark.parametrize(("model_id", "method"), _params("variance"))
def test_variance_components(model_id: str, method: str) -> None:
    ref, fit = ref_fit(model_id, method), fitted(model_id, method)
    assert close(fit.sigma, ref["sigma"], 1e-4), (fit.sigma, ref["sigma"])
    got = {vc.group: vc for vc in fit.random_effects}
    for r in ref["random_effects"]:
        vc = got[r["group"]]
        var, corr = r["variances"], r["correlation_matrix"]
        assert close(vc.variances, var, 1e-4, 1e-6), (r["group"], vc.variances, var)
        assert close(vc.correlation, corr, 0.0, 1e-3), (r["group"], vc.correlation, corr)


RANEF_MODELS = [m for m in MODELS if MODELS[m]["ranef"]]


@pytest.mark.parametrize(("model_id", "method"), _params("ranef", RANEF_MODELS, ("reml",)))
def test_conditional_modes(model_id: str, method: str) -> None:
    """REML conditional modes and SDs per (factor, term, level), as ``ranef(condVar = TRUE)``."""
    assert method == "reml"
    table = fitted(model_id, "reml").ranef_table()
    got = {(r.group, r.term, str(r.level)): (r.condval, r.condsd) for r in table.itertuples()}
    ref = MODELS[model_id]["ranef"]
    # At a boundary lme4 stops at theta ~ 1e-8 rather than 0 (hard_zero_variance: condsd 1.5e-8
    # against our exact 0): an absolute floor of 1e-6 sigma treats both as zero.
    floor = 1e-6 * ref_fit(model_id, "reml")["sigma"]
    assert len(got) == len(ref)
    for r in ref:
        key = (r["group"], r["term"], r["level"])
        assert key in got, f"no conditional mode for {key}"
        condval, condsd = got[key]
        tol = 1e-3 * r["condsd"] + floor
        assert abs(condval - r["condval"]) <= tol, (key, condval, r["condval"])
        assert close(condsd, r["condsd"], 1e-3, floor), (key, condsd, r["condsd"])


@pytest.mark.parametrize(("model_id", "method"), _params("icc"))
def test_icc(model_id: str, method: str) -> None:
    """Null models: tau_g / (sum of intercept variances + sigma^2) per factor; otherwise None."""
    ref, fit = ref_fit(model_id, method), fitted(model_id, method)
    if ref["icc"] is None:
        assert fit.icc is None
        return
    assert fit.icc is not None
    assert set(fit.icc) == set(ref["icc"])
    for group, value in ref["icc"].items():
        assert close(fit.icc[group], value, 1e-4, 1e-6), (group, fit.icc[group], value)
