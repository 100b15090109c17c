"""Profile-likelihood confidence intervals for every parameter, as lme4's
``confint(m, method = "profile")``.

As lme4, the profile is of the ML deviance (a REML fit is refitted by ML first). The parameters
are lme4's: per random term the standard deviations and correlations (``sd_(Intercept)|Subject``,
``cor_Days.(Intercept)|Subject``), then ``sigma`` and the fixed effects. A limit is where the
profiled deviance exceeds its minimum by the chi-square(1) quantile of the level.

The variance parameters are written as phi = (relative sds s, correlations rho) per term, so
Lambda = diag(s) chol(R(rho)) and sigma enters in closed form: with sigma free the ML deviance
is profiled over it; with an absolute sd v = sigma s_k fixed, sigma = v / s_k; with sigma fixed
it is the plain deviance. A fixed effect b_j is profiled by moving b_j x_j to the outcome, a
linear map of the cross-products, so no pass over the rows is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize, stats
from threadpoolctl import ThreadpoolController

from multilevel.errors import MultilevelError
from multilevel.fitting import fit_design
from multilevel.objective.deviance import LOG_2PI, ProfiledDeviance

if TYPE_CHECKING:
    from multilevel.objective.crossprod import CrossProducts
    from multilevel.result.fit import LmmFit

PROFILE_NOTE = (
    "profile intervals are of the ML likelihood: a REML fit is refitted by maximum likelihood "
    "first, as lme4's profile() does"
)


@dataclass(frozen=True)
class VarParam:
    """One variance parameter in lme4's order: kind 'sd' | 'cor' | 'sigma', its term's block of
    phi and its position there."""

    name: str
    kind: str
    index: int  # position in phi (sd/cor) or -1 (sigma)


class PhiMap:
    """phi (relative sds and correlations of every term) <-> theta."""

    def __init__(self, fit: LmmFit):
        self.blocks = []  # (q, offset in phi, theta offset, name stem)
        params: list[VarParam] = []
        lower: list[float] = []
        upper: list[float] = []
        k = th = 0
        for term, vc in zip(fit.design.terms, fit.random_effects, strict=True):
            q = term.q
            self.blocks.append((q, k, th))
            names = vc.terms
            for c in range(q):
                params.append(VarParam(f"sd_{names[c]}|{vc.group}", "sd", k + c))
                for r in range(c + 1, q):
                    j = k + q + _cor_index(q, r, c)
                    params.append(VarParam(f"cor_{names[r]}.{names[c]}|{vc.group}", "cor", j))
            lower += [0.0] * q + [-1.0] * (q * (q - 1) // 2)
            upper += [np.inf] * q + [1.0] * (q * (q - 1) // 2)
            k += q + q * (q - 1) // 2
            th += term.n_theta
        params.append(VarParam("sigma", "sigma", -1))
        self.params = params
        self.lower = np.array(lower)
        self.upper = np.array(upper)
        self.size = k
        self.n_theta = th

    def theta(self, phi: np.ndarray) -> np.ndarray | None:
        """theta for phi, or None where the correlations are not a correlation matrix."""
        out = np.empty(self.n_theta)
        for q, k, th in self.blocks:
            s = phi[k : k + q]
            R = np.eye(q)
            for c in range(q):
                for r in range(c + 1, q):
                    R[r, c] = R[c, r] = phi[k + q + _cor_index(q, r, c)]
            try:
                Lc = np.linalg.cholesky(R) if q > 2 else _chol2(R)
            except np.linalg.LinAlgError:
                return None
            Lam = s[:, None] * Lc
            rows, cols = np.tril_indices(q)
            order = np.lexsort((rows, cols))  # column by column, as theta
            out[th : th + q * (q + 1) // 2] = Lam[rows[order], cols[order]]
        return out

    def phi(self, theta: np.ndarray) -> np.ndarray:
        """Relative sds and correlations of each term at theta."""
        out = np.empty(self.size)
        for q, k, th in self.blocks:
            rows, cols = np.tril_indices(q)
            order = np.lexsort((rows, cols))
            Lam = np.zeros((q, q))
            Lam[rows[order], cols[order]] = theta[th : th + q * (q + 1) // 2]
            S = Lam @ Lam.T
            s = np.sqrt(np.diag(S))
            out[k : k + q] = s
            for c in range(q):
                for r in range(c + 1, q):
                    d = s[r] * s[c]
                    out[k + q + _cor_index(q, r, c)] = S[r, c] / d if d > 0 else 0.0
        return out


def _cor_index(q: int, r: int, c: int) -> int:
    """Position of correlation (r, c), r > c, among a term's correlations (column by column)."""
    return sum(q - 1 - j for j in range(c)) + (r - c - 1)


