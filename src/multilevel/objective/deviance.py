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

import copy
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from itertools import zip_longest
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from multilevel.objective import smallmat as sm
from multilevel.objective.crossprod import CrossProducts
from multilevel.objective.schur import DenseSchur, pair_map  # noqa: F401 - pair_map re-exported

LOG_2PI = float(np.log(2 * np.pi))
#: evaluations remembered by theta (see ProfiledDeviance.evaluate)
RECENT = 8


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
    factor: Callable[[], np.ndarray]  # makes R (below) when asked
    Lambda_rest: sp.csr_matrix | None
    rest_lu: Any = None  # sparse LU of the random-effects part of S (sparse path only)
    S_zw: np.ndarray | None = None  # its coupling to [X y] (sparse path only)

    @cached_property
    def R(self) -> np.ndarray:
        """Lower Cholesky factor of S, the Schur complement over [Z_rest X y]. A crossed fit
        factors S in a buffer that the next evaluation reuses, so R is made on first use (a
        copy while the buffer still holds it, else one more factorization)."""
        return self.factor()

    @cached_property
    def XtVinvX_inv(self) -> np.ndarray:
        """(R_X'R_X)^-1 = Var(beta_hat) / sigma^2, made only when asked for (the optimizer needs
        only the deviance: on a wide X this inverse would cost more than the rest)."""
        return _inverse_from_cholesky(self.R_X)


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
        # the dense Schur complement over [Z_rest X y]: one buffer, reused by every evaluation
        self.schur = (
            DenseSchur(xp, self._rest_diagonal) if xp.n_rest and not xp.rest_is_sparse else None
        )
        self._recent: dict[bytes, tuple[CrossProducts, Evaluation]] = {}
        #: evaluations of a stencil run this many at a time (fitting sets 2 on idle cores)
        self.workers = 1
        #: BLAS threads for a one-factor fit's dense Cholesky (optimize.threads.MeasuredThreads)
        self.threads: Any = None

    # ---------------------------------------------------------------- evaluation
    def lambda_first(self, theta: np.ndarray) -> np.ndarray:
        xp = self.xp
        return xp.first_map.fill(theta[xp.first_theta], xp.Q)

    def lambda_rest(self, theta: np.ndarray) -> sp.csr_matrix:
        rows, cols, idx = self.xp.rest_map
        nr = self.xp.n_rest
        if self._rest_diagonal:  # one entry per row, in row order: CSR without a sort
            return sp.csr_matrix((theta[idx], rows, np.arange(nr + 1)), shape=(nr, nr))
        return sp.csr_matrix((theta[idx], (rows, cols)), shape=(nr, nr))

    def evaluate(self, theta: np.ndarray) -> Evaluation:
        """The deviance pieces at theta; raises numpy.linalg.LinAlgError if S is not PD.

        The last few evaluations are remembered: the optimizer's optimum, the centre of the
        Hessian's stencil and the final state are the same theta, each costing a factorization
        of the Schur complement on a crossed model."""
        theta = np.array(theta, dtype=float)
        key = theta.tobytes()
        hit = self._recent.get(key)
        if hit is not None and hit[0] is self.xp:
            return hit[1]
        ev = self._evaluate(theta)
        if len(self._recent) >= RECENT:
            self._recent.pop(next(iter(self._recent)))
        self._recent[key] = (self.xp, ev)
        return ev

    def evaluate_many(self, thetas: list[np.ndarray]) -> list[Evaluation]:
        """:meth:`evaluate` at each theta (a finite-difference stencil). With ``workers`` = 2
        and a dense Schur complement, a twin with its own buffer evaluates every other theta
        in a second thread (LAPACK releases the GIL), so two cores factor at once."""
        if self.workers < 2 or self.schur is None or len(thetas) < 3:
            return [self.evaluate(t) for t in thetas]
        twin = self._twin()
        err = np.geterr()  # np.errstate is per thread: the twin runs under the caller's

        def every_other() -> list[Evaluation]:
            with np.errstate(**err):
                return [twin.evaluate(t) for t in thetas[1::2]]

        with ThreadPoolExecutor(1) as pool:
            theirs = pool.submit(every_other)
            mine = [self.evaluate(t) for t in thetas[0::2]]
            other = theirs.result()
        self.evaluations += twin.evaluations
        twin.evaluations = 0
        return [ev for pair in zip_longest(mine, other) for ev in pair if ev is not None]

    def _twin(self) -> ProfiledDeviance:
        """The same deviance with its own Schur buffer (for one stencil: not kept)."""
        assert self.schur is not None
        twin = copy.copy(self)
        twin.schur, twin._recent, twin.workers, twin.evaluations = self.schur.twin(), {}, 1, 0
        twin.threads = None
        return twin

    def _evaluate(self, theta: np.ndarray) -> Evaluation:
        xp = self.xp
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
            R = (
                np.linalg.cholesky(S)
                if self.threads is None
                else self.threads.run(lambda: np.linalg.cholesky(S))
            )
        else:
            assert xp.B_rest is not None and xp.C_rr is not None and xp.C_rw is not None
            Lr = self.lambda_rest(theta)
            if xp.rest_is_sparse:
                Mbsr = sp.bsr_matrix(
                    (sm.to_stacked(M), np.arange(xp.G), np.arange(xp.G + 1)),
                    shape=(xp.G * Q, xp.G * Q),
                )
                MBr = (Mbsr @ xp.B_rest).tocsr()
                BrMBxy = np.asarray(MBr.T @ xp.B_flat)
                BrMBr = xp.B_rest.T @ MBr
                return self._evaluate_sparse(theta, L1, K, M, xp.C - BMB, BrMBr, BrMBxy, Lr, ldL2)
            assert self.schur is not None
            self.schur.assemble(xp, theta, M, BMB, Lr)
            R = self.schur.factor()  # in place: S is not needed again
        d = np.diag(R)
        p = xp.p
        ldL2 += float(2.0 * np.sum(np.log(d[:nr])))
        ldRX2 = float(2.0 * np.sum(np.log(d[nr : nr + p])))
        r2 = float(d[-1] ** 2)
        R_X = np.tril(R[nr : nr + p, nr : nr + p])
        beta = _beta(R_X, R[-1, nr : nr + p])
        self.evaluations += 1
        factor = (lambda: R) if nr == 0 else self._factor_of(theta)
        return Evaluation(theta, ldL2, ldRX2, r2, beta, R_X, L1, K, M, factor, Lr)

    def _factor_of(self, theta: np.ndarray) -> Callable[[], np.ndarray]:
        """A function giving the factor of S at theta (lower triangle, zeros above): a copy of
        the buffer while it holds that factor, else a fresh factorization's."""
        schur, xp = self.schur, self.xp
        assert schur is not None
        generation = schur.generation

        def factor() -> np.ndarray:
            if schur.generation != generation:
                dev = copy.copy(self)  # the same deviance, for the cross-products of theta
                dev.xp, dev._recent = xp, {}
                dev._evaluate(theta)
            return np.tril(schur.S)

        return factor

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
            theta, ldL2, ldRX2, r2, beta, R[:p, :p], L1, K, M, lambda: R, Lr, rest_lu=lu, S_zw=Szw
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
