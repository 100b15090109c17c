"""Conditional modes of the random effects (BLUPs) and their conditional variances.

In spherical coordinates u (b = Lambda u) the modes solve
(Lambda'Z'Z Lambda + I) u = Lambda'Z'(y - X beta)
and Var(u | y) = sigma^2 (Lambda'Z'Z Lambda + I)^-1, whose diagonal blocks (mapped back by Lambda)
are lme4's ``condVar``. The first block is eliminated per group, the rest through the dense Schur
complement already factored for the deviance.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from threading import RLock
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from multilevel.design.layout import ModelLayout
from multilevel.errors import DataError
from multilevel.objective import smallmat as sm
from multilevel.objective.crossprod import CrossProducts
from multilevel.objective.deviance import Evaluation, ProfiledDeviance
from multilevel.objective.schur import PatternUpdate, row_pairs

#: held while a fit's conditional variances are made on first use
_MAKING = RLock()  # re-entrant: a mapped TermModes reads its source inside


class TermModes:
    """Conditional modes ``b`` (levels x q) and conditional covariances ``cond_var``
    (levels x q x q).

    The covariances are made on first use (lme4's ``ranef(condVar = TRUE)`` likewise computes
    them when asked): on a crossed fit they need the inverse of the dense Schur complement,
    which costs as much as several deviance evaluations.
    """

    __slots__ = ("b", "_cond_var", "_make")

    def __init__(
        self,
        b: np.ndarray,
        cond_var: np.ndarray | None = None,
        make_cond_var: Callable[[], np.ndarray] | None = None,
    ):
        if cond_var is None and make_cond_var is None:
            raise ValueError("TermModes needs cond_var or a function making it")
        self.b = b
        self._cond_var = cond_var
        self._make = make_cond_var

    @property
    def cond_var(self) -> np.ndarray:
        if self._cond_var is None:
            with _MAKING:  # one thread makes them; another waiting reads the result
                if self._cond_var is None:
                    assert self._make is not None
                    self._cond_var, self._make = self._make(), None
        return self._cond_var

    def mapped(self, T: np.ndarray) -> TermModes:
        """The modes of T b: T b_j and T Var(b_j) T' (still made on first use)."""
        return TermModes(
            self.b @ T.T, make_cond_var=lambda: np.matmul(np.matmul(T, self.cond_var), T.T)
        )

    def __reduce__(self) -> tuple:  # pickled with its covariances, not the function
        return (TermModes, (self.b, self.cond_var))


def conditional_modes(
    layout: ModelLayout, dev: ProfiledDeviance, ev: Evaluation, sigma2: float
) -> dict[str, TermModes]:
    """Modes and conditional covariances per random term, keyed by the term's lme4 name
    (from the cross-products alone: the same for in-memory and chunked fits). The modes are
    solved now; the covariances of all terms together when one of them is first read."""
    xp = dev.xp
    p, G, Q, nr = xp.p, xp.G, xp.Q, xp.n_rest
    beta = ev.beta
    L1 = ev.Lambda1
    # Lambda1' Z_j'(y - X beta) per group
    B = sm.to_stacked(xp.B)  # (G, Q, p + 1)
    K = sm.to_stacked(ev.K)  # (G, Q, Q)
    resid_cross = B[:, :, p] - B[:, :, :p] @ beta
    rhs1 = resid_cross @ L1  # (G, Q): rows are (Lambda1' r_j)'
    if nr == 0:
        u1 = np.einsum("gij,gj->gi", K, rhs1)
        u_r = np.zeros(0)
    else:
        assert ev.Lambda_rest is not None and xp.C_rw is not None
        P1r, Kbsr = _coupling(xp, ev, K)
        rhs_r = ev.Lambda_rest.T @ (xp.C_rw[:, -1] - xp.C_rw[:, :p] @ beta)
        Krhs1 = Kbsr @ rhs1.ravel()
        solve = _rest_solver(ev, nr)
        u_r = solve(rhs_r - P1r.T @ Krhs1)
        u1 = (Kbsr @ (rhs1.ravel() - P1r @ u_r)).reshape(G, Q)

    first_k, rest_k = layout.first_block()
    thetas = layout.split_theta(ev.theta)
    b1 = np.einsum("ij,gj->gi", L1, u1)
    variances: dict[str, np.ndarray] = {}

    pattern = dev.schur.pattern if dev.schur is not None else None

    def cond_var(name: str) -> np.ndarray:
        if not variances:
            variances.update(_made_as_the_fit(layout, xp, pattern, ev, sigma2))
        return variances[name]

    out: dict[str, TermModes] = {}
    off = 0
    for k in first_k:
        t = layout.terms[k]
        out[t.name] = TermModes(b1[:, off : off + t.q], make_cond_var=partial(cond_var, t.name))
        off += t.q
    off = 0
    for k in rest_k:
        t = layout.terms[k]
        size = len(layout.levels[t.name]) * t.q
        ut = u_r[off : off + size].reshape(-1, t.q)
        Lt = t.Lambda(thetas[k])
        out[t.name] = TermModes(ut @ Lt.T, make_cond_var=partial(cond_var, t.name))
        off += size
    return out


