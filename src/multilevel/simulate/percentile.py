"""Percentile intervals from bootstrap replicates, as R's ``boot.ci(type = "perc")`` computes them
(``boot:::norm.inter``): the (R + 1) alpha-th order statistic, interpolated on the normal quantile
scale between neighbours when (R + 1) alpha is not a whole number."""

from __future__ import annotations

import numpy as np
from scipy import stats


def norm_inter(t: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """boot's ``norm.inter(t, alpha)[, 2]``: quantiles of the finite values of ``t``."""
    t = np.sort(np.asarray(t, float)[np.isfinite(t)])
    alpha = np.atleast_1d(np.asarray(alpha, float))
    R = t.size
    if R == 0:
        return np.full(alpha.shape, np.nan)
    rk = (R + 1) * alpha
    k = np.trunc(rk).astype(int)
    out = np.empty(alpha.shape)
    for i, (ki, rki, ai) in enumerate(zip(k, rk, alpha, strict=True)):
        if ki <= 0:
            out[i] = t[0]
        elif ki >= R:
            out[i] = t[R - 1]
        elif ki == rki:
            out[i] = t[ki - 1]
        else:
            z, z1, z2 = stats.norm.ppf([ai, ki / (R + 1), (ki + 1) / (R + 1)])
            out[i] = t[ki - 1] + (z - z1) / (z2 - z1) * (t[ki] - t[ki - 1])
    return out


def percentile_interval(t: np.ndarray, level: float) -> tuple[float, float]:
    """The two-sided percentile interval at ``level`` (e.g. 0.95)."""
    lo, hi = norm_inter(t, np.array([(1 - level) / 2, (1 + level) / 2]))
    return float(lo), float(hi)
