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
#: row pairs (and rows (class, column)) per block of classes in the pattern's set-up
CLASS_BLOCK_PAIRS = 250_000
#: unscaled pattern values kept for reuse (one per m: the first factor's theta)
UNSCALED_KEPT = 3
#: entries of the dense block B_rest A that row_forms holds at a time
FORM_ENTRIES = 4_000_000


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
        counts = np.diff(B.indptr).astype(np.int64)
        if int(np.sum(counts**2)) > MAX_PAIRS:
            raise ValueError("too many pairs for a precomputed pattern")
        self.B = B
        nr, G = xp.n_rest, B.shape[0]
        # m_j = theta^2 / (theta^2 A_j + 1) depends on the group only through A_j = Z_j'Z_j (its
        # size; with precision weights, its sum of weights): the update sums the groups of
        # equal A_j first (InstEval: 86 sizes for 2972 students, 1.1M entries instead of 1.8M)
        _, pick, same = np.unique(xp.A[0, 0], return_index=True, return_inverse=True)
        self.pick: np.ndarray | None = pick
        if pick.size > G // AGGREGATE_BELOW:  # each row its own class: its pairs as they are
            self.pick = None
            pairs = row_pairs(B, MAX_PAIRS, lower=True)
            assert pairs is not None  # its size was checked above
            i, l, value, class_ptr = pairs
            flat = l.astype(np.int64) * nr + i
        else:
            flat, value, class_ptr = _class_products(B, same.ravel())
        # the pattern: those entries, C_rr's, the diagonal; keyed column by column (rows >=
        # columns). Small integer types and few large temporaries: on a fresh process the
        # first touch of new memory is much of this set-up's cost
        on = np.zeros(nr * nr, bool)  # column-major: [column, row]
        on[flat] = True
        C_rr = xp.C_rr
        ci, cl = np.nonzero(C_rr) if isinstance(C_rr, np.ndarray) else sp.coo_matrix(C_rr).nonzero()
        lower = ci >= cl
        on[cl[lower].astype(np.int64) * nr + ci[lower]] = True
        on[np.arange(nr) * (nr + 1)] = True
        key = np.flatnonzero(on)
        # entries ordered by their scale lambda_i lambda_l = theta_a theta_b (a few pairs
        # (a, b)): an evaluation scales a few slices, not a gather per entry
        n_theta = int(lam_index.max(initial=0)) + 1
        scale = lam_index[key % nr] * n_theta + lam_index[key // nr]
        order = np.argsort(scale, kind="stable")
        key, scale = key[order], scale[order]
        self.rows, self.cols = key % nr, key // nr
        cut = np.flatnonzero(np.diff(scale)) + 1
        self.segments = [
            (int(a), int(b), int(scale[a]) // n_theta, int(scale[a]) % n_theta)
            for a, b in zip(np.r_[0, cut], np.r_[cut, key.size], strict=True)
        ]
        index = np.zeros(nr * nr, np.int32)
        index[key] = np.arange(key.size, dtype=np.int32)
        self.W_update = sp.csc_matrix(
            (value, index[flat], class_ptr), shape=(key.size, class_ptr.size - 1)
        )
        C_dense = C_rr if isinstance(C_rr, np.ndarray) else sp.csr_matrix(C_rr)
        self.c = np.asarray(C_dense[self.rows, self.cols]).ravel()
        self.on_diagonal = np.flatnonzero(self.rows == self.cols)
        self.flat = self.rows + self.cols.astype(np.int64) * size
        #: C_rr - B'diag(m)B on the pattern for the last few m (a stencil or the optimizer's
        #: first points vary the other factors' theta at the same m)
        self._unscaled: dict[bytes, np.ndarray] = {}

    def row_forms(self, A: np.ndarray) -> np.ndarray:
        """b_j' A b_j for every row b_j of B_rest, for a symmetric nr x nr matrix A (a block of
        rows at a time: B_rest A is dense)."""
        B = self.B
        step = max(1, FORM_ENTRIES // max(B.shape[1], 1))
        out = np.empty(B.shape[0])
        for a in range(0, B.shape[0], step):
            rows = B[a : a + step]
            out[a : a + step] = np.asarray(rows.multiply(rows @ A).sum(axis=1)).ravel()
        return out

    def update(self, theta: np.ndarray, m: np.ndarray) -> np.ndarray:
        m = m if self.pick is None else m[self.pick]
        key = m.tobytes()
        unscaled = self._unscaled.get(key)
        if unscaled is None:
            unscaled = self.c - self.W_update @ m
            if len(self._unscaled) >= UNSCALED_KEPT:
                self._unscaled.pop(next(iter(self._unscaled)))
            self._unscaled[key] = unscaled
        values = np.empty_like(unscaled)
        for start, stop, a, b in self.segments:
            np.multiply(unscaled[start:stop], theta[a] * theta[b], out=values[start:stop])
        values[self.on_diagonal] += 1.0
        return values


def _class_products(
    B: sp.csr_matrix, group: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lower triangle of sum over the rows j of class c (``group[j] = c``) of B_j'B_j, for
    every class c: its entries' positions l * nr + i (i >= l) in an nr x nr column-major array,
    their values, and where each class's entries start (a CSC indptr over the classes).

    A few classes at a time, one sparse product B~'B each, with B~_{j, (c, i)} = B_ji for row j
    in class c: its rows are the pairs (c, i), so each class's entries come out together. The
    blocks keep the temporaries small (fresh memory is slow to touch); the outputs are sized by
    the number of row pairs, an upper bound, and only the part written is touched."""
    nr = B.shape[1]
    n_class = int(group.max(initial=-1)) + 1
    order = np.argsort(group, kind="stable")
    B = B[order]
    group = group[order]
    counts = np.diff(B.indptr).astype(np.int64)
    rows_of = np.searchsorted(group, np.arange(n_class + 1))  # class c: rows_of[c]:rows_of[c+1]
    work = np.concatenate([[0], np.cumsum(np.bincount(group, counts**2, n_class))])
    bound = int(np.sum(counts * (counts + 1) // 2))
    flat, value = np.empty(bound, np.int64), np.empty(bound)
    class_ptr = np.zeros(n_class + 1, np.int64)
    at = c0 = 0
    while c0 < n_class:
        c1 = int(np.searchsorted(work, work[c0] + CLASS_BLOCK_PAIRS, side="right")) - 1
        c1 = min(max(c1, c0 + 1), n_class, c0 + max(1, CLASS_BLOCK_PAIRS // max(nr, 1)))
        Bk = B[rows_of[c0] : rows_of[c1]]
        local = np.repeat(group[rows_of[c0] : rows_of[c1]] - c0, np.diff(Bk.indptr))
        Bc = sp.csr_matrix(
            (Bk.data, local * nr + Bk.indices, Bk.indptr), (Bk.shape[0], (c1 - c0) * nr)
        )
        P = Bc.T.tocsr() @ Bk
        i = np.repeat(np.tile(np.arange(nr), c1 - c0), np.diff(P.indptr))
        keep = P.indices <= i
        kept = np.concatenate([[0], np.cumsum(keep)])
        n = int(kept[-1])
        flat[at : at + n] = P.indices[keep].astype(np.int64) * nr + i[keep]
        value[at : at + n] = P.data[keep]
        class_ptr[c0 + 1 : c1 + 1] = at + kept[P.indptr[nr::nr]]
        at += n
        c0 = c1
    return flat[:at], value[:at], class_ptr


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
        if self.pattern is not None:  # its own cache: the two threads do not share a dict
            twin.pattern = copy.copy(self.pattern)
            twin.pattern._unscaled = {}
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