def _chol2(R: np.ndarray) -> np.ndarray:
    """Cholesky factor of a 1x1 or 2x2 correlation matrix, also at rho = +-1."""
    if R.shape[0] == 1:
        return np.ones((1, 1))
    rho = float(np.clip(R[1, 0], -1.0, 1.0))
    return np.array([[1.0, 0.0], [rho, np.sqrt(max(1.0 - rho * rho, 0.0))]])


class MLProfile:
    """The ML deviance as a function of (phi, sigma) and of the fixed effects, minimized over
    the parameters not held fixed."""

    def __init__(self, ml_fit: LmmFit, xp: CrossProducts):
        self.fit = ml_fit
        self.xp = xp
        self.dev = ProfiledDeviance(xp, reml=False)
        self.map = PhiMap(ml_fit)
        self.phi_hat = self.map.phi(np.asarray(ml_fit.theta, float))
        self.d_min = self._value(self.dev, self.phi_hat, None)

    # -- deviance with sigma in closed form, profiled or given
    def _value(self, dev: ProfiledDeviance, phi: np.ndarray, sigma: float | None) -> float:
        theta = self.map.theta(phi)
        if theta is None:
            return 1e300
        try:
            ev = dev.evaluate(theta)
        except np.linalg.LinAlgError:
            return 1e300
        n = dev.xp.n
        if sigma is None:
            return float(dev.criterion(ev)) if ev.r2 > 0 else 1e300
        return float(ev.ldL2 + ev.r2 / sigma**2 + n * (LOG_2PI + np.log(sigma**2)))

    def minimize(
        self, fun, free: np.ndarray, start: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """min over phi[free] of fun(phi) from ``start`` (bounded quasi-Newton, then polished)."""
        x0 = np.clip(start[free], lower[free], upper[free])

        def f(x: np.ndarray) -> float:
            phi = start.copy()
            phi[free] = x
            return fun(phi)

        if not free.any():
            return f(x0), start.copy()
        bounds = list(zip(lower[free], upper[free], strict=True))
        res = optimize.minimize(
            f,
            x0,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-13, "gtol": 1e-8, "maxiter": 2000},
        )
        phi = start.copy()
        phi[free] = res.x
        return float(res.fun), phi

    def variance_profile(self, param: VarParam):
        """v -> min deviance with the parameter held at v (and the optimum, for warm starts)."""
        lower, upper = self.map.lower.copy(), self.map.upper.copy()
        state = {"phi": self.phi_hat.copy()}

        def at(v: float) -> float:
            free = np.ones(self.map.size, bool)
            start = state["phi"].copy()
            if param.kind == "sigma":
                fun = lambda phi: self._value(self.dev, phi, v)  # noqa: E731
            elif param.kind == "cor":
                free[param.index] = False
                start[param.index] = v
                fun = lambda phi: self._value(self.dev, phi, None)  # noqa: E731
            elif v <= 0:  # an sd of zero: its relative sd is zero, sigma free
                free[param.index] = False
                start[param.index] = 0.0
                fun = lambda phi: self._value(self.dev, phi, None)  # noqa: E731
            else:
                lo = lower.copy()
                lo[param.index] = 1e-12
                k = param.index
                fun = lambda phi: self._value(self.dev, phi, v / max(phi[k], 1e-300))  # noqa: E731
                if start[k] <= 0:
                    start[k] = 1e-3
                value, phi = self.minimize(fun, free, start, lo, upper)
                state["phi"] = phi
                return value
            value, phi = self.minimize(fun, free, start, lower, upper)
            state["phi"] = phi
            return value

        return at

    def fixed_profile(self, j: int):
        """b -> min ML deviance with beta_j held at b (b x_j moved into the outcome), over theta
        (with the analytic gradient where the deviance has one)."""
        state = {"theta": np.asarray(self.fit.theta, float).copy()}
        lower = self.fit.design.theta_lower()
        bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
        shift = self.xp.shift
        if shift is not None and j == shift.intercept:  # beta_0 = a'beta~ + c_y, a = T'e_0
            return self._combination_profile(j, bounds, state)

        def at(b: float) -> float:
            dev = ProfiledDeviance(_fix_beta(self.xp, j, b), reml=False)
            if dev.has_gradient:
                return _min_over_theta(dev.value_and_gradient, state, bounds, jac=True)
            return _min_over_theta(dev, state, bounds)

        return at

    def _combination_profile(self, j: int, bounds: list, state: dict):
        """The profile of beta_j = a'beta~ + c_y e_0'e_j when X was fitted about a shift
        (beta = T beta~ + c_y e_0, a = T'e_j): for given theta the penalized residual sum of
        squares with a'beta~ = b held is r^2 + (a'beta~_hat - b)^2 / a'(R_X'R_X)^-1 a; then
        minimized over theta. Holding beta_j itself would bring back the far columns."""
        shift = self.xp.shift
        assert shift is not None
        a = shift.T[j]
        offset = shift.y if j == shift.intercept else 0.0
        n = self.xp.n

        def deviance(theta: np.ndarray, b: float) -> float:
            try:
                ev = self.dev.evaluate(theta)
            except np.linalg.LinAlgError:
                return 1e300
            gap = float(a @ ev.beta) + offset - b
            r2 = ev.r2 + gap**2 / float(a @ ev.XtVinvX_inv @ a)
            return float(ev.ldL2 + n * (1.0 + LOG_2PI + np.log(r2 / n)))

        def at(b: float) -> float:
            return _min_over_theta(deviance, state, bounds, args=(b,))

        return at


