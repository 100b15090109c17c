"""multilevel.fit against extra lme4 references (make_extra_reference.R in this folder).

The shipped references cover five textbook models; these cases exercise what held-out formulas
will: string factors and ``0 +``, interactions and transforms, ``||``, q = 3, unused levels,
``C(x)``, nested and crossed terms with slopes, missing values and numerically hard fits
(boundary, scales 1e6 apart, extreme imbalance, two groups, collinear predictors). Tolerances
are those of tests/reference/README.md. Known disagreements are strict xfails with the reason.
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


def _params(check: str, models: list[str] | None = None) -> list[Any]:
    out = []
    for model_id in models or list(MODELS):
        for method in METHODS:
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
    return [name_map.get(fe["name"], fe["name"]) for fe in ref_fit(model_id, method)["fixed_effects"]]


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


@pytest.mark.parametrize(
    ("model_id", "method"),
    _params("messages", [m for m in MODELS if any(f["dropped_fixed"] or f["is_singular"]
                                                  for f in MODELS[m]["fits"].values())]),
)
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


@pytest.mark.parametrize(("model_id", "method"), _params("df"))
def test_satterthwaite_df(model_id: str, method: str) -> None:
    ref, fit = ref_fit(model_id, method), fitted(model_id, method)
    if ref["is_singular"]:
        pytest.skip("Satterthwaite df at a boundary optimum are not comparable (lmerTest drops theta)")
    got = dict(zip(fit.fixed_names, fit.df_satterthwaite, strict=True))
    for name, fe in zip(ref_names(model_id, method), ref["fixed_effects"], strict=True):
        assert close(got[name], fe["df_satterthwaite"], 1e-3), (name, got[name], fe["df_satterthwaite"])


@pytest.mark.parametrize(("model_id", "method"), _params("variance"))
def test_variance_components(model_id: str, method: str) -> None:
    ref, fit = ref_fit(model_id, method), fitted(model_id, method)
    assert close(fit.sigma, ref["sigma"], 1e-4), (fit.sigma, ref["sigma"])
    got = {vc.group: vc for vc in fit.random_effects}
    for r in ref["random_effects"]:
        vc = got[r["group"]]
        assert close(vc.variances, r["variances"], 1e-4, 1e-6), (r["group"], vc.variances, r["variances"])
        assert close(vc.correlation, r["correlation_matrix"], 0.0, 1e-3), (r["group"], vc.correlation)


RANEF_MODELS = [m for m in MODELS if MODELS[m]["ranef"]]


@pytest.mark.parametrize(("model_id", "method"), _params("ranef", RANEF_MODELS)[::2])
def test_conditional_modes(model_id: str, method: str) -> None:
    """REML conditional modes and SDs per (factor, term, level), as ``ranef(condVar = TRUE)``."""
    assert method == "reml"
    table = fitted(model_id, "reml").ranef_table()
    got = {(r.group, r.term, str(r.level)): (r.condval, r.condsd) for r in table.itertuples()}
    ref = MODELS[model_id]["ranef"]
    assert len(got) == len(ref)
    for r in ref:
        key = (r["group"], r["term"], r["level"])
        assert key in got, f"no conditional mode for {key}"
        condval, condsd = got[key]
        assert abs(condval - r["condval"]) <= 1e-3 * r["condsd"] + 1e-10, (key, condval, r["condval"])
        assert close(condsd, r["condsd"], 1e-3, 1e-10), (key, condsd, r["condsd"])