def _made_as_the_fit(
    layout: ModelLayout,
    xp: CrossProducts,
    pattern: PatternUpdate | None,
    ev: Evaluation,
    sigma2: float,
) -> dict[str, np.ndarray]:
    """:func:`_conditional_variances` as the fit ran: one BLAS thread, floating-point warnings
    off, and a clear error where the inverse cannot be formed."""
    try:
        with threadpool_limits(1, user_api="blas"), np.errstate(all="ignore"):
            return _conditional_variances(layout, xp, pattern, ev, sigma2)
    except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
        raise DataError(
            f"the conditional variances of the random effects could not be computed ({exc}): "
            "the random-effects system is numerically singular at the estimates"
        ) from None


def _conditional_variances(
    layout: ModelLayout,
    xp: CrossProducts,
    pattern: PatternUpdate | None,
    ev: Evaluation,
    sigma2: float,
) -> dict[str, np.ndarray]:
    """Var(b_j | y) of every level of every term: sigma^2 Lambda (Lambda'Z'Z Lambda + I)^-1
    Lambda' read block by block, the first factor's through its Schur complement."""
    G, Q, nr = xp.G, xp.Q, xp.n_rest
    L1 = ev.Lambda1
    K = sm.to_stacked(ev.K)  # (G, Q, Q)
    if nr == 0:
        var_u1 = K
        var_ur_full: np.ndarray = np.zeros((0, 0))
    else:
        P1r, Kbsr = _coupling(xp, ev, K)
        solve = _rest_solver(ev, nr)
        # Var(u_1j) = K_j + (K P1r S_rr^-1 P1r' K)_jj
        KP = (Kbsr @ P1r).tocsr()
        var_ur_full = _rest_inverse(ev, solve, nr)
        if pattern is not None and isinstance(var_ur_full, np.ndarray):
            # Q = 1, Lambda_rest diagonal: KP_ja = K_j theta_1 B_ja lambda_a
            lam = ev.theta[xp.rest_map[2]]
            forms = pattern.row_forms(var_ur_full * np.outer(lam, lam))
            extra = ((K[:, 0, 0] * L1[0, 0]) ** 2 * forms)[:, None, None]
        elif Q == 1 and isinstance(var_ur_full, np.ndarray):
            extra = _quadratic_forms(KP, var_ur_full)[:, None, None]
        else:
            extra = _block_quadratic_forms(KP, G, Q, nr, solve)
        var_u1 = K + extra

    out: dict[str, np.ndarray] = {}
    first_k, rest_k = layout.first_block()
    thetas = layout.split_theta(ev.theta)
    V1 = sigma2 * np.matmul(np.matmul(L1, var_u1), L1.T)
    off = 0
    for k in first_k:
        t = layout.terms[k]
        out[t.name] = V1[:, off : off + t.q, off : off + t.q]
        off += t.q
    off = 0
    for k in rest_k:
        t = layout.terms[k]
        G_t = len(layout.levels[t.name])
        Lt = t.Lambda(thetas[k])
        Vu = np.stack(
            [
                var_ur_full[
                    off + j * t.q : off + (j + 1) * t.q, off + j * t.q : off + (j + 1) * t.q
                ]
                for j in range(G_t)
            ]
        )
        out[t.name] = sigma2 * np.matmul(np.matmul(Lt, Vu), Lt.T)
        off += G_t * t.q
    return out


