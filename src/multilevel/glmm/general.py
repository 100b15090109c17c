"""The Laplace deviance of a GLMM with any random-effects structure (nested, crossed, several
terms), with I + Lambda'Z'WZ Lambda (Q x Q) factored densely.

The same function and gradient as :mod:`multilevel.glmm.grouped`, written with whole matrices:
u solves Lambda'Z'a + u = 0 (a = half the slope of the deviance), and

    F = sum_i d_i + |u|^2 + log det(I + Lambda'Z'W Z Lambda).

Every row of Z Lambda has the same K = sum of the terms' q nonzeros (its level's block of each
term), so Z Lambda is kept as (n, K) column indices and values: products with it, its weighted
cross-product and the row-wise quadratic forms z_i'Lambda H^-1 Lambda'z_i are gathers and
bincounts, never an n x Q matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from multilevel.family import Family, RowTerms
from multilevel.glmm.grouped import DECREMENT_TOL, MAX_PIRLS

#: above this many random effects, I + Lambda'Z'WZ Lambda is factored as a sparse matrix
DENSE_LIMIT = 1000


class DenseFactor:
    """Cholesky factor of a dense symmetric positive definite matrix."""

    def __init__(self, A: np.ndarray) -> None:
        self.cf = sla.cho_factor(A, lower=True, check_finite=False)

    def solve(self, b: np.ndarray) -> np.ndarray:
        return sla.cho_solve(self.cf, b, check_finite=False)

    def logdet(self) -> float:
        return float(2 * np.log(np.diag(self.cf[0])).sum())

    def inverse(self) -> np.ndarray:
        """A^-1 from the factor (LAPACK potri: a third of the work of solving for I)."""
        inv, info = sla.lapack.dpotri(self.cf[0], lower=1)
        if info != 0:
            return self.solve(np.eye(self.cf[0].shape[0]))
        inv = np.tril(inv)
        return inv + np.tril(inv, -1).T


class SparseFactor:
    """Sparse LU with symmetric (diagonal) pivoting and a fill-reducing order: for SPD
    matrices the pivots are the positive Cholesky pivots; a non-positive one means the
    matrix is not positive definite (LinAlgError, as the dense factor)."""

    def __init__(self, A: sp.csc_matrix) -> None:
        self.lu = spla.splu(
            A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True}
        )
        d = self.lu.U.diagonal()
        if not np.all(d > 0):
            raise np.linalg.LinAlgError("matrix is not positive definite")
        self._logdet = float(np.log(d).sum())
        self.Q = A.shape[0]

    def solve(self, b: np.ndarray) -> np.ndarray:
        return self.lu.solve(np.asarray(b, dtype=float))

    def logdet(self) -> float:
        return self._logdet

    def inverse(self) -> np.ndarray:
        return self.lu.solve(np.eye(self.Q))


class RowBlocks:
    """An n x Q matrix with K nonzeros per row at ``idx`` (n, K) with values ``val`` (n, K)."""

    def __init__(self, idx: np.ndarray, val: np.ndarray, Q: int) -> None:
        self.idx, self.val, self.Q = idx, val, Q

    def dot(self, u: np.ndarray) -> np.ndarray:
        return np.einsum("ik,ik->i", self.val, u[self.idx])

    def tdot(self, v: np.ndarray) -> np.ndarray:
        return np.bincount(
            self.idx.ravel(), weights=(self.val * v[:, None]).ravel(), minlength=self.Q
        )

    def tdot_matrix(self, V: np.ndarray) -> np.ndarray:
        """(Q, p): this' V for an (n, p) V."""
        return np.stack([self.tdot(V[:, j]) for j in range(V.shape[1])], axis=1)

    def cross(self, w: np.ndarray, other: RowBlocks | None = None) -> np.ndarray:
        """Dense Q x Q: this' diag(w) other."""
        o = self if other is None else other
        K = self.idx.shape[1]
        rows = np.repeat(self.idx, K, axis=1).ravel()
        cols = np.tile(o.idx, (1, K)).ravel()
        vals = (np.repeat(self.val * w[:, None], K, axis=1) * np.tile(o.val, (1, K))).ravel()
        return sp.coo_matrix((vals, (rows, cols)), shape=(self.Q, self.Q)).toarray()

    def cross_sparse(self, w: np.ndarray) -> sp.csc_matrix:
        """Sparse Q x Q: this' diag(w) this."""
        K = self.idx.shape[1]
        rows = np.repeat(self.idx, K, axis=1).ravel()
        cols = np.tile(self.idx, (1, K)).ravel()
        vals = (np.repeat(self.val * w[:, None], K, axis=1) * np.tile(self.val, (1, K))).ravel()
        return sp.coo_matrix((vals, (rows, cols)), shape=(self.Q, self.Q)).tocsc()

    def quad(self, M: np.ndarray, other: RowBlocks | None = None) -> np.ndarray:
        """Row-wise this_i M other_i' (n,)."""
        o = self if other is None else other
        out = np.zeros(self.idx.shape[0])
        for a in range(self.idx.shape[1]):
            for b in range(o.idx.shape[1]):
                out += self.val[:, a] * o.val[:, b] * M[self.idx[:, a], o.idx[:, b]]
        return out


