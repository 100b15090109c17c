"""Kenward-Roger: against pbkrtest/lmerTest (tests/reference, kr_reference.json made by
make_kr_reference.R), against a dense N x N transcription of pbkrtest's ``vcovAdj``, and against
the exact Hotelling T^2 test that KR reproduces in a balanced random-slope design."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import MultilevelError
from multilevel.inference import kenward_roger as krmod
from refdata import close, fitted, reference_models

REML_MODELS = [
    (c, m) for c, m in reference_models() if m["fits"]["reml"]["kenward_roger_status"] == "ok"
]
HERE = Path(__file__).parent
KR_REFERENCE = json.loads((HERE / "kr_reference.json").read_text())["cases"]


def _fit(ref: dict) -> multilevel.LmmFit:
    if ref["data"] != "singular":
        return fitted(ref["data"], ref["formula"], True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", multilevel.FitWarning)
        return multilevel.fit(ref["formula"], pd.read_csv(HERE / "kr_singular.csv"))


def test_every_reference_model_is_covered():
    ids = {m["model_id"] for _, m in REML_MODELS}
    assert len(ids) == 11  # hsb 5, sleepstudy 2, exam 2, penicillin, pastes


@pytest.mark.parametrize(
    ("case", "model"), REML_MODELS, ids=[m["model_id"] for _, m in REML_MODELS]
)
def test_fixed_effects_match_lmertest(case, model):
    fit = fitted(case, model["formula"], True)
    got = fit.fixed_effects("kenward-roger")
    ref = model["fits"]["reml"]["fixed_effects"]
    assert list(got.index) == [r["name"] for r in ref]
    for (name, g), r in zip(got.iterrows(), ref, strict=True):
        assert close(g["std_error"], r["std_error_kenward_roger"], 1e-4), name
        assert close(g["df"], r["df_kenward_roger"], 1e-3), name
        assert close(g["p_value"], r["p_value_kenward_roger"], 1e-3, 1e-12), name
    kr = fit.kenward_roger
    np.testing.assert_allclose(kr.std_errors, got["std_error"], rtol=1e-12)
    np.testing.assert_allclose(kr.vcov_unadjusted, fit.vcov_beta, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("ref", KR_REFERENCE, ids=[c["id"] for c in KR_REFERENCE])
def test_f_test_matches_krmodcomp(ref):
    """KRmodcomp for multi-row contrasts, incl. singular fits (a variance estimated as 0)."""
    fit = _fit(ref)
    kr = fit.kenward_roger
    np.testing.assert_allclose(kr.std_errors, np.atleast_1d(ref["std_error_kenward_roger"]), 1e-4)
    np.testing.assert_allclose(kr.df, np.atleast_1d(ref["df_kenward_roger"]), 1e-3)
    t = kr.test(np.array(ref["L"], dtype=float))
    assert t.ndf == ref["ndf"]
    assert close(t.F, ref["F"], 1e-4)
    assert close(t.F_unscaled, ref["F_unscaled"], 1e-4)
    assert close(t.ddf, ref["ddf"], 1e-3)
    assert close(t.scale, ref["F_scaling"], 1e-4)
    assert close(t.p_value, ref["p_value"], 1e-3, 1e-12)
    assert close(t.p_value_unscaled, ref["p_value_unscaled"], 1e-3, 1e-12)
    ref_vcov = np.reshape(ref["vcov_adjusted"], kr.vcov.shape)
    np.testing.assert_allclose(kr.vcov, ref_vcov, rtol=1e-4, atol=1e-12)
    assert close(kr.contrast_df(np.array(ref["L"])), ref["ddf"], 1e-3)


def test_balanced_random_slope_gives_hotelling_t2():
    """sleepstudy: 18 subjects x 10 days, (Days | Subject) with the same X for every subject.
    Then beta_hat is the mean of per-subject OLS fits, and KR is exact: the joint test of both
    coefficients is Hotelling's T^2 with F = (G - 2)/(2 (G - 1)) T^2 on (2, G - 2) df, and
    each single coefficient has a t test on G - 1 df with the unadjusted SE."""
    fit = fitted("sleepstudy", "Reaction ~ Days + (Days | Subject)", True)
    kr = fit.kenward_roger
    G = 18
    np.testing.assert_allclose(kr.df, [G - 1, G - 1], rtol=1e-9)
    np.testing.assert_allclose(kr.vcov, kr.vcov_unadjusted, rtol=1e-9)
    t = kr.test(np.eye(2))
    assert t.ndf == 2
    assert close(t.ddf, G - 2, 1e-9)
    assert close(t.scale, (G - 2) / (G - 1), 1e-9)
    # T^2 from the per-subject OLS coefficients, independently of the mixed model
    d = fit.design
    codes = d.terms[0].codes
    coefs = np.array(
        [np.linalg.lstsq(d.X[codes == j], d.y[codes == j], rcond=None)[0] for j in range(G)]
    )
    mean, S = coefs.mean(0), np.cov(coefs.T)
    T2 = G * mean @ np.linalg.solve(S, mean)
    assert close(t.F, (G - 2) / (2 * (G - 1)) * T2, 1e-6)


def _dense_vcov_adj(fit):
    """pbkrtest's vcovAdj_internal transcribed with N x N matrices (small data only)."""
    d = fit.design
    n, s2 = d.n, fit.sigma**2
    G = []
    for t in d.terms:
        same = (t.codes[:, None] == t.codes[None, :]).astype(float)
        for c in range(t.q):
            for r in range(c, t.q):
                e = np.zeros((t.q, t.q))
                e[r, c] = e[c, r] = 1.0
                G.append(same * (t.Z @ e @ t.Z.T))
    G.append(np.eye(n))
    gamma = [
        v for vc in fit.random_effects for c in range(len(vc.terms)) for v in vc.covariance[c:, c]
    ] + [s2]
    Sigma = sum(g_ * Gr for g_, Gr in zip(gamma, G, strict=True))
    Si = np.linalg.inv(Sigma)
    X = d.X
    Phi = np.linalg.inv(X.T @ Si @ X)
    k = len(G)
    H = [Gr @ Si for Gr in G]
    O = [h @ X for h in H]
    P = [-O[r].T @ Si @ X for r in range(k)]
    Q = [[O[r].T @ Si @ O[s] for s in range(k)] for r in range(k)]
    IE2 = np.array(
        [
            [
                np.sum(H[r].T * H[s])
                - 2 * np.sum(Phi * Q[r][s])
                + np.sum((Phi @ P[r]) * (P[s] @ Phi))
                for s in range(k)
            ]
            for r in range(k)
        ]
    )
    W = 2 * np.linalg.inv(IE2)
    U = sum(W[r, s] * (Q[r][s] - P[r] @ Phi @ P[s]) for r in range(k) for s in range(k))
    return Phi + 2 * Phi @ U @ Phi, np.array(P), W


