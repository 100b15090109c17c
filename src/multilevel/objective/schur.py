"""The dense Schur complement of a crossed or nested fit, assembled and factored in place.

After the first block is eliminated group by group, the rest of the system is

    S(theta) = Lt'(W'W - B'MB)Lt + [I 0; 0 0]

over W = [Z_rest X y], with Lt = blockdiag(Lambda_rest, I), B = Z_1'W and M = blockdiag(M_j).
S is the largest object of a crossed fit (InstEval: 1145 x 1145), so it lives in one
preallocated Fortran-ordered buffer that LAPACK's dpotrf factors in place: no copy and no fresh
pages per evaluation.

With one random effect per level of the first factor (M_j scalars m_j) and a diagonal
Lambda_rest (scalar terms only), the random-effects part is known up to theta-dependent weights
on a fixed sparsity pattern: entry (i, l) of B_rest'diag(m)B_rest sums m_j over the levels j of
the first factor that meet both i and l (a student who rated both lectures). The pairs are
listed once; an evaluation is then one sparse matrix-vector product on the pattern's entries,
scaled by lambda_i lambda_l, scattered into the zeroed buffer (as MixedModels.jl's blocked
update of its L[2,2] block, and lme4's sparse Cholesky update, but with the dense kernel that
such a block needs).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from multilevel.objective.crossprod import CrossProducts

#: pairs (first-factor level, pattern entry) beyond which the pattern is not precomputed
MAX_PAIRS = 40_000_000
#: groups of equal size are summed first when there are this many times fewer sizes than groups
AGGREGATE_BELOW = 4


def pair_map(
    B: sp.csr_matrix, max_pairs: int = MAX_PAIRS, lower: bool = False
) -> sp.csc_matrix | None:
    """W with (B' diag(m) B).ravel() = W m for any m: the pairs of columns each row of B couples.

    Used when Lambda_rest is not diagonal (the whole nr x nr product is needed before it is
    scaled); ``lower``: only the entries on and below the diagonal. None if too large.
    """
    B = B.tocsr()
    B.sum_duplicates()
    pairs = row_pairs(B, max_pairs, lower)
    if pairs is None:
        return None
    i, l, value, indptr = pairs
    nr = B.shape[1]
    return sp.csc_matrix((value, i.astype(np.int64) * nr + l, indptr), shape=(nr * nr, B.shape[0]))


def row_pairs(
    B: sp.csr_matrix, max_pairs: int = MAX_PAIRS, lower: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Every pair of stored entries (j, i), (j, l) in a row j of B (canonical CSR), row by row:
    columns i and l, the product B_ji B_jl, and where each row's pairs start (an indptr); only
    i >= l when ``lower``. None beyond ``max_pairs``. Rows with the same number of entries are
    paired in one gather."""
    counts = np.diff(B.indptr).astype(np.int64)
    per_row = counts * (counts + 1) // 2 if lower else counts**2
    if int(np.sum(counts**2)) > max_pairs:
        return None
    indptr = np.concatenate([[0], np.cumsum(per_row)])
    i = np.empty(indptr[-1], B.indices.dtype)  # int32 for any nr a dense S can have
    l = np.empty(indptr[-1], B.indices.dtype)
    value = np.empty(indptr[-1])
    for c in np.unique(counts[counts > 0]):
        rows = np.flatnonzero(counts == c)
        at = B.indptr[rows][:, None] + np.arange(c)[None, :]  # (rows, c) entry positions
        cols, vals = B.indices[at], B.data[at]
        if lower:  # columns are sorted within a row: the pairs (a >= b) give i >= l
            a, b = np.tril_indices(c)
        else:
            a, b = (x.ravel() for x in np.indices((c, c)))
        dest = indptr[rows][:, None] + np.arange(a.size)[None, :]
        i[dest] = cols[:, a]
        l[dest] = cols[:, b]
        value[dest] = vals[:, a] * vals[:, b]
    return i, l, value, indptr


class PatternUpdate:
    """S_rr = Lambda'(C_rr - B'diag(m)B)Lambda + I on its fixed lower-triangle pattern, for a
    diagonal Lambda_rest (theta index ``lam_index`` per column) and scalar m_j.

    ``update(theta, m)`` returns the values at the pattern entries; ``flat`` are their positions
    in a Fortran-ordered ``size`` x ``size`` buffer (column l, row i >= l).
    """

    def __init__(self, xp: CrossProducts, size: int, lam_index: np.ndarray):
        assert xp.B_rest is not None and xp.C_rr is not None
        B = xp.B_rest.tocsr()
        B.sum_duplicates()
        nr = xp.n_rest
        pairs = row_pairs(B, MAX_PAIRS, lower=True)
        if pairs is None:
            raise ValueError("too many pairs for a precomputed pattern")
        i, l, value, indptr = pairs
        C_rr = sp.csr_matrix(xp.C_rr)
        ci, cl = C_rr.nonzero()
        # the pattern: the pairs, C_rr's entries, the diagonal; keyed column by column (small
        # integer types: the first touch of fresh memory is much of this set-up's cost)
        on = np.zeros((nr, nr), bool)  # [column, row]
        on[l, i] = True
        on[cl, ci] = True
        on[np.arange(nr), np.arange(nr)] = True
        key = np.flatnonzero(np.triu(on))  # rows >= columns
        self.rows, self.cols = key % nr, key // nr
        index = np.zeros((nr, nr), np.int32)
        index.ravel()[key] = np.arange(key.size)
        self.W = sp.csc_matrix((value, index[l, i], indptr), shape=(key.size, B.shape[0]))
        # m_j = theta^2 / (theta^2 A_j + 1) depends on the group only through A_j = Z_j'Z_j (its
        # size; with precision weights, its sum of weights): W m sums the groups of equal A_j
        # first (InstEval: 86 sizes for 2972 students, 1.1M entries instead of 1.8M)
        _, pick, same = np.unique(xp.A[0, 0], return_index=True, return_inverse=True)
        self.pick: np.ndarray | None = pick
        if pick.size <= B.shape[0] // AGGREGATE_BELOW:
            sizes = sp.csr_matrix(
                (np.ones(same.size), (np.arange(same.size), same.ravel())),
                shape=(same.size, pick.size),
            )
            self.W_update = (self.W @ sizes).tocsc()
        else:
            self.W_update, self.pick = self.W, None
        C_dense = xp.C_rr if isinstance(xp.C_rr, np.ndarray) else C_rr
        self.c = np.asarray(C_dense[self.rows, self.cols]).ravel()
        self.on_diagonal = np.flatnonzero(self.rows == self.cols)
        n_theta = int(lam_index.max(initial=0)) + 1
        # lambda_i lambda_l is theta_a theta_b for a few pairs (a, b): one gather per evaluation
        self.scale_index = lam_index[self.rows] * n_theta + lam_index[self.cols]
        self.n_theta = n_theta
        self.flat = self.rows + self.cols.astype(np.int64) * size
        self._twice_off_diagonal = np.where(self.rows == self.cols, 1.0, 2.0)

    def row_forms(self, A: np.ndarray) -> np.ndarray:
        """b_j' A b_j for every row b_j of B_rest, for a symmetric nr x nr matrix A (read on
        the pattern: its lower triangle)."""
        return self.W.T @ (A[self.rows, self.cols] * self._twice_off_diagonal)

    def update(self, theta: np.ndarray, m: np.ndarray) -> np.ndarray:
        values = self.c - self.W_update @ (m if self.pick is None else m[self.pick])
        t = theta[: self.n_theta]
        values *= np.multiply.outer(t, t).ravel()[self.scale_index]
        values[self.on_diagonal] += 1.0
        return values


class DenseSchur:
    """S(theta) over [Z_rest X y] in one reused Fortran buffer, and its in-place Cholesky.

    Only the lower triangle is assembled and factored; the upper one holds leftovers. What is
    kept depends on Z only (refits to other responses share it); ``generation`` counts the
    factorizations, so a holder of an earlier one knows when the buffer has moved on.
    """

    def __init__(self, xp: CrossProducts, rest_diagonal: bool):
        assert xp.B_rest is not None and xp.C_rr is not None and xp.C_rw is not None
        self.generation = 0
        self.threads: Any = None  # optimize.threads.MeasuredThreads: BLAS threads for factor()
        self.nr = xp.n_rest
        self.size = self.nr + xp.B.shape[1]
        self._flat = np.zeros(self.size * self.size)
        self.S = self._flat.reshape((self.size, self.size), order="F")
        self.rest_diagonal = rest_diagonal
        self.lam_index = xp.rest_map[2][np.argsort(xp.rest_map[0])] if rest_diagonal else None
        self.B_rest_t = xp.B_rest.T.tocsr()
        self.pattern: PatternUpdate | None = None
        self.full_pairs: sp.csc_matrix | None = None
        if xp.Q == 1:
            if self.lam_index is not None:
                try:
                    self.pattern = PatternUpdate(xp, self.size, self.lam_index)
                except ValueError:
                    self.pattern = None
            else:
                self.full_pairs = pair_map(xp.B_rest)

    def twin(self) -> DenseSchur:
        """The same pattern with its own buffer, for a second thread."""
        twin = copy.copy(self)
        twin._flat = np.zeros_like(self._flat)
        twin.S = twin._flat.reshape((self.size, self.size), order="F")
        twin.generation, twin.threads = 0, None
        return twin

    def assemble(
        self,
        xp: CrossProducts,
        theta: np.ndarray,
        M: np.ndarray,
        BMB: np.ndarray,
        Lr: sp.csr_matrix,
    ) -> np.ndarray:
        """S at theta (lower triangle) for the cross-products ``xp`` (of the Z this was made
        for), given the first block's M_j (Q, Q, G) and B'MB of [X y]."""
        assert xp.C_rr is not None and xp.C_rw is not None
        nr, S = self.nr, self.S
        BrMBxy = self._cross_xy(xp, M)
        if self.pattern is not None:
            assert self.lam_index is not None
            lam = theta[self.lam_index]
            self._flat.fill(0.0)
            self._flat[self.pattern.flat] = self.pattern.update(theta, M[0, 0])
            S[nr:, :nr] = (xp.C_rw - BrMBxy).T * lam[None, :]
            S[nr:, nr:] = xp.C - BMB
            return S
        S[:nr, :nr] = xp.C_rr - self._rest_product(xp, M)
        S[:nr, nr:] = xp.C_rw - BrMBxy
        S[nr:, :nr] = S[:nr, nr:].T
        S[nr:, nr:] = xp.C - BMB
        if self.rest_diagonal:
            assert self.lam_index is not None
            lam = theta[self.lam_index]  # Lambda_rest is diagonal: scale rows and columns
            S[:nr, :] *= lam[:, None]
            S[:, :nr] *= lam[None, :]
        else:
            top = np.asarray(Lr.T @ S[:nr, :])
            S[:nr, :nr] = np.asarray((Lr.T @ top[:, :nr].T).T)
            S[:nr, nr:] = top[:, nr:]
            S[nr:, :nr] = top[:, nr:].T
        S[np.arange(nr), np.arange(nr)] += 1.0
        return S

    def _cross_xy(self, xp: CrossProducts, M: np.ndarray) -> np.ndarray:
        """B_rest' M B_xy (nr x (p + 1))."""
        if xp.Q == 1:
            return np.asarray(self.B_rest_t @ (M[0, 0][:, None] * xp.B[0].T))
        MB = np.einsum("ikg,kag->gia", M, xp.B).reshape(xp.G * xp.Q, -1)
        return np.asarray(self.B_rest_t @ MB)

    def _rest_product(self, xp: CrossProducts, M: np.ndarray) -> np.ndarray:
        """B_rest' M B_rest (nr x nr, dense)."""
        if self.full_pairs is not None:
            return (self.full_pairs @ M[0, 0]).reshape(self.nr, self.nr)
        assert xp.B_rest is not None
        Mbsr = sp.bsr_matrix(
            (np.ascontiguousarray(np.moveaxis(M, 2, 0)), np.arange(xp.G), np.arange(xp.G + 1)),
            shape=(xp.G * xp.Q, xp.G * xp.Q),
        )
        return (self.B_rest_t @ (Mbsr @ xp.B_rest)).toarray()

    def factor(self) -> np.ndarray:
        """The lower Cholesky factor of S, in place (LAPACK dpotrf on the Fortran buffer);
        numpy.linalg.LinAlgError if S is not positive definite."""

        def potrf() -> tuple[np.ndarray, int]:
            return sla.lapack.dpotrf(self.S, lower=1, clean=0, overwrite_a=1)

        R, info = potrf() if self.threads is None else self.threads.run(potrf)
        self.generation += 1
        if info != 0:
            raise np.linalg.LinAlgError(f"Schur complement not positive definite (potrf {info})")
        return R
