"""Structures tied to the rows of a fit: who precedes whom in time, which stratum a row is in.

A Markov correlation (AR1 with integer times, gaps allowed; CAR1 with real times) has
corr(e_i, e_k) = phi^|t_i - t_k|, so within a group sorted by time the inverse Cholesky factor
of R_j is bidiagonal: the whitened residual of row i is
(e_i - rho_i e_prev(i)) / sqrt(1 - rho_i^2) with rho_i = phi^(t_i - t_prev(i)), and the first
row of a group is left as it is. log|R_j| = sum_i log(1 - rho_i^2). Nothing n_j x n_j is formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.errors import DataError
from multilevel.residual.structures import AR1, CAR1, VarIdent, VarPower

#: bounds of the unconstrained parameters the optimizer moves (phi to 1 - 1e-6, ratios e^+-12)
Z_BOUND = 14.0
#: bound on a variance power (nlme estimates powers of order 1)
POWER_BOUND = 5.0


@dataclass(frozen=True)
class BoundCorrelation:
    """A Markov correlation structure on the rows of a fit."""

    spec: AR1 | CAR1
    group: str  # the column or grouping factor whose levels hold the correlated rows
    rows: np.ndarray  # rows that have a predecessor in their group
    prev: np.ndarray  # the predecessor of each of them
    lag: np.ndarray  # t_row - t_prev > 0 (integers for AR1)
    n_groups: int
    order: np.ndarray  # the rows sorted by group, then time
    group_codes: np.ndarray  # group of every row

    n_params = 1

    def phi(self, z: np.ndarray) -> float:
        """nlme's parametrisations: AR1 phi = tanh(z / 2), CAR1 phi = logistic(z)."""
        if isinstance(self.spec, AR1):
            return float(np.tanh(z[0] / 2.0))
        return float(1.0 / (1.0 + np.exp(-z[0])))

    def z_start(self) -> np.ndarray:
        # nlme starts AR1 at phi = 0 and CAR1 at phi = 0.2
        return np.array([0.0 if isinstance(self.spec, AR1) else float(np.log(0.2 / 0.8))])

    def rho(self, z: np.ndarray) -> np.ndarray | float:
        """rho_i = phi^lag_i for the rows with a predecessor (a scalar when all lags are 1)."""
        phi = self.phi(z)
        if self.lag.dtype.kind in "iu" and self.lag.size and int(self.lag.max()) == 1:
            return phi
        return np.power(phi, self.lag)


@dataclass(frozen=True)
class BoundVariance:
    """A variance function on the rows of a fit: g_i(z), the SD multiplier of row i."""

    spec: VarIdent | VarPower
    strata: np.ndarray | None  # VarIdent: stratum code of each row (reference = 0)
    labels: tuple[str, ...]  # VarIdent: stratum labels, the reference first
    counts: np.ndarray | None  # VarIdent: rows per stratum
    values: np.ndarray | None  # VarPower: |v_i| / v0 (a column, or the current fitted values)
    v0: float = 1.0  # VarPower: the geometric mean of |v|, the value where the SD is sigma

    @property
    def n_params(self) -> int:
        return len(self.labels) - 1 if isinstance(self.spec, VarIdent) else 1

    def z_start(self) -> np.ndarray:
        return np.zeros(self.n_params)

    def z_bound(self) -> float:
        """|z| at most: SD ratios e^+-14; powers +-POWER_BOUND (|v|^power overflows beyond)."""
        return Z_BOUND if self.strata is not None else POWER_BOUND

    def g(self, z: np.ndarray) -> np.ndarray:
        if self.strata is not None:
            return np.exp(np.concatenate([[0.0], z]))[self.strata]
        assert self.values is not None
        return np.power(self.values, z[0])

    def log_g_sum(self, z: np.ndarray) -> float:
        """sum_i log g_i (half the log-determinant the variance function adds)."""
        if self.counts is not None:
            return float(self.counts[1:] @ z)
        assert self.values is not None
        return float(z[0] * np.sum(np.log(self.values)))

    def with_values(self, v: np.ndarray) -> BoundVariance:
        """VarPower of the fitted values: the same function on new fitted values."""
        v = np.abs(np.asarray(v, dtype=float))
        if np.any(v == 0):
            raise DataError(
                "varPower: a fitted value is exactly 0, where |fitted|^power is undefined; "
                "use VarPower(covariate=...) or shift the outcome"
            )
        assert isinstance(self.spec, VarPower)
        return _power(self.spec, v)