def _coupling(xp: CrossProducts, ev: Evaluation, K: np.ndarray) -> tuple[sp.csr_matrix, Any]:
    """P1r = Lambda_1' Z_1'Z_rest Lambda_rest (G*Q x nr) and K = blockdiag(K_j) as sparse
    matrices: how the first factor's effects couple to the others'."""
    assert xp.B_rest is not None and ev.Lambda_rest is not None
    G, Q = xp.G, xp.Q
    Lbd1 = sp.bsr_matrix(
        (np.broadcast_to(ev.Lambda1.T, (G, Q, Q)).copy(), np.arange(G), np.arange(G + 1)),
        shape=(G * Q, G * Q),
    )
    P1r = (Lbd1 @ xp.B_rest @ ev.Lambda_rest).tocsr()
    Kbsr = sp.bsr_matrix((K, np.arange(G), np.arange(G + 1)), shape=(G * Q, G * Q))
    return P1r, Kbsr


def _rest_solver(ev: Evaluation, nr: int):
    """x -> S_rr^-1 x for the random-effects part outside the first block."""
    if ev.rest_lu is not None:
        lu = ev.rest_lu
        return lambda x: lu.solve(np.asarray(x, dtype=float))
    Rrr = ev.R[:nr, :nr]

    def solve(x: np.ndarray) -> np.ndarray:
        y = sla.solve_triangular(Rrr, x, lower=True, check_finite=False)
        return sla.solve_triangular(Rrr, y, lower=True, trans="T", check_finite=False)

    return solve


def _rest_inverse(ev: Evaluation, solve, nr: int) -> np.ndarray:
    """S_rr^-1 (dense; only its diagonal blocks are used). NaN when too large to form.

    From the dense factor by LAPACK's potri (2/3 nr^3 flops, a third of solving for I)."""
    if nr > MAX_DENSE_INVERSE:
        return _NanBlocks()  # type: ignore[return-value]
    if ev.rest_lu is not None:
        return solve(np.eye(nr))
    inv, info = sla.lapack.dpotri(np.asfortranarray(ev.R[:nr, :nr]), lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"S_rr is singular (potri info {info})")
    lower = np.tril(inv)
    return lower + np.tril(inv, -1).T


def _quadratic_forms(KP: sp.csr_matrix, S_inv: np.ndarray) -> np.ndarray:
    """k_j' S_inv k_j for every row k_j of the sparse KP: the pairs of stored entries in each
    row (2972 rows of about 25 entries for InstEval: 1.8M products, not a dense solve)."""
    KP = KP.tocsr()
    KP.sum_duplicates()
    pairs = row_pairs(KP, max_pairs=10**9, lower=True)
    assert pairs is not None
    i, l, value, indptr = pairs
    terms = value * S_inv.ravel()[i * S_inv.shape[1] + l] * np.where(i == l, 1.0, 2.0)
    row = np.repeat(np.arange(KP.shape[0]), np.diff(indptr))
    return np.bincount(row, weights=terms, minlength=KP.shape[0])


def _block_quadratic_forms(KP: sp.csr_matrix, G: int, Q: int, nr: int, solve) -> np.ndarray:
    """(K P1r S_rr^-1 P1r' K)_jj (G, Q, Q), in chunks of rows."""
    extra = np.empty((G, Q, Q))
    chunk = max(1, (2_000_000 // max(nr, 1)) // Q) * Q
    for start in range(0, G * Q, chunk):
        rows = KP[start : start + chunk]
        W = solve(rows.T.toarray()).T  # rows @ S_rr^-1
        g0, g1 = start // Q, min(G, (start + chunk) // Q)
        if Q == 1:
            extra[g0:g1, 0, 0] = np.asarray(rows.multiply(W).sum(axis=1)).ravel()
        else:
            W3 = W.reshape(g1 - g0, Q, nr)
            R3 = rows.toarray().reshape(g1 - g0, Q, nr)
            extra[g0:g1] = np.einsum("gia,gja->gij", W3, R3)
    return extra


class _NanBlocks:
    """Stands in for an inverse too large to form: every block reads as NaN."""

    def __getitem__(self, key):
        rows, cols = key
        return np.full((rows.stop - rows.start, cols.stop - cols.start), np.nan)


MAX_DENSE_INVERSE = 12_000
