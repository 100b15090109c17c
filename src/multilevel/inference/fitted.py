"""The fit in the coordinates it was fitted in: what inference from the rows computes with.

A predictor far from zero (x + 1e9, epoch seconds) is fitted about a shift (X~ = X T,
:mod:`multilevel.design.shift`) and a far random slope about its mean
(:mod:`multilevel.design.random_shift`); the fit reports beta = T beta~ (+ c_y e_0) and
Var(beta) = T Var(beta~) T'. Anything computed again from the rows (Kenward-Roger, sandwich
SEs, refits, predictions, their df) must use X~, y~ and beta~: X V^-1 X' at x ~ 1e9 is the
difference of numbers ~1e18 times larger than the result. :func:`fitted_view` gives the fit with
its design, beta, Var(beta) and Satterthwaite derivatives in those coordinates (beta~ and
Var(beta~) evaluated again at the fitted theta, bit for bit the fit's own), and the map back:
a matrix M of the fitted coordinates is T M T' in the written ones, a contrast L written is
L T fitted, a row x of new data is x T = x - c (its intercept 1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from multilevel.design.random_shift import centred_view
from multilevel.design.shift import Shift, intercept_of, shifts_from_gram


@dataclass(frozen=True, eq=False)
class FittedView:
    """``fit`` in the fitted coordinates; ``shift`` maps them to the written ones (None: the
    same coordinates)."""

    fit: Any
    shift: Shift | None

    @property
    def T(self) -> np.ndarray | None:
        return None if self.shift is None else self.shift.T

    def back(self, M: np.ndarray) -> np.ndarray:
        """T M T' (a covariance of beta~ as one of beta); ``M`` may be a stack (..., p, p)."""
        T = self.T
        return M if T is None else np.matmul(np.matmul(T, M), T.T)

    def contrast(self, L: np.ndarray) -> np.ndarray:
        """L T: the contrast L of beta written as one of beta~ (rows of new X: x - c)."""
        L = np.atleast_2d(np.asarray(L, float))
        if self.shift is None:
            return L
        out = L.copy()
        i0 = self.shift.intercept
        for j in np.flatnonzero(self.shift.x):
            out[:, j] = L[:, j] - L[:, i0] * self.shift.x[j]
        return out

    def estimate(self, L: np.ndarray) -> np.ndarray:
        """L beta, as L T beta~ + c_y L e_0 (rows of new X keep their digits)."""
        L = np.atleast_2d(np.asarray(L, float))
        out = self.contrast(L) @ np.asarray(self.fit.beta, float)
        if self.shift is not None and self.shift.y:
            out = out + L[:, self.shift.intercept] * self.shift.y
        return np.asarray(out)

    def variance(self, L: np.ndarray, vcov: np.ndarray | None = None) -> np.ndarray:
        """diag(L Var(beta) L') as (L T) Var(beta~) (L T)'; ``vcov``: another Var(beta~) (e.g.
        Kenward-Roger's), by default the fit's."""
        Lf = self.contrast(L)
        V = np.asarray(self.fit.vcov_beta if vcov is None else vcov, float)
        return np.asarray(np.einsum("ij,jk,ik->i", Lf, V, Lf))


def outcome_shift(y: np.ndarray) -> float:
    """c_y: the mean of y when it lies far from zero (as the cross-products shift it), else 0."""
    n = y.shape[0]
    total = float(y.sum())
    c = shifts_from_gram(np.array([[n, total], [total, float(y @ y)]]), n, 0)
    return 0.0 if c is None else float(c[1])


def fitted_view(fit: Any) -> FittedView:
    """The fit with X~ = X T, y~ = y - c_y, the random slopes centred, and beta~, Var(beta~) and
    the Satterthwaite derivatives at the fitted theta (the fit itself when nothing is shifted)."""
    from multilevel.design.weights import working_design
    from multilevel.inference.satterthwaite import varpar_info
    from multilevel.objective.crossprod import cross_products
    from multilevel.objective.deviance import ProfiledDeviance

    view = centred_view(fit)
    design = getattr(view, "_design", None)
    if design is None:
        return FittedView(view, None)
    fixed = design.fixed
    i0 = intercept_of(fixed.columns)
    if i0 is None:
        return FittedView(view, None)
    x = fixed.shift
    c_y = outcome_shift(design.y)
    if x is None and not c_y:
        return FittedView(view, None)
    shift = Shift(i0, np.zeros(design.p) if x is None else np.asarray(x, float), c_y)
    fixed = replace(fixed, columns=fixed.shifted(), shift=None)
    design = replace(design, fixed=fixed, y=design.y - c_y if c_y else design.y)
    dev = ProfiledDeviance(cross_products(working_design(design)), reml=view.reml)
    theta = np.asarray(view.theta, float)
    with np.errstate(all="ignore"):
        ev = dev.evaluate(theta)
        info = varpar_info(dev, theta, view.sigma)
    view = replace(
        view,
        _design=design,
        beta=np.asarray(ev.beta, float),
        vcov_beta=view.sigma**2 * ev.XtVinvX_inv,
        _varpar=info,
    )
    return FittedView(view, shift)
