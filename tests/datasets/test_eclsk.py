"""The simulated ECLS-K-like data: its shape, and that a fit recovers the documented truth.

Tolerances are 4 Monte Carlo SDs of each estimate over 24 replicate data sets (seeds 1000-1029;
`_monte_carlo` below, run by hand; 6 of the 30 seeds were dropped because the core optimizer
stopped on a boundary there, see the report). MC mean (SD): gamma00 110.14 (0.66), gamma10
-1.121 (0.293), gamma01 -0.2032 (0.0142), gamma11 -0.0032 (0.0055), tau00 57.9 (6.8), tau11 3.72
(0.75), tau01 -3.18 (1.78), sigma2 360.2 (3.4), naive OLS slope -2.21 (0.18), null ICC 0.196
(0.009).
"""

from __future__ import annotations

import numpy as np
import pytest

import multilevel
from multilevel.datasets.eclsk import ECLSK_TRUTH, N_CHILDREN, N_SCHOOLS, eclsk

MC_SD = {
    "gamma00": 0.66,
    "gamma10": 0.293,
    "gamma01": 0.0142,
    "gamma11": 0.0055,
    "tau00": 6.8,
    "tau11": 0.75,
    "tau01": 1.78,
    "sigma2": 3.4,
}
MODEL = "math ~ tvhours*pctfrl + (1 + tvhours | schoolid)"


@pytest.fixture(scope="module")
def data():
    return eclsk()


@pytest.fixture(scope="module")
def fit(data):
    return multilevel.fit(MODEL, data)


def test_shape_and_columns(data):
    assert data.shape == (N_CHILDREN, 7) == (15305, 7)
    assert list(data.columns) == [
        "childid",
        "schoolid",
        "math",
        "tvhours",
        "pctfrl",
        "female",
        "ses",
    ]
    assert data["schoolid"].nunique() == N_SCHOOLS
    sizes = data.groupby("schoolid").size()
    assert sizes.min() >= 2 and sizes.max() > 3 * sizes.median()  # unequal sizes
    assert data["childid"].is_unique
    assert set(np.unique(data["tvhours"])) <= set(range(7))
    assert data["pctfrl"].between(0, 100).all()
    assert (data.groupby("schoolid")["pctfrl"].nunique() == 1).all()  # a school-level variable
    assert set(data["female"]) == {0, 1}


def test_deterministic_from_the_seed(data):
    again = eclsk()
    assert again.equals(data)
    assert not eclsk(seed=1).equals(data)


def test_fit_recovers_the_truth(fit):
    beta = dict(zip(fit.fixed_names, fit.beta, strict=True))
    got = {
        "gamma00": beta["(Intercept)"],
        "gamma10": beta["tvhours"],
        "gamma01": beta["pctfrl"],
        "gamma11": beta["tvhours:pctfrl"],
    }
    C = fit.random_effects[0].covariance
    got.update(tau00=C[0, 0], tau11=C[1, 1], tau01=C[0, 1], sigma2=fit.sigma**2)
    for name, value in got.items():
        assert abs(value - ECLSK_TRUTH[name]) < 4 * MC_SD[name], name
    # and the fixed effects within 3 of their own standard errors
    se = dict(zip(fit.fixed_names, fit.std_errors, strict=True))
    for lme4, g in [
        ("(Intercept)", "gamma00"),
        ("tvhours", "gamma10"),
        ("pctfrl", "gamma01"),
        ("tvhours:pctfrl", "gamma11"),
    ]:
        assert abs(beta[lme4] - ECLSK_TRUTH[g]) < 3 * se[lme4], g


def test_naive_ols_slope_is_steeper_than_the_multilevel_one(data, fit):
    X = np.column_stack([np.ones(len(data)), data["tvhours"]])
    naive = np.linalg.lstsq(X, data["math"].to_numpy(), rcond=None)[0][1]
    assert -2.32 - 4 * 0.18 < naive < -2.32 + 4 * 0.18  # the lecture: 2.32 points per hour
    ri = multilevel.fit("math ~ tvhours + (1 | schoolid)", data)
    beta = dict(zip(fit.fixed_names, fit.beta, strict=True))
    within = beta["tvhours"] + beta["tvhours:pctfrl"] * data["pctfrl"].mean()
    assert naive < ri.beta[1] < 0
    assert naive < within < 0
    assert abs(naive) > abs(within) + 0.5


def test_null_model_icc_about_0_2(data):
    icc = multilevel.fit("math ~ 1 + (1 | schoolid)", data).icc["schoolid"]
    assert 0.2 - 4 * 0.009 < icc < 0.2 + 4 * 0.009


def _monte_carlo(n: int = 30) -> np.ndarray:  # pragma: no cover - run by hand for MC_SD
    rows = []
    for s in range(n):
        d = eclsk(seed=1000 + s)
        m = multilevel.fit(MODEL, d, warn=False)
        C = m.random_effects[0].covariance
        rows.append([*m.beta, C[0, 0], C[1, 1], C[0, 1], m.sigma**2])
    return np.array(rows)