@pytest.mark.parametrize(
    ("case", "formula"),
    [
        ("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
        ("sleepstudy", "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)"),
        ("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
        ("pastes", "strength ~ 1 + (1 | batch/cask)"),
    ],
)
def test_woodbury_algebra_matches_dense_transcription(case, formula):
    fit = fitted(case, formula, True)
    kr = fit.kenward_roger
    Phi_A, P, W = _dense_vcov_adj(fit)
    np.testing.assert_allclose(kr.vcov, Phi_A, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(kr.P, P, rtol=1e-8, atol=1e-14 * np.abs(P).max())
    np.testing.assert_allclose(kr.W, W, rtol=1e-7, atol=1e-12 * np.abs(W).max())


def test_joint_and_per_group_paths_agree():
    fit = fitted("hsb", "mathach ~ cses * meanses + cses * catholic + (1 + cses | school)", True)
    s2 = fit.sigma**2
    per_group = krmod._kr_matrices(krmod._single_factor_blocks(fit), s2)
    joint = krmod._kr_matrices(krmod._joint_blocks(fit), s2)
    for a, b in zip(per_group, joint, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12 * np.abs(a).max())


def test_rhs_and_contrast_checks():
    fit = fitted("exam", "normexam ~ standLRT + (standLRT | school)", True)
    kr = fit.kenward_roger
    L = np.eye(2)
    t = kr.test(L, rhs=fit.beta)
    assert t.F == pytest.approx(0.0, abs=1e-20) and t.p_value == pytest.approx(1.0)
    # a one-row test is the square of the t statistic with the same df
    t1 = kr.test([0.0, 1.0])
    assert close(t1.F, (fit.beta[1] / kr.std_errors[1]) ** 2, 1e-10)
    assert close(t1.ddf, kr.df[1], 1e-12)
    with pytest.raises(MultilevelError, match="columns"):
        kr.test(np.ones((1, 3)))
    with pytest.raises(MultilevelError, match="full row rank"):
        kr.test(np.array([[1.0, 0.0], [2.0, 0.0]]))


def test_ml_fit_raises():
    fit = fitted("sleepstudy", "Reaction ~ Days + (Days | Subject)", False)
    with pytest.raises(MultilevelError, match="REML"):
        _ = fit.kenward_roger


def test_too_many_crossed_random_effects_raises(monkeypatch):
    fit = fitted("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", True)
    monkeypatch.setattr(krmod, "MAX_JOINT_RANDOM_EFFECTS", 20)
    with pytest.raises(MultilevelError, match="Satterthwaite"):
        krmod.kenward_roger(fit)