def bind_correlation(
    spec: AR1 | CAR1, group_codes: np.ndarray, group: str, extra: dict[str, np.ndarray]
) -> BoundCorrelation:
    """Sort the rows of each group by time and record each row's predecessor and lag."""
    n = group_codes.shape[0]
    if spec.time is None:
        order = np.argsort(group_codes, kind="stable")
        t = None
    else:
        t = np.asarray(extra[spec.time], dtype=float)
        if isinstance(spec, AR1) and not np.all(t == np.round(t)):
            raise DataError(
                f"AR1 needs integer times, but column {spec.time!r} has non-integer values "
                f"(e.g. {t[t != np.round(t)][0]!r}); use CAR1(time={spec.time!r}) for "
                "continuous time"
            )
        order = np.lexsort((t, group_codes))
    g_sorted = group_codes[order]
    same = g_sorted[1:] == g_sorted[:-1]
    rows, prev = order[1:][same], order[:-1][same]
    if t is None:
        lag: np.ndarray = np.ones(rows.size, dtype=np.int64)
    else:
        dt = t[rows] - t[prev]
        if np.any(dt == 0):
            k = int(np.flatnonzero(dt == 0)[0])
            raise DataError(
                f"{spec.name}: time {spec.time!r} repeats within a level of {group!r} (value "
                f"{t[rows[k]]!r}, rows {int(prev[k])} and {int(rows[k])}); times must be unique "
                "within each group (nlme: covariate must have unique values within groups)"
            )
        lag = dt.astype(np.int64) if isinstance(spec, AR1) else dt
    n_groups = int(group_codes.max()) + 1 if n else 0
    return BoundCorrelation(spec, group, rows, prev, lag, n_groups, order, group_codes)


def bind_variance(
    spec: VarIdent | VarPower, extra: dict[str, np.ndarray], group_codes: np.ndarray
) -> BoundVariance:
    """``group_codes``: the innermost grouping factor (levels in sorted order), which orders
    the strata as nlme does (lme sorts the rows by group before it reads the strata)."""
    if isinstance(spec, VarIdent):
        col = extra[spec.by]
        # nlme's reference stratum: that of the first row once the rows are sorted by group
        uniques, inverse = np.unique(np.asarray(col).astype(str), return_inverse=True)
        inverse = inverse.ravel()
        by_group = inverse[np.argsort(group_codes, kind="stable")]
        _, first = np.unique(by_group, return_index=True)
        labels = [str(u) for u in uniques[by_group[np.sort(first)]]]
        if spec.reference is not None:
            ref = str(spec.reference)
            if ref not in labels:
                raise DataError(
                    f"VarIdent: reference {ref!r} is not a value of {spec.by!r} ({labels[:10]})"
                )
            labels.remove(ref)
            labels.insert(0, ref)
        if len(labels) < 2:
            raise DataError(
                f"VarIdent: {spec.by!r} has a single value ({labels[0]!r}) in the rows used; "
                "one residual SD per stratum needs at least two strata"
            )
        index = {lab: k for k, lab in enumerate(labels)}
        remap = np.array([index[str(u)] for u in uniques], dtype=np.int64)
        strata = remap[inverse.ravel()]
        return BoundVariance(spec, strata, tuple(labels), np.bincount(strata), None)
    if spec.covariate is None:
        return BoundVariance(spec, None, (), None, None)  # fitted values set by the fit
    v = np.abs(np.asarray(extra[spec.covariate], dtype=float))
    if np.any(v == 0):
        raise DataError(
            f"VarPower: column {spec.covariate!r} has {int(np.sum(v == 0))} zero value(s), "
            "where |v|^power is undefined for negative powers; shift the covariate"
        )
    return _power(spec, v)


def _power(spec: VarPower, v: np.ndarray) -> BoundVariance:
    """|v| relative to its geometric mean v0: g_i = (|v_i| / v0)^power keeps g near 1 (sigma is
    then the residual SD at a typical v, and theta keeps its usual scale); nlme's sigma, the SD
    at |v| = 1, is sigma * v0^-power."""
    v0 = float(np.exp(np.mean(np.log(v))))
    return BoundVariance(spec, None, (), None, v / v0, v0)
