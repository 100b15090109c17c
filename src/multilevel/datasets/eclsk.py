"""A simulated stand-in for the lecture's ECLS-K third-grade cross-section.

15,305 children in 1,000 schools of unequal size (2 to about 60 children). Generated afresh, and
identically, on every call from a fixed seed (numpy's ``default_rng``), by the slopes-as-outcomes
model of the lecture (i child, j school):

    Level 1: math_ij = beta_0j + beta_1j tvhours_ij + r_ij,          r_ij ~ N(0, sigma^2)
    Level 2: beta_0j = gamma00 + gamma01 pctfrl_j + u_0j
             beta_1j = gamma10 + gamma11 pctfrl_j + u_1j,            (u_0j, u_1j) ~ N(0, T)

with the values in :data:`ECLSK_TRUTH` (T = [[tau00, tau01], [tau01, tau11]]). ``pctfrl`` (percent
of the school's pupils with free or reduced-price lunch) is drawn from 100 * Beta(1.3, 1.7).
``tvhours`` (hours of TV after dinner, 0-6) is Binomial(6, p_ij) with logit p_ij =
-1.3 + 0.85 pctfrl_j / 100 + v_j, v_j ~ N(0, 0.3^2): children in poorer schools watch more TV, so a
regression that ignores schools attributes part of the pctfrl effect to TV and shows a steeper
TV slope (about -2.3 points per hour, as in the lecture) than the within-school effect (about
-1.3 at the mean pctfrl). The null model's ICC is about 0.2. ``female`` (0/1) and ``ses``
(child socioeconomic status, a z-score that is lower in poorer schools) are extra covariates
with no effect on math (true coefficient 0), for practice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ECLSK_SEED = 19980915
N_CHILDREN = 15305
N_SCHOOLS = 1000

#: True parameters of the generating model (pctfrl in percentage points, math in scale points).
ECLSK_TRUTH: dict[str, float] = {
    "gamma00": 110.0,  # mean math score, no TV, pctfrl = 0
    "gamma01": -0.20,  # per percentage point of free/reduced lunch
    "gamma10": -1.0,  # TV slope within schools at pctfrl = 0
    "gamma11": -0.006,  # cross-level interaction: TV slope per percentage point
    "tau00": 60.0,  # Var(u_0j)
    "tau11": 4.0,  # Var(u_1j)
    "tau01": -4.0,  # Cov(u_0j, u_1j), correlation -0.26
    "sigma2": 360.0,  # Var(r_ij)
    "female": 0.0,  # no effect
    "ses": 0.0,  # no effect
}


def _school_sizes(rng: np.random.Generator) -> np.ndarray:
    """Unequal school sizes, at least 2 each, summing to N_CHILDREN."""
    weights = rng.gamma(2.0, size=N_SCHOOLS)
    extra = rng.multinomial(N_CHILDREN - 2 * N_SCHOOLS, weights / weights.sum())
    return 2 + extra


def eclsk(seed: int = ECLSK_SEED) -> pd.DataFrame:
    """The simulated ECLS-K-like data: childid, schoolid, math, tvhours, pctfrl, female, ses.

    >>> df = eclsk()
    >>> len(df), df["schoolid"].nunique()
    (15305, 1000)
    """
    t = ECLSK_TRUTH
    rng = np.random.default_rng(seed)
    sizes = _school_sizes(rng)
    school = np.repeat(np.arange(N_SCHOOLS), sizes)
    pctfrl = np.round(100 * rng.beta(1.3, 1.7, size=N_SCHOOLS), 1)
    T = np.array([[t["tau00"], t["tau01"]], [t["tau01"], t["tau11"]]])
    u = rng.multivariate_normal(np.zeros(2), T, size=N_SCHOOLS)
    v = rng.normal(0.0, 0.3, size=N_SCHOOLS)

    w = pctfrl[school]
    p = 1 / (1 + np.exp(-(-1.3 + 0.85 * w / 100 + v[school])))
    tv = rng.binomial(6, p).astype(float)
    female = rng.integers(0, 2, size=N_CHILDREN)
    ses = np.round(rng.normal(0.8 - 1.6 * w / 100, 0.8), 2)
    beta0 = t["gamma00"] + t["gamma01"] * pctfrl + u[:, 0]
    beta1 = t["gamma10"] + t["gamma11"] * pctfrl + u[:, 1]
    r = rng.normal(0.0, np.sqrt(t["sigma2"]), size=N_CHILDREN)
    math = beta0[school] + beta1[school] * tv + r
    return pd.DataFrame(
        {
            "childid": np.arange(1, N_CHILDREN + 1),
            "schoolid": school + 1,
            "math": np.round(math, 2),
            "tvhours": tv,
            "pctfrl": w,
            "female": female,
            "ses": ses,
        }
    )