class GeneralLaplace:
    """F(theta, beta) and gradient for any random part.

    ``idx``/``zval`` give Z's K nonzeros per row (u laid out term by term, level by level);
    ``term_cols`` the columns of idx of each term; ``theta_pos`` for each theta element its
    term and (row, col) in the term's Lambda."""

    def __init__(
        self,
        X: np.ndarray,
        idx: np.ndarray,
        zval: np.ndarray,
        Q: int,
        term_cols: list[tuple[int, int]],
        theta_pos: list[tuple[int, int, int]],
        y: np.ndarray,
        w: np.ndarray,
        offset: np.ndarray,
        family: Family,
    ) -> None:
        self.X, self.idx, self.zval, self.Q = X, idx, zval, Q
        self.term_cols, self.theta_pos = term_cols, theta_pos
        self.y, self.w, self.offset, self.family = y, w, offset, family
        self.n, self.p = X.shape
        self.constant = family.constant(y, w)
        self.u: np.ndarray | None = None
        self.pirls_iterations = 0
        self._last: tuple[np.ndarray, RowTerms, np.ndarray] | None = None

    # ------------------------------------------------------------------ Lambda
    def term_lambdas(self, theta: np.ndarray) -> list[np.ndarray]:
        out = [np.zeros((c1 - c0, c1 - c0)) for c0, c1 in self.term_cols]
        for th, (t, r, c) in zip(theta, self.theta_pos, strict=True):
            out[t][r, c] = th
        return out

    def ZL(self, lams: list[np.ndarray]) -> RowBlocks:
        """Z Lambda: per term, each row's values times that term's Lambda."""
        val = np.empty_like(self.zval)
        for (c0, c1), L in zip(self.term_cols, lams, strict=True):
            val[:, c0:c1] = self.zval[:, c0:c1] @ L
        return RowBlocks(self.idx, val, self.Q)

    def ZdL(self, m: int) -> RowBlocks:
        """Z dLambda/dtheta_m (nonzero only in theta_m's term)."""
        t, r, c = self.theta_pos[m]
        val = np.zeros_like(self.zval)
        c0 = self.term_cols[t][0]
        val[:, c0 + c] = self.zval[:, c0 + r]
        return RowBlocks(self.idx, val, self.Q)

    def _factor(self, ZL: RowBlocks, v: np.ndarray) -> DenseFactor | SparseFactor:
        """The factor of I + Lambda'Z' diag(v) Z Lambda (dense, or sparse for many effects)."""
        if self.Q > DENSE_LIMIT:
            A = ZL.cross_sparse(v) + sp.identity(self.Q, format="csc")
            return SparseFactor(A.tocsc())
        A = ZL.cross(v)
        A[np.diag_indices_from(A)] += 1.0
        return DenseFactor(A)

    # ------------------------------------------------------------------ PIRLS
    def pirls(self, theta: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, RowTerms, np.ndarray]:
        ZL = self.ZL(self.term_lambdas(theta))
        eta0 = self.offset + self.X @ beta
        u = self.u.copy() if self.u is not None else np.zeros(self.Q)
        eta = eta0 + ZL.dot(u)
        rt = self.family.rows(eta, self.y, self.w)
        P = rt.dev.sum() + u @ u
        if not np.isfinite(P):  # the last modes are no start here: from zero
            u = np.zeros(self.Q)
            eta = eta0.copy()
            rt = self.family.rows(eta, self.y, self.w)
            P = rt.dev.sum()
        it = 0
        for _ in range(MAX_PIRLS):
            it += 1
            grad = ZL.tdot(rt.a) + u
            try:  # Newton (observed curvature); Fisher scoring where that is not positive
                cf = self._factor(ZL, rt.e if not self.family.canonical else rt.b)
            except (np.linalg.LinAlgError, ValueError, RuntimeError):
                try:
                    cf = self._factor(ZL, rt.b)
                except (np.linalg.LinAlgError, ValueError, RuntimeError):
                    break
            delta = -cf.solve(grad)
            final = bool(-(grad @ delta) < DECREMENT_TOL)
            step = 1.0
            for _ in range(30):
                u_new = u + step * delta
                eta_new = eta0 + ZL.dot(u_new)
                rt_new = self.family.rows(eta_new, self.y, self.w)
                P_new = rt_new.dev.sum() + u_new @ u_new
                if final or P_new <= P + 1e-10 * (1 + abs(P)):  # NaN is worse
                    break
                step *= 0.5
            else:  # no decrease in 30 halvings: keep the modes
                u_new, eta_new, rt_new, P_new, final = u, eta, rt, P, True
            u, eta, rt, P = u_new, eta_new, rt_new, P_new
            if final:
                break
        self.pirls_iterations += it
        self.u = u
        self._last = (u, rt, eta)
        return u, rt, eta

    # ------------------------------------------------------------------ objective
    def deviance(self, phi: np.ndarray, nth: int) -> float:
        theta, beta = phi[:nth], phi[nth:]
        u, rt, _ = self.pirls(theta, beta)
        ZL = self.ZL(self.term_lambdas(theta))
        logdet = self._factor(ZL, rt.b).logdet()
        return float(rt.dev.sum() + u @ u + logdet + self.constant)

    def deviance_and_gradient(self, phi: np.ndarray, nth: int) -> tuple[float, np.ndarray]:
        theta, beta = phi[:nth], phi[nth:]
        u, _, eta = self.pirls(theta, beta)
        rt = self.family.rows(eta, self.y, self.w, c=True)
        assert rt.c is not None
        ZL = self.ZL(self.term_lambdas(theta))
        cf = self._factor(ZL, rt.b)
        value = float(rt.dev.sum() + u @ u + cf.logdet() + self.constant)
        Hinv = cf.inverse()
        Jcf = cf if self.family.canonical else self._factor(ZL, rt.e)
        t = rt.c * ZL.quad(Hinv)
        ZLt = ZL.tdot(t)
        du_db = -Jcf.solve(ZL.tdot_matrix(rt.e[:, None] * self.X))
        g_beta = 2 * (self.X.T @ rt.a) + self.X.T @ t + ZLt @ du_db
        g_theta = np.empty(nth)
        for m in range(nth):
            ZdL = self.ZdL(m)
            v = ZdL.dot(u)
            rhs = ZdL.tdot(rt.a) + ZL.tdot(rt.e * v)
            du = -Jcf.solve(rhs)
            tr = float(rt.b @ ZL.quad(Hinv, ZdL))
            g_theta[m] = 2 * (rt.a @ v) + 2 * tr + t @ (v + ZL.dot(du))
        return value, np.concatenate([g_theta, g_beta])

    # ------------------------------------------------------------------ at the optimum
    def modes(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """u and Var(u | y) = H^-1 at the last PIRLS (mapped to b per term by the caller)."""
        assert self._last is not None
        u, rt, _ = self._last
        ZL = self.ZL(self.term_lambdas(theta))
        Hinv = self._factor(ZL, rt.b).inverse()
        return u, Hinv

    def unscaled_vcov(self, theta: np.ndarray) -> np.ndarray:
        assert self._last is not None
        _, rt, _ = self._last
        ZL = self.ZL(self.term_lambdas(theta))
        cf = self._factor(ZL, rt.b)
        LZWX = ZL.tdot_matrix(rt.b[:, None] * self.X)
        RX = self.X.T @ (rt.b[:, None] * self.X) - LZWX.T @ cf.solve(LZWX)
        return np.linalg.inv(RX)

    def fixed_information(self, theta: np.ndarray) -> np.ndarray:
        """R_X'R_X at the last modes (see GroupedLaplace.fixed_information)."""
        return np.linalg.inv(self.unscaled_vcov(theta))
