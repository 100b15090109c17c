"""The model with residual covariance sigma^2 Sigma_j, Sigma_j = diag(g_j) R_j diag(g_j), turned
into one with independent residuals by whitening every group's rows with Sigma_j^{-1/2}.

For Markov correlations (:mod:`multilevel.residual.bound`) the inverse Cholesky factor of R_j is
bidiagonal and the variance function is a diagonal scaling, so y, X and Z are whitened in O(n)
without any n_j x n_j matrix. The whitened model is an ordinary linear mixed model
(Z_j stays within its group when the correlation groups are nested in every grouping factor),
and its (REML) log-likelihood differs from the original's by -log|Sigma| / 2 only:
|V| = |Sigma| |V*| and X'V^{-1}X = X*'V*^{-1}X*.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from multilevel.design.columns import ModelColumns
from multilevel.design.model import ModelDesign
from multilevel.residual.bound import Z_BOUND, BoundCorrelation, BoundVariance


@dataclass(frozen=True)
class Whitener:
    """Sigma^{-1/2} at one value of the structure parameters, and log|Sigma|."""

    g: np.ndarray | None  # SD multipliers (None: all 1)
    rows: np.ndarray
    prev: np.ndarray
    rho: np.ndarray | float | None  # None: no correlation
    logdet: float

    def __call__(self, a: np.ndarray) -> np.ndarray:
        """Sigma^{-1/2} a for a vector or an (n, k) matrix, rows in the data's order."""
        a = np.asarray(a, dtype=float)
        s = a / (self.g if a.ndim == 1 else self.g[:, None]) if self.g is not None else a
        if self.rho is None:
            return s if s is not a else a.copy()
        out = s.copy()
        rho = self.rho if np.ndim(self.rho) == 0 or a.ndim == 1 else np.asarray(self.rho)[:, None]
        scale = 1.0 / np.sqrt(1.0 - np.square(self.rho))
        if a.ndim > 1 and np.ndim(scale):
            scale = scale[:, None]
        out[self.rows] = (s[self.rows] - rho * s[self.prev]) * scale
        return out


@dataclass(frozen=True)
class ResidualModel:
    """The correlation structure and variance function of a fit, bound to its rows.

    ``z`` is the unconstrained parameter vector: the correlation's first, then the variance
    function's (nlme's order in ``coef(modelStruct)``).
    """

    correlation: BoundCorrelation | None
    variance: BoundVariance | None

    @property
    def n_params(self) -> int:
        return sum(s.n_params for s in (self.correlation, self.variance) if s is not None)

    def split(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = self.correlation.n_params if self.correlation is not None else 0
        return np.asarray(z[:k]), np.asarray(z[k:])

    def z_start(self) -> np.ndarray:
        parts = [s.z_start() for s in (self.correlation, self.variance) if s is not None]
        return np.concatenate(parts) if parts else np.zeros(0)

    def z_bounds(self) -> list[tuple[float, float]]:
        out = [(-Z_BOUND, Z_BOUND)] * (self.correlation.n_params if self.correlation else 0)
        if self.variance is not None:
            b = self.variance.z_bound()
            out += [(-b, b)] * self.variance.n_params
        return out

    def whitener(self, z: np.ndarray) -> Whitener:
        zc, zv = self.split(np.asarray(z, dtype=float))
        logdet = 0.0
        g = None
        if self.variance is not None:
            g = self.variance.g(zv)
            logdet += 2.0 * self.variance.log_g_sum(zv)
        c = self.correlation
        if c is None:
            empty = np.zeros(0, np.int64)
            return Whitener(g, empty, empty, None, logdet)
        rho = c.rho(zc)
        one_minus = 1.0 - np.square(rho)
        logdet += (
            float(np.sum(np.log(one_minus)))
            if np.ndim(rho)
            else c.rows.size * float(np.log(one_minus))
        )
        return Whitener(g, c.rows, c.prev, rho, logdet)

    def with_variance(self, variance: BoundVariance) -> ResidualModel:
        return replace(self, variance=variance)


def whitened_design(design: ModelDesign, w: Whitener) -> ModelDesign:
    """The design with y, X and every Z whitened (the same groups, names and frame)."""
    fixed = replace(design.fixed, columns=ModelColumns.of(w(design.fixed.columns.array)), XtX=None)
    terms = tuple(replace(t, columns=ModelColumns.of(w(t.columns.array))) for t in design.terms)
    return replace(design, y=w(design.y), fixed=fixed, terms=terms)
