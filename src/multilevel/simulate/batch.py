"""Many refits of a one-factor design at once: the profiled deviance evaluated for a batch of
responses (each at its own theta) in a handful of array operations, and a batched Newton method.

All refits share A_j = Z_j'Z_j, Z_j'X and X'X; each response s has its own Z_j'y, X'y and y'y.
For theta_s, with Lambda_s, T_js = Lambda_s' A_j Lambda_s + I and M_js = Lambda_s T_js^-1
Lambda_s', the Schur complement S_s = [X y]'[X y] - sum_j B_j' M_js B_j gives
S_xx = X'V^-1X sigma^2-scaled, beta_s = S_xx^-1 S_xy, r2_s = S_yy - S_xy' beta_s, and

    ML:   d = log|L|^2 + n [1 + log(2 pi r2 / n)],
    REML: d = log|L|^2 + log|S_xx| + (n - p) [1 + log(2 pi r2 / (n - p))],

with log|L|^2 = sum_j log|T_js| (Bates et al. 2015, as objective/deviance.py for one factor).

The deviance depends on Lambda only through Lambda Lambda' (flipping the sign of a column of
Lambda changes nothing), so theta is optimized without bounds and each column is then given a
non-negative diagonal: an estimate on the boundary (a zero variance) is an ordinary minimum of
the unconstrained problem, where Newton's method converges quickly. Derivatives are central
differences of the batched deviance (cheap: one batched evaluation costs about as much as one
single evaluation). Refits that do not converge here are left to the single-refit optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.objective.crossprod import CrossProducts
from multilevel.objective.deviance import LOG_2PI
from multilevel.simulate.spd import inv_logdet

#: Newton iterations before a refit is handed to the single-refit optimizer
MAX_NEWTON = 60
#: relative step of the central differences in the Newton method
STEP = 1e-4
#: stop when the predicted decrease of the deviance (Newton decrement^2 / 2) is below this
DECREMENT_TOL = 1e-11
#: lme4's isSingular tolerance on the diagonal of Lambda
SINGULAR_TOL = 1e-4


@dataclass(frozen=True)
class BatchState:
    """The deviance pieces of a batch at its thetas (last axis: the refit)."""

    criterion: np.ndarray  # (S,)
    ldL2: np.ndarray
    ldRX2: np.ndarray
    r2: np.ndarray
    beta: np.ndarray  # (p, S)
    U: np.ndarray  # (p, p, S): (X'V^-1X)^-1 sigma^2-free = Var(beta) / sigma^2


class BatchDeviance:
    """The profiled deviance of one design for a batch of responses (one grouping factor)."""

    def __init__(self, xp: CrossProducts, reml: bool):
        if xp.n_rest:
            raise ValueError("batched refits need a single grouping factor")
        self.xp = xp
        self.reml = reml
        p = xp.p
        self.A = xp.A  # (Q, Q, G)
        self.BX = xp.B[:, :p, :]  # (Q, p, G)
        self.Cxx = xp.C[:p, :p]
        self.k = int(xp.first_theta.size)
        self.rows, self.cols = xp.first_map.rows, xp.first_map.cols
        self.index = xp.first_theta[xp.first_map.index]
        self.diag = np.unique(self.index[self.rows == self.cols])  # theta on Lambda's diagonal

    def Lambda(self, theta: np.ndarray) -> np.ndarray:
        """(Q, Q, S) lower-triangular factors for thetas (k, S)."""
        Q = self.xp.Q
        L = np.zeros((Q, Q, theta.shape[1]))
        L[self.rows, self.cols] = theta[self.index]
        return L

    def canonical(self, theta: np.ndarray) -> np.ndarray:
        """theta with each column of Lambda flipped to a non-negative diagonal (same model)."""
        L = self.Lambda(theta)
        sign = np.where(np.einsum("qqs->qs", L) < 0, -1.0, 1.0)  # (Q, S)
        L = L * sign[None, :, :]
        return L[self.rows, self.cols][np.argsort(self.index)]

    def evaluate(
        self, theta: np.ndarray, Zy: np.ndarray, Xy: np.ndarray, yy: np.ndarray
    ) -> BatchState:
        """Deviance pieces at thetas (k, S) for responses with Z_j'y (Q, G, S), X'y (p, S), y'y."""
        xp = self.xp
        n, p, Q = xp.n, xp.p, xp.Q
        L = self.Lambda(theta)
        if Q == 1:
            l2 = L[0, 0] ** 2  # (S,)
            T = 1.0 + self.A[0, 0][:, None] * l2[None, :]  # (G, S)
            with np.errstate(divide="ignore", invalid="ignore"):
                ldL2 = np.sum(np.log(T), axis=0)
                m = l2[None, :] / T  # M_j = lambda^2 / T_j
            MBX = m[None, None] * self.BX[:, :, :, None]  # (1, p, G, S)
            Mby = m[None] * Zy  # (1, G, S)
        else:
            LtA = np.einsum("aqs,abg->qbgs", L, self.A)
            T = np.einsum("qbgs,brs->qrgs", LtA, L)
            T[np.arange(Q), np.arange(Q)] += 1.0
            K, logdet = inv_logdet(T)  # (Q, Q, G, S), (G, S)
            ldL2 = logdet.sum(axis=0)
            M = np.einsum("aqs,qrgs,brs->abgs", L, K, L)
            MBX = np.einsum("qrgs,rag->qags", M, self.BX)
            Mby = np.einsum("qrgs,rgs->qgs", M, Zy)
        Sxx = self.Cxx[:, :, None] - np.einsum("qbg,qags->bas", self.BX, MBX)
        Sxy = Xy - np.einsum("qag,qgs->as", self.BX, Mby)
        Syy = yy - np.einsum("qgs,qgs->s", Zy, Mby)
        if p:
            Ui, ldRX2 = inv_logdet(Sxx)  # (p, p, S), (S,)
            beta = np.einsum("abs,bs->as", Ui, Sxy)
            r2 = Syy - np.einsum("as,as->s", Sxy, beta)
            U = Ui
        else:
            ldRX2 = np.zeros_like(Syy)
            beta = np.zeros((0, Syy.size))
            r2 = Syy
            U = np.zeros((0, 0, Syy.size))
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.reml:
                df = n - p
                crit = ldL2 + ldRX2 + df * (1.0 + LOG_2PI + np.log(r2 / df))
            else:
                crit = ldL2 + n * (1.0 + LOG_2PI + np.log(r2 / n))
        crit = np.where(np.isfinite(crit) & (r2 > 0), crit, np.inf)
        return BatchState(crit, ldL2, ldRX2, r2, beta, U)

    def sigma2(self, state: BatchState) -> np.ndarray:
        return state.r2 / (self.xp.n - self.xp.p if self.reml else self.xp.n)