def _min_over_theta(fun: Any, state: dict, bounds: list, **kwargs: Any) -> float:
    """min over theta of ``fun`` by L-BFGS-B from ``state["theta"]`` (the previous point of the
    profile, a warm start), which it updates to the minimizer."""
    res = optimize.minimize(
        fun,
        state["theta"],
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 1000},
        **kwargs,
    )
    state["theta"] = res.x
    return float(res.fun)


def _fix_beta(xp: CrossProducts, j: int, b: float) -> CrossProducts:
    """Cross-products of [X_-j, y - b x_j]: the columns [X y] times T, a (p+1) x p map."""
    p = xp.p
    T = np.zeros((p + 1, p))
    keep = [k for k in range(p) if k != j]
    T[keep, np.arange(p - 1)] = 1.0
    T[p, p - 1] = 1.0
    T[j, p - 1] = -b
    C = T.T @ xp.C @ T
    B = np.einsum("qag,ab->qbg", xp.B, T)
    C_rw = None if xp.C_rw is None else xp.C_rw @ T
    return replace(xp, p=p - 1, B=B, C=C, C_rw=C_rw, yy=float(C[-1, -1]))


@dataclass(frozen=True)
class Limit:
    value: float
    note: str = ""


def _limit(
    g, estimate: float, step: float, direction: int, bound: float | None, target: float
) -> Limit:
    """Where g(v) = D(v) - D_min reaches ``target`` on one side of the estimate."""
    a, h = estimate, step
    ga = 0.0
    for _ in range(60):
        b = estimate + direction * h
        if bound is not None and (b - bound) * direction >= 0:
            b = bound
        gb = g(b)
        if gb >= target:
            break
        if bound is not None and b == bound:
            return Limit(bound)  # the profile stays below the cut-off up to the boundary
        if gb < ga - 1e-6 * max(1.0, target):
            return Limit(
                np.nan,
                "non-monotone profile: the deviance decreases away from the "
                "estimate (a better optimum exists); no reliable limit",
            )
        # zeta = sqrt(g) is nearly linear in v: aim just past the cut-off
        grow = 1.15 * np.sqrt(target / gb) if gb > 1e-3 * target else 4.0
        a, ga, h = b, gb, h * float(np.clip(grow, 1.2, 4.0))
    else:
        return Limit(np.nan, "the profile did not reach the cut-off; the limit is unbounded")
    z = np.sqrt(target)
    root = optimize.brentq(
        lambda v: np.sqrt(max(g(v), 0.0)) - z, a, b, xtol=1e-7 * abs(b - estimate)
    )
    # monotone between the estimate and the limit: check a few interior points
    grid = estimate + (root - estimate) * np.array([0.4, 0.8])
    values = [g(v) for v in grid]
    if np.any(np.diff([0.0, *values, target]) < -1e-6 * max(1.0, target)):
        return Limit(
            np.nan, "non-monotone profile between the estimate and the limit; no reliable limit"
        )
    return Limit(float(root))


