"""Random slopes about a shift (issue 11): a random slope on a predictor far from zero gives the
loglik, slope, sigma and slope variance of the centred model to 1e-8, and the intercept-related
parameters as the exact transform T = [[1, -c], [0, 1]] of the centred fit's, in memory and in
chunks; lme4 agrees where it still converges (random_shift_reference/, lme4 1.1-31)."""

from __future__ import annotations

import json
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.design import build_design
from multilevel.design.random_shift import (
    RandomShift,
    TermShift,
    centre_random_slopes,
    centre_zterms,
    congruent_cholesky,
    learn_shifts,
    shifts_of_gram,
    varying,
)
from multilevel.errors import FitWarning, MultilevelError

HERE = Path(__file__).parent / "random_shift_reference"
DATA = pd.read_csv(HERE / "random_shift.csv")
REFERENCE = {
    (f["id"], f["reml"]): f
    for f in json.loads((HERE / "random_shift_reference.json").read_text())["fits"]
}


def _fit(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        return multilevel.fit(formula, data, **kw)


def _T(c: float) -> np.ndarray:
    """b(x) = T b(x - c): the random intercept at x = 0 from the one at x = c."""
    return np.array([[1.0, -c], [0.0, 1.0]])


# ---------------------------------------------------------------------- the algebra
def test_congruent_cholesky_is_exact_where_floating_point_cancels():
    """T L with c = 1e9: numpy's Cholesky of the product loses the slope block entirely; the
    exact LDL' gives L11 = det(L) / L00 (det T = 1) to a few ulp."""
    L = np.array([[0.8, 0.0], [0.3, 0.25]])
    c = 1e9
    got = congruent_cholesky(_T(c), L)
    r0 = np.array([0.8 - c * 0.3, -c * 0.25])  # row 0 of T L, exact enough (no cancellation)
    L00 = np.hypot(*r0)
    want = np.array([[L00, 0.0], [(0.3 * r0[0] + 0.25 * r0[1]) / L00, 0.8 * 0.25 / L00]])
    np.testing.assert_allclose(got, want, rtol=1e-14)
    S = _T(c) @ L @ L.T @ _T(c).T
    naive = S[1, 1] - S[1, 0] ** 2 / S[0, 0]  # floating point: the digits are gone
    assert abs(naive - want[1, 1] ** 2) > 10 * want[1, 1] ** 2  # 100 times off


def test_congruent_cholesky_general_and_singular():
    rng = np.random.default_rng(1)
    L = np.tril(rng.normal(size=(4, 4)))
    np.fill_diagonal(L, np.abs(np.diag(L)) + 0.1)
    T = np.eye(4)
    T[0, 1:] = [-2.5, 0.0, 4.0]
    got = congruent_cholesky(T, L)
    np.testing.assert_allclose(got, np.linalg.cholesky(T @ L @ L.T @ T.T), rtol=1e-12)
    L[3, 3] = 0.0  # a boundary fit: rank 3, the last pivot exactly zero
    got = congruent_cholesky(T, L)
    np.testing.assert_allclose(got @ got.T, T @ L @ L.T @ T.T, rtol=1e-12, atol=1e-12)
    assert got[3, 3] == 0.0 and np.all(np.diag(got) >= 0)


def test_only_far_columns_of_terms_with_an_intercept_are_shifted():
    rng = np.random.default_rng(0)
    Z = np.column_stack([np.ones(300), 1e6 + rng.normal(size=300), rng.normal(size=300)])
    c = shifts_of_gram(Z.T @ Z, 0)
    assert c is not None and c[0] == 0 and c[2] == 0
    assert c[1] == pytest.approx(Z[:, 1].mean(), rel=1e-12)
    assert shifts_of_gram(Z[:, [0, 2]].T @ Z[:, [0, 2]], 0) is None
    Z[:, 2] += 4.0  # 4 SDs from zero: left as it is; 6 SDs: centred
    assert shifts_of_gram(Z[:, [0, 2]].T @ Z[:, [0, 2]], 0) is None
    Z[:, 2] += 2.0
    assert shifts_of_gram(Z[:, [0, 2]].T @ Z[:, [0, 2]], 0) is not None
    assert varying(c, lambda j: Z[:, j]) is c or varying(c, lambda j: Z[:, j])[1] == c[1]
    assert varying(c, lambda j: np.full(300, 7.0)) is None  # constant: the intercept again
    far = DATA.assign(x=DATA["x"] + 1e9)
    for formula in ["y ~ x + (0 + x | g)", "y ~ x + (1 + x || g)", "y ~ x + (1 | g)"]:
        design = build_design(formula, far)
        assert centre_random_slopes(design) == (design, None), formula  # the model would change
    design = build_design("y ~ x + (1 + x | g) + (1 | h)", far)
    work, shift = centre_random_slopes(design)
    assert shift is not None and [s.name for s in shift.terms] == ["g"]
    assert shift.terms[0].c[1] == pytest.approx(far["x"].mean(), rel=1e-12)
    z = work.terms[[t.name for t in work.terms].index("g")].Z
    np.testing.assert_allclose(z[:, 1], DATA["x"] - DATA["x"].mean(), atol=1e-6)


def test_chunk_columns_are_shifted_as_the_sample_says():
    x = np.array([1e9 + 0.5, 1e9 - 0.5, 1e9 + 1.5, 1e9 - 1.5])
    zterms = [[(None, np.ones(4)), ("x", x)], [(None, np.ones(4))]]
    shift = learn_shifts([("g", ("(Intercept)", "x")), ("h", ("(Intercept)",))], zterms)
    assert shift is not None and len(shift.terms) == 1 and shift.terms[0].c[1] == 1e9
    out = centre_zterms(["g", "h"], zterms, shift)
    np.testing.assert_array_equal(out[0][1][1], [0.5, -0.5, 1.5, -1.5])
    assert out[0][1][0] != "x" and out[1] is zterms[1]
    assert centre_zterms(["g", "h"], zterms, None) is zterms


def test_term_shift_T_maps_modes_back():
    s = TermShift("g", 0, np.array([0.0, 3.0, -1.0]), ("(Intercept)", "x", "z"))
    np.testing.assert_array_equal(s.T, [[1.0, -3.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert RandomShift((s,)).get("g") is s and RandomShift((s,)).get("h") is None
    assert "centre x" in s.note() and "'g'" in s.note()


# ---------------------------------------------------------------------- fits
@pytest.mark.parametrize("chunk_rows", [None, 70])
@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("offset", [1e4, 1e9])
def test_a_random_slope_on_a_far_predictor(offset, reml, chunk_rows):
    """Before: 'numerically singular' at x + 1e9. The loglik, slope, sigma, tau11 and the slope's
    SE equal the fit on x to 1e-8; tau00, tau01, theta and the modes are T of that fit's."""
    ref = _fit("y ~ x + (1 + x | g)", DATA, reml=reml)
    got = _fit(
        "y ~ x + (1 + x | g)", DATA.assign(x=DATA["x"] + offset), reml=reml, chunk_rows=chunk_rows
    )
    assert got.loglik == pytest.approx(ref.loglik, rel=1e-8)
    assert got.sigma == pytest.approx(ref.sigma, rel=1e-8)
    assert got.beta[1] == pytest.approx(ref.beta[1], rel=1e-8)
    assert got.std_errors[1] == pytest.approx(ref.std_errors[1], rel=1e-8)
    assert got.df_satterthwaite[1] == pytest.approx(ref.df_satterthwaite[1], rel=1e-6)
    assert got.beta[0] == pytest.approx(ref.beta[0] - offset * ref.beta[1], rel=1e-8)
    T = _T(offset)
    S_ref = ref.random_effects[0].covariance
    S = got.random_effects[0].covariance
    assert S[1, 1] == pytest.approx(S_ref[1, 1], rel=1e-7)
    np.testing.assert_allclose(S, T @ S_ref @ T.T, rtol=1e-7)
    np.testing.assert_allclose(got.theta, _theta_at(S_ref, offset, ref.sigma), rtol=1e-6)
    b_ref, b = ref.modes["g"], got.modes["g"]
    np.testing.assert_allclose(b.b, b_ref.b @ T.T, rtol=1e-6, atol=1e-9 * offset)
    np.testing.assert_allclose(b.cond_var, T @ b_ref.cond_var @ T.T, rtol=1e-6)
    assert got.random_effects[0].correlation[0, 1] < -0.99  # the intercept at x = 0
    assert any("centre x" in w for w in got.warnings)


def _theta_at(S0: np.ndarray, c: float, sigma: float) -> np.ndarray:
    """theta of T Sigma0 T' in closed form: the entries with all their digits (exact rational
    Sigma, det Sigma = det Sigma0)."""
    s00, s10, s11 = (Fraction(v) for v in (S0[0, 0], S0[1, 0], S0[1, 1]))
    cc = Fraction(c)
    t00 = s00 - 2 * cc * s10 + cc * cc * s11
    t10 = s10 - cc * s11
    det = s00 * s11 - s10 * s10
    sd0 = np.sqrt(float(t00))
    return np.array([sd0, float(t10) / sd0, np.sqrt(float(det)) / sd0]) / sigma


@pytest.mark.parametrize("chunk_rows", [None, 70])
def test_crossed_terms_and_a_second_slope(chunk_rows):
    """Two grouping factors, each with a random slope on the far x; the random intercept of h
    alone stays as it is."""
    formula = "y ~ x + (1 + x | g) + (1 + x | h)"
    ref = _fit(formula, DATA, reml=False)
    far = DATA.assign(x=DATA["x"] + 1e9)
    got = _fit(formula, far, reml=False, chunk_rows=chunk_rows)
    assert got.loglik == pytest.approx(ref.loglik, rel=1e-8)
    assert got.beta[1] == pytest.approx(ref.beta[1], rel=1e-7)
    T = _T(1e9)
    for vc_got, vc_ref in zip(got.random_effects, ref.random_effects, strict=True):
        np.testing.assert_allclose(vc_got.covariance, T @ vc_ref.covariance @ T.T, rtol=1e-5)
    mixed = "y ~ x + (1 + x | g) + (1 | h)"
    ref, got = _fit(mixed, DATA, reml=False), _fit(mixed, far, reml=False, chunk_rows=chunk_rows)
    assert got.loglik == pytest.approx(ref.loglik, rel=1e-8)
    h = [vc.group for vc in got.random_effects].index("h")
    assert got.random_effects[h].covariance[0, 0] == pytest.approx(
        ref.random_effects[h].covariance[0, 0], rel=1e-6
    )
    np.testing.assert_allclose(got.modes["h"].b, ref.modes["h"].b, rtol=1e-5, atol=1e-8)


def test_weights_and_fitted_values():
    """Precision weights: Z's intercept column is sqrt(w), the shift is taken about it. (x + 1e3:
    with weights, X itself is not yet shifted, so x + 1e9 fails in the fixed part.)"""
    w = 0.5 + np.arange(len(DATA)) % 3
    ref = _fit("y ~ x + (1 + x | g)", DATA, weights=w)
    got = _fit("y ~ x + (1 + x | g)", DATA.assign(x=DATA["x"] + 1e3), weights=w)
    assert got.loglik == pytest.approx(ref.loglik, rel=1e-8)
    np.testing.assert_allclose(
        got.random_effects[0].covariance,
        _T(1e3) @ ref.random_effects[0].covariance @ _T(1e3).T,
        rtol=1e-6,
    )
    np.testing.assert_allclose(got.fitted, ref.fitted, atol=1e-5)  # X beta + Z b at x + 1e3


def test_the_summary_says_where_the_intercept_is():
    got = _fit("y ~ x + (1 + x | g)", DATA.assign(x=DATA["x"] + 1e9))
    text = got.summary().to_text()
    assert "random intercept of 'g' is at x = 0, far outside the data" in text
    assert "centre x" in text


# ---------------------------------------------------------------------- lme4
@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("model", ["slope", "slope_10", "slope_30", "crossed", "crossed_10"])
def test_tau_equal_lme4_where_lme4_converges(model, reml):
    """lme4 finds the optimum up to x + 30 (the better of bobyqa and Nelder-Mead): tau00, tau01,
    tau11 and the loglik agree."""
    case = REFERENCE[model, reml]
    got = _fit(case["formula"], DATA.assign(x10=DATA["x"] + 10, x30=DATA["x"] + 30), reml=reml)
    assert got.loglik == pytest.approx(case["loglik"], abs=1e-6)
    g = [vc.group for vc in got.random_effects].index("g")
    np.testing.assert_allclose(got.random_effects[g].covariance.ravel(), case["tau_g"], rtol=2e-4)
    assert got.beta[1] == pytest.approx(case["beta"][1], rel=1e-5)


@pytest.mark.parametrize("chunk_rows", [None, 70])
def test_x_plus_1000_against_lme4(chunk_rows):
    """At x + 1000 (shifted here: mean/SD ~ 1000) lme4's ML fit with Nelder-Mead still finds the
    optimum: tau00 = 68016, tau01 = -68.08 agree; its REML fit stops at a boundary point 2.5
    log-likelihood units short, while ours equals lme4's REML fit on x."""
    ml = REFERENCE["slope_1000", False]
    got = _fit(ml["formula"], DATA, reml=False, chunk_rows=chunk_rows)
    assert got.loglik == pytest.approx(ml["loglik"], abs=1e-6)
    np.testing.assert_allclose(got.random_effects[0].covariance.ravel(), ml["tau_g"], rtol=2e-4)
    np.testing.assert_allclose(got.theta, ml["theta"], rtol=2e-4)
    reml = REFERENCE["slope_1000", True]
    got = _fit(reml["formula"], DATA, chunk_rows=chunk_rows)
    assert reml["singular"] and got.loglik > reml["loglik"] + 2.5
    assert got.loglik == pytest.approx(REFERENCE["slope", True]["loglik"], abs=1e-6)
    assert not got.is_singular


def test_kenward_roger_and_robust_errors_use_the_centred_rows():
    """Computations from the rows (KR, CR2) run on Z~ with the centred random part: at x + 2000
    the slope's KR and CR2 SEs and df equal those on x (on the raw Z, KR's SE was NaN). Profile
    intervals, which profile the written parameters, stop with a clear error."""
    ref = _fit("y ~ x + (1 + x | g)", DATA)
    got = _fit("y ~ x + (1 + x | g)", DATA.assign(x=DATA["x"] + 2000))
    kr, kr_ref = got.kenward_roger, ref.kenward_roger
    assert kr.std_errors[1] == pytest.approx(kr_ref.std_errors[1], rel=1e-6)
    assert kr.df[1] == pytest.approx(kr_ref.df[1], rel=1e-6)
    cr2, cr2_ref = got.fixed_effects(vcov="CR2"), ref.fixed_effects(vcov="CR2")
    np.testing.assert_allclose(
        cr2.iloc[1][["std_error", "df"]].to_numpy(float),
        cr2_ref.iloc[1][["std_error", "df"]].to_numpy(float),
        rtol=1e-6,
    )
    with pytest.raises(MultilevelError, match="far from zero.*centre the predictor"):
        got.confint("profile")


def test_bootstrap_draws_and_refits_centred_and_reports_the_written_parameters():
    """The parametric bootstrap of a random slope on x + 2000 refits on the centred Z (on the
    raw Z its Newton refits did not converge) and reports the parameters of the model written:
    sd_x|g and sigma as the bootstrap on x, sd_(Intercept)|g at x = 0 (~2000 sd_x), cor ~ -1;
    a statistic sees theta of the model written. (The fixed part holds the intercept only: a
    far predictor in X is a separate, open case of the refit engine.)"""
    formula = "y ~ 1 + (1 + x | g)"
    ref = _fit(formula, DATA).bootstrap(40, seed=2, progress=False)
    fit = _fit(formula, DATA.assign(x=DATA["x"] + 2000))
    got = fit.bootstrap(40, seed=2, progress=False)
    assert got.n_failed == 0
    assert got.t0["sd_(Intercept)|g"] == pytest.approx(fit.random_effects[0].std_devs[0])
    assert got.t0["sd_x|g"] == pytest.approx(ref.t0["sd_x|g"], rel=1e-6)
    for name in ("sd_x|g", "sigma"):  # same distribution, other draws: medians close
        assert got.replicates[name].median() == pytest.approx(
            ref.replicates[name].median(), rel=0.15
        )
    ratio = got.replicates["sd_(Intercept)|g"] / got.replicates["sd_x|g"]
    assert ratio.between(1900, 2100).mean() > 0.9
    assert (got.replicates["cor_x.(Intercept)|g"] < -0.99).all()
    theta0 = fit.bootstrap(5, statistic=lambda r: r.theta[0], seed=2, progress=False)
    assert theta0.t0.iloc[0] == pytest.approx(fit.theta[0])
    # the written theta_0 (~1e3), not the centred one (~0.6)
    assert (theta0.replicates.iloc[:, 0] / fit.theta[0]).between(0.5, 2).all()


def test_dask_partitions_are_centred_as_chunks():
    dd = pytest.importorskip("dask.dataframe")
    ref = _fit("y ~ x + (1 + x | g)", DATA, reml=False)
    got = _fit("y ~ x + (1 + x | g)", dd.from_pandas(DATA.assign(x=DATA["x"] + 1e9), 3), reml=False)
    assert got.loglik == pytest.approx(ref.loglik, rel=1e-8)
    S, S0 = got.random_effects[0].covariance, ref.random_effects[0].covariance
    np.testing.assert_allclose(S, _T(1e9) @ S0 @ _T(1e9).T, rtol=1e-6)