@dataclass(frozen=True)
class BatchFit:
    """Refits of a batch: estimates, and whether each converged here."""

    theta: np.ndarray  # (k, S), canonical (non-negative diagonal of Lambda)
    state: BatchState
    converged: np.ndarray  # (S,) bool
    singular: np.ndarray  # (S,) bool
    iterations: np.ndarray  # (S,)


def _derivatives(
    dev: BatchDeviance, theta: np.ndarray, f0: np.ndarray, data: tuple, h: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradient (k, S) and Hessian (S, k, k) of the batched deviance."""
    k = theta.shape[0]
    S = theta.shape[1]
    g = np.empty((k, S))
    H = np.empty((S, k, k))
    plus, minus = [], []
    for i in range(k):
        e = np.zeros((k, 1))
        e[i] = 1.0
        plus.append(dev.evaluate(theta + e * h[i], *data).criterion)
        minus.append(dev.evaluate(theta - e * h[i], *data).criterion)
        g[i] = (plus[i] - minus[i]) / (2 * h[i])
        H[:, i, i] = (plus[i] - 2 * f0 + minus[i]) / h[i] ** 2
    for i in range(k):
        for j in range(i):
            e = np.zeros((k, 1))
            e[i], e[j] = h[i], h[j]
            f = np.zeros((k, 1))
            f[i], f[j] = h[i], -h[j]
            fpp = dev.evaluate(theta + e, *data).criterion
            fmm = dev.evaluate(theta - e, *data).criterion
            fpm = dev.evaluate(theta + f, *data).criterion
            fmp = dev.evaluate(theta - f, *data).criterion
            H[:, i, j] = H[:, j, i] = (fpp - fpm - fmp + fmm) / (4 * h[i] * h[j])
    return g, H


def _newton_direction(g: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-Hmod^-1 g with Hmod the Hessian with eigenvalues made positive, and the decrement."""
    vals, vecs = np.linalg.eigh(H)  # (S, k), (S, k, k)
    scale = np.maximum(np.abs(vals), 1e-8 * np.maximum(np.abs(vals).max(axis=1, keepdims=True), 1))
    gt = np.einsum("ski,ks->si", vecs, g)
    d = -np.einsum("sij,sj->is", vecs, gt / scale)
    decrement = np.einsum("si,si->s", gt, gt / scale)
    return d, decrement


def newton_refits(
    dev: BatchDeviance, start: np.ndarray, Zy: np.ndarray, Xy: np.ndarray, yy: np.ndarray
) -> BatchFit:
    """Minimize the deviance of every response in the batch from ``start`` (k,) by Newton's
    method with a backtracking line search; each refit stops on its own."""
    S = yy.size
    theta = np.repeat(np.asarray(start, float)[:, None], S, axis=1)
    active = np.arange(S)
    converged = np.zeros(S, bool)
    iterations = np.zeros(S, int)
    f = dev.evaluate(theta, Zy, Xy, yy).criterion
    for it in range(MAX_NEWTON):
        if not active.size:
            break
        data = (Zy[:, :, active], Xy[:, active], yy[active])
        th = theta[:, active]
        f0 = f[active]
        h = STEP * np.maximum(np.abs(th), 0.1).max(axis=1)  # one step per coordinate
        g, H = _derivatives(dev, th, f0, data, h)
        d, decrement = _newton_direction(g, H)
        done = (decrement / 2 < DECREMENT_TOL) & np.isfinite(f0)
        alpha = np.ones(active.size)
        accepted = done.copy()
        new = th.copy()
        fnew = f0.copy()
        slope = np.einsum("is,is->s", g, d)
        for _ in range(30):
            todo = ~accepted
            if not todo.any():
                break
            trial = th[:, todo] + alpha[todo] * d[:, todo]
            sub = (data[0][:, :, todo], data[1][:, todo], data[2][todo])
            ft = dev.evaluate(trial, *sub).criterion
            ok = ft <= f0[todo] + 1e-4 * alpha[todo] * slope[todo]
            idx = np.flatnonzero(todo)
            new[:, idx[ok]] = trial[:, ok]
            fnew[idx[ok]] = ft[ok]
            accepted[idx[ok]] = True
            alpha[idx[~ok]] /= 2
        theta[:, active] = new
        f[active] = fnew
        iterations[active] = it + 1
        # a step that cannot decrease the deviance at all: stationary to rounding, or failed
        stuck = ~accepted
        converged[active[done]] = True
        converged[active[stuck & (decrement / 2 < 1e-6)]] = True
        active = active[~done & ~stuck]
    theta = dev.canonical(theta)
    state = dev.evaluate(theta, Zy, Xy, yy)
    converged &= np.isfinite(state.criterion)
    singular = np.any(theta[dev.diag] < SINGULAR_TOL, axis=0)
    return BatchFit(theta, state, converged, singular, iterations)