def profile_confint(
    fit: LmmFit, level: float = 0.95, parm: list[str] | None = None
) -> pd.DataFrame:
    """Columns parameter, lower, upper, note: lme4's profile intervals (ML profile), for all
    parameters or those named in ``parm``."""
    from multilevel.design.weights import working_design
    from multilevel.objective import cross_products

    if getattr(fit, "centred", None) is not None:  # hook: design/random_shift.py
        raise MultilevelError(
            "profile intervals are not available for a random slope on a predictor far from zero "
            f"({fit.centred.shift.terms[0].note().split(':')[0]}); centre the predictor, or "
            "use method='bootstrap' or 'wald'"
        )
    ml = fit if not fit.reml else fit_design(fit.design, reml=False, warn=False)
    xp = cross_products(working_design(ml.design))
    # many tiny dense solves: BLAS threads only cost synchronisation here
    with ThreadpoolController().limit(limits=1, user_api="blas"):
        return _profile_confint(fit, ml, xp, level, parm)


def _profile_confint(
    fit: LmmFit, ml: LmmFit, xp: CrossProducts, level: float, parm: list[str] | None
) -> pd.DataFrame:
    prof = MLProfile(ml, xp)
    names = [p.name for p in prof.map.params] + list(ml.fixed_names)
    unknown = [p for p in parm or [] if p not in names]
    if unknown:
        raise MultilevelError(
            f"no parameter {unknown[0]!r} in the model; parameters: {', '.join(names)}"
        )
    wanted = set(parm or names)
    target = float(stats.chi2.ppf(level, 1))
    rows = []
    phi_hat = prof.phi_hat
    for param in prof.map.params:
        if param.name not in wanted:
            continue
        at = prof.variance_profile(param)

        def g(v: float, at=at) -> float:
            return at(v) - prof.d_min

        if param.kind == "sigma":
            est = ml.sigma
            lo = _limit(g, est, 0.1 * est, -1, 1e-8 * est, target)
            hi = _limit(g, est, 0.1 * est, 1, None, target)
        elif param.kind == "cor":
            est = float(phi_hat[param.index])
            lo = _limit(g, est, 0.1, -1, -1.0, target)
            hi = _limit(g, est, 0.1, 1, 1.0, target)
        else:
            est = float(phi_hat[param.index] * ml.sigma)
            step = 0.2 * est if est > 0 else 0.1 * ml.sigma
            lo = Limit(0.0) if est <= 0 else _limit(g, est, step, -1, 0.0, target)
            hi = _limit(g, est, step, 1, None, target)
        rows.append(_row(param.name, lo, hi))
    se = np.sqrt(np.diag(ml.vcov_beta))
    for j, name in enumerate(ml.fixed_names):
        if name not in wanted:
            continue
        at = prof.fixed_profile(j)

        def gb(v: float, at=at) -> float:
            return at(v) - prof.d_min

        est = float(ml.beta[j])
        lo = _limit(gb, est, se[j], -1, None, target)
        hi = _limit(gb, est, se[j], 1, None, target)
        rows.append(_row(name, lo, hi))
    out = pd.DataFrame(rows, columns=["parameter", "lower", "upper", "note"])
    out.attrs["note"] = PROFILE_NOTE if fit.reml else "profile intervals of the ML likelihood"
    return out


def _row(name: str, lo: Limit, hi: Limit) -> dict:
    note = "; ".join(n for n in (lo.note, hi.note) if n)
    return {"parameter": name, "lower": lo.value, "upper": hi.value, "note": note}
