"""The profiled deviance d(theta) of Bates et al. (2015, sections 3.1-3.6), from cross-products.

For a fixed theta, with Lambda the block-diagonal relative covariance factor,

    L L' = Lambda' Z'Z Lambda + I,  R_X' R_X = X'X - R_ZX' R_ZX,  r^2 = penalized RSS,
    ML:   d(theta)   = log|L|^2 + n [1 + log(2 pi r^2 / n)]
    REML: d_R(theta) = log|L|^2 + log|R_X|^2 + (n-p) [1 + log(2 pi r^2 / (n-p))].

The first block (the grouping factor with most levels) is eliminated group by group:
M_j = Lambda (Lambda' A_j Lambda + I)^-1 Lambda', and the Schur complement
S = W'W - sum_j B_j' M_j B_j over W = [Z_rest X y] is then factored densely. Its Cholesky factor
carries log|L|^2 of the remaining terms, log|R_X|^2, beta and r^2. REML differs from ML only in
the denominator n - p and the log|R_X|^2 term, applied in :meth:`ProfiledDeviance.criterion`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from multilevel.objective import smallmat as sm
from multilevel.objective.crossprod import CrossProducts

LOG_2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class Evaluation:
    """Everything known at one theta: the pieces of the deviance and the profiled beta."""

    theta: np.ndarray
    ldL2: float  # log|L|^2
    ldRX2: float  # log|R_X|^2
    r2: float  # penalized residual sum of squares
    beta: np.ndarray
    R_X: np.ndarray  # lower triangular: R_X' of the text (R_X'R_X = X'V^-1X sigma^2)
    Lambda1: np.ndarray  # (Q, Q)
    K: np.ndarray  # (Q, Q, G): (Lambda' A_j Lambda + I)^-1, group index last
    M: np.ndarray  # (Q, Q, G): Lambda K_j Lambda'
    R: np.ndarray  # lower Cholesky factor of S, the Schur complement over [Z_rest X y]
    Lambda_rest: sp.csr_matrix | None
    rest_lu: Any = None  # sparse LU of the random-effects part of S (sparse path only)
    S_zw: np.ndarray | None = None  # its coupling to [X y] (sparse path only)

    @cached_property
    def XtVinvX_inv(self) -> np.ndarray:
        """(R_X'R_X)^-1 = Var(beta_hat) / sigma^2, made only when asked for (the optimizer needs
        only the deviance: on a wide X this inverse would cost more than the rest)."""
        return _inverse_from_cholesky(self.R_X)


def pair_map(
    B: sp.csr_matrix, max_pairs: int = 40_000_000, lower: bool = False
) -> sp.csr_matrix | None:
    """W with (B' diag(m) B).ravel() = W m for any m: the pairs of columns each row of B couples.

    With one random effect per level of the first factor, B_rest' M B_rest is a weighted sum of
    outer products of the rows of B_rest; precomputing which entries each row feeds turns the
    per-evaluation sparse product into one sparse matrix-vector product. ``lower``: only the
    entries on and below the diagonal (the rest of the result is 0), half the work, for a
    Cholesky factorization that reads the lower triangle only. None if too large.
    """
    B = B.tocsr()
    B.sum_duplicates()
    counts = np.diff(B.indptr)
    total = int(np.sum(counts.astype(np.int64) ** 2))
    if total > max_pairs:
        return None
    G, nr = B.shape
    row_of = np.repeat(np.arange(G), counts)  # row of every stored entry
    reps = counts[row_of]  # each entry pairs with every entry of its row
    a = np.repeat(np.arange(B.nnz), reps)
    start = np.repeat(B.indptr[row_of], reps)
    offset = np.arange(a.size) - np.repeat(np.cumsum(reps) - reps, reps)
    b = start + offset
    if lower:
        keep = B.indices[a] >= B.indices[b]
        a, b = a[keep], b[keep]
    key = B.indices[a].astype(np.int64) * nr + B.indices[b]
    W = sp.csr_matrix((B.data[a] * B.data[b], (key, row_of[a])), shape=(nr * nr, G))
    W.sum_duplicates()
    return W


def _cholesky_inplace(S: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor, overwriting S; numpy.linalg.LinAlgError if S is not PD."""
    try:
        return sla.cholesky(S, lower=True, overwrite_a=True, check_finite=False)
    except sla.LinAlgError as exc:
        raise np.linalg.LinAlgError(str(exc)) from None


def _beta(Lxx: np.ndarray, lyx: np.ndarray) -> np.ndarray:
    """beta_hat from the X-y block of the Cholesky factor: R_X beta = c_beta."""
    if not len(lyx):
        return np.zeros(0)
    return sla.solve_triangular(Lxx, lyx, lower=True, trans="T", check_finite=False)


def _inverse_from_cholesky(Lxx: np.ndarray) -> np.ndarray:
    """(Lxx Lxx')^-1 by LAPACK's potri (p^3/3 flops, a third of forming Linv'Linv)."""
    p = Lxx.shape[0]
    if not p:
        return np.zeros((0, 0))
    inv, info = sla.lapack.dpotri(np.array(Lxx, order="F"), lower=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"R_X is singular (potri info {info})")
    lower = np.tril(inv)
    return lower + np.tril(inv, -1).T


class ProfiledDeviance:
    """d(theta) for ML or REML, its gradient where available, and the state at any theta."""

    def __init__(self, xp: CrossProducts, reml: bool = True):
        self.xp = xp
        self.reml = reml
        self.n_theta = int(max(xp.first_theta.max(initial=-1), xp.rest_map[2].max(initial=-1)) + 1)
        self.evaluations = 0
        rows, cols, _ = xp.rest_map
        self._rest_diagonal = bool(np.all(rows == cols)) and np.array_equal(
            rows, np.arange(xp.n_rest)
        )
        # with a diagonal Lambda_rest, S is scaled in place and only its lower triangle is read
        self._pair_map = (
            pair_map(xp.B_rest, lower=self._rest_diagonal)
            if xp.n_rest and xp.Q == 1 and not xp.rest_is_sparse and xp.B_rest is not None
            else None
        )

    # ---------------------------------------------------------------- evaluation
    def lambda_first(self, theta: np.ndarray) -> np.ndarray:
        xp = self.xp
        return xp.first_map.fill(theta[xp.first_theta], xp.Q)

    def lambda_rest(self, theta: np.ndarray) -> sp.csr_matrix:
        rows, cols, idx = self.xp.rest_map
        nr = self.xp.n_rest
        return sp.csr_matrix((theta[idx], (rows, cols)), shape=(nr, nr))

    def evaluate(self, theta: np.ndarray) -> Evaluation:
        """The deviance pieces at theta; raises numpy.linalg.LinAlgError if S is not PD."""
        xp = self.xp
        theta = np.asarray(theta, dtype=float)
        L1 = self.lambda_first(theta)
        Q, P = xp.Q, xp.B.shape[1]
        T = sm.right(sm.left(L1.T, xp.A), L1)
        T[np.arange(Q), np.arange(Q)] += 1.0
        K, ldL2 = sm.inv_logdet(T)
        M = sm.right(sm.left(L1, K), L1.T)
        MB = sm.mm(M, xp.B)
        BMB = np.zeros((P, P))
        for i in range(Q):
            BMB += xp.B[i] @ MB[i].T
        nr = xp.n_rest
        Lr = None
        if nr == 0:
            S = xp.C - BMB
        else:
            assert xp.B_rest is not None and xp.C_rr is not None and xp.C_rw is not None
            Lr = self.lambda_rest(theta)
            Mbsr = sp.bsr_matrix(
                (sm.to_stacked(M), np.arange(xp.G), np.arange(xp.G + 1)),
                shape=(xp.G * Q, xp.G * Q),
            )
            MBr = (Mbsr @ xp.B_rest).tocsr()
            BrMBxy = np.asarray(MBr.T @ xp.B_flat)
            if xp.rest_is_sparse:
                BrMBr = xp.B_rest.T @ MBr
                return self._evaluate_sparse(theta, L1, K, M, xp.C - BMB, BrMBr, BrMBxy, Lr, ldL2)
            S = self._dense_schur(theta, M, MBr, BrMBxy, BMB, Lr)
        # the factor replaces S in memory (S is not needed again)
        R = np.linalg.cholesky(S) if nr == 0 else _cholesky_inplace(S)
        d = np.diag(R)
        p = xp.p
        ldL2 += float(2.0 * np.sum(np.log(d[:nr])))
        ldRX2 = float(2.0 * np.sum(np.log(d[nr : nr + p])))
        r2 = float(d[-1] ** 2)
        R_X = R[nr : nr + p, nr : nr + p]
        beta = _beta(R_X, R[-1, nr : nr + p])
        self.evaluations += 1
        return Evaluation(theta, ldL2, ldRX2, r2, beta, R_X, L1, K, M, R, Lr)

    def _dense_schur(self, theta, M, MBr, BrMBxy, BMB, Lr) -> np.ndarray:
        """S = Lt'(W'W - B'MB)Lt + [I 0; 0 0] over W = [Z_rest X y], Lt = blockdiag(Lambda_rest, I),
        assembled in place (it is the largest object of a crossed fit)."""
        xp = self.xp
        nr = xp.n_rest
        size = nr + BMB.shape[0]
        S = np.empty((size, size))
        if self._pair_map is not None:  # one random effect per first-block level: W m
            # (lower triangle only when Lambda_rest is diagonal: the upper one is never read)
            S[:nr, :nr] = xp.C_rr - (self._pair_map @ M[0, 0]).reshape(nr, nr)
        else:
            assert xp.B_rest is not None
            S[:nr, :nr] = xp.C_rr - (xp.B_rest.T @ MBr).toarray()
        S[:nr, nr:] = xp.C_rw - BrMBxy
        S[nr:, :nr] = S[:nr, nr:].T
        S[nr:, nr:] = xp.C - BMB
        if self._rest_diagonal:
            lam = theta[xp.rest_map[2]]  # Lambda_rest is diagonal: scale rows and columns
            S[:nr, :] *= lam[:, None]
            S[:, :nr] *= lam[None, :]
        else:
            top = np.asarray(Lr.T @ S[:nr, :])
            S[:nr, :nr] = np.asarray((Lr.T @ top[:, :nr].T).T)
            S[:nr, nr:] = top[:, nr:]
            S[nr:, :nr] = top[:, nr:].T
        S[np.arange(nr), np.arange(nr)] += 1.0
        return S

    def _evaluate_sparse(self, theta, L1, K, M, Sww, BrMBr, BrMBxy, Lr, ldL2) -> Evaluation:
        """The same pieces when the other factors have many levels: the random-effects part of
        S is sparse (block diagonal for nested factors) and is factored by a sparse LU with a
        fill-reducing symmetric ordering; X and y enter through a dense Schur complement."""
        xp = self.xp
        nr, p = xp.n_rest, xp.p
        Szz = (Lr.T @ (xp.C_rr - BrMBr) @ Lr + sp.identity(nr)).tocsc()
        Szw = np.asarray(Lr.T @ (xp.C_rw - BrMBxy))
        lu = spla.splu(
            Szz, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True}
        )
        u = lu.U.diagonal()
        if np.any(u <= 0):
            raise np.linalg.LinAlgError("sparse part of the system is not positive definite")
        ldL2 += float(np.sum(np.log(u)))
        Sc = Sww - Szw.T @ lu.solve(Szw)
        R = np.linalg.cholesky(Sc)
        d = np.diag(R)
        ldRX2 = float(2.0 * np.sum(np.log(d[:p])))
        r2 = float(d[-1] ** 2)
        beta = _beta(R[:p, :p], R[-1, :p])
        self.evaluations += 1
        return Evaluation(
            theta, ldL2, ldRX2, r2, beta, R[:p, :p], L1, K, M, R, Lr, rest_lu=lu, S_zw=Szw
        )

    def criterion(self, ev: Evaluation) -> float:
        """-2 log-likelihood (ML) or the REML criterion at an evaluation."""
        n, p = self.xp.n, self.xp.p
        if self.reml:
            df = n - p
            return ev.ldL2 + ev.ldRX2 + df * (1.0 + LOG_2PI + np.log(ev.r2 / df))
        return ev.ldL2 + n * (1.0 + LOG_2PI + np.log(ev.r2 / n))

    def __call__(self, theta: np.ndarray) -> float:
        try:
            ev = self.evaluate(theta)
        except np.linalg.LinAlgError:
            return float("inf")
        if ev.r2 <= 0 or not np.isfinite(ev.r2):
            return float("inf")
        return float(self.criterion(ev))

    def sigma2(self, ev: Evaluation) -> float:
        """Profiled residual variance: r^2 / n (ML) or r^2 / (n - p) (REML)."""
        return ev.r2 / (self.xp.n - self.xp.p if self.reml else self.xp.n)

    # ---------------------------------------------------------------- gradient
    @property
    def has_gradient(self) -> bool:
        return self.xp.n_rest == 0

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """d(theta) and its exact gradient (one grouping factor).

        With E_k = dLambda/dtheta_k = e_r e_c', K_j = (Lambda'A_jLambda + I)^-1, N_j = I - M_j A_j:
        d log|L|^2 = 2 sum_j (K_j Lambda' A_j)[c, r];  dM_j = N_j E_k K_j Lambda' + (.)';
        d r^2 = w' dS w with w = [-beta; 1];  d log|R_X|^2 = tr(S_xx^-1 dS_xx).
        """
        xp = self.xp
        ev = self.evaluate(theta)
        if ev.r2 <= 0:
            raise np.linalg.LinAlgError("penalized residual sum of squares is zero")
        Q, p = xp.Q, xp.p
        KLt = sm.right(ev.K, ev.Lambda1.T)  # K Lambda'
        N = -sm.mm(ev.M, xp.A)
        N[np.arange(Q), np.arange(Q)] += 1.0  # N = I - M A
        w = np.append(-ev.beta, 1.0)
        v = np.einsum("iag,a->ig", xp.B, w)  # B_j w, (Q, G)
        a = sm.mtv(N, v)
        bv = sm.mv(KLt, v)
        omega = a @ bv.T  # sum_j a_j bv_j'
        g_logdet = 2.0 * sm.mm(KLt, xp.A).sum(axis=2)  # indexed [c, r]
        rows, cols, idx = xp.first_map.rows, xp.first_map.cols, xp.first_map.index
        d_r2 = -2.0 * omega[rows, cols]
        grad_first = g_logdet[cols, rows]
        n = xp.n
        if self.reml:
            Bx = xp.B[:, :p, :]
            SB = np.moveaxis(np.tensordot(ev.XtVinvX_inv, Bx, axes=([1], [1])), 0, 1)
            P = np.einsum("iag,jag->ijg", Bx, SB)
            KLPN = sm.mm(sm.mm(KLt, P), N).sum(axis=2)
            grad_first = grad_first - 2.0 * KLPN[cols, rows]
            denom = n - p
        else:
            denom = n
        grad_first = grad_first + denom / ev.r2 * d_r2
        grad = np.zeros(self.n_theta)
        np.add.at(grad, xp.first_theta[idx], grad_first)
        return float(self.criterion(ev)), grad
