"""A model matrix kept as its recipe: column j is the product of some data columns.

On millions of rows, copying the data into a new n x k matrix costs more than the whole fit
(first touching fresh memory is slow), yet the usual columns are the data columns themselves
(``x1``), products of them (``x1:x2``) or the intercept. :class:`ModelColumns` holds each column
as the names of its factors and reads the data in place: cross-products are formed from the
columns directly, and the full matrix is built only when something asks for it (``array``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

#: numbers the matrices wrapped by ModelColumns.of, so their column keys never collide
_WRAPPED = itertools.count()
#: rows per block when a Gram matrix is formed block by block (a few hundred kB per column)
BLOCK_ROWS = 1 << 15
#: up to this many plain columns a Gram matrix is formed from dot products of the columns
DOT_LIMIT = 12


@dataclass(frozen=True, eq=False)
class ModelColumns:
    """n x k model matrix: column j = product of ``source[f]`` over f in ``factors[j]``.

    An empty product is the intercept (a column of ones). Equal factor tuples in two matrices
    built on the same ``source`` are the same column, which lets Z'X skip repeated products.
    """

    n: int
    factors: tuple[tuple[str, ...], ...]
    source: Mapping[str, np.ndarray] = field(repr=False)

    @classmethod
    def of(cls, matrix: np.ndarray) -> ModelColumns:
        """Wrap a matrix that is already built (its columns get keys of their own)."""
        matrix = np.asfortranarray(matrix, dtype=float)
        n, k = matrix.shape
        factors: list[tuple[str, ...]] = []
        source: dict[str, np.ndarray] = {}
        for j in range(k):
            col = matrix[:, j]
            if n and col[0] == 1.0 and bool(np.all(col == 1.0)):
                factors.append(())
            else:
                key = f"#{next(_WRAPPED)}:{j}"
                source[key] = col
                factors.append((key,))
        out = cls(n, tuple(factors), source)
        out.__dict__["array"] = matrix  # already materialised
        return out

    @property
    def k(self) -> int:
        return len(self.factors)

    def is_intercept(self, j: int) -> bool:
        return not self.factors[j]

    def column(self, j: int, out: np.ndarray | None = None) -> np.ndarray:
        """Column j: a view of the data for a single factor, else computed (into ``out``)."""
        fs = self.factors[j]
        if not fs:
            return np.ones(self.n) if out is None else _fill(out, 1.0)
        if len(fs) == 1:
            return self.source[fs[0]]
        res = np.multiply(self.source[fs[0]], self.source[fs[1]], out=out)
        for f in fs[2:]:
            np.multiply(res, self.source[f], out=res)
        return res

    def select(self, keep: list[int]) -> ModelColumns:
        """The matrix with only the columns ``keep`` (e.g. after dropping aliased columns)."""
        if "array" in self.__dict__:
            return ModelColumns.of(self.array[:, keep])
        return ModelColumns(self.n, tuple(self.factors[j] for j in keep), self.source)

    @cached_property
    def array(self) -> np.ndarray:
        """The n x k matrix itself (Fortran order), built on first use."""
        out = np.empty((self.n, self.k), order="F")
        for j in range(self.k):
            fs = self.factors[j]
            if len(fs) == 1:
                out[:, j] = self.source[fs[0]]
            else:
                self.column(j, out=out[:, j])
        return out

    def dot(self, coef: np.ndarray) -> np.ndarray:
        """M @ coef, column by column (no n x k copy)."""
        if "array" in self.__dict__:
            return self.array @ coef
        out = np.full(self.n, float(coef[0]) if self.k and not self.factors[0] else 0.0)
        buf = np.empty(self.n) if any(len(fs) > 1 for fs in self.factors) else None
        for j, fs in enumerate(self.factors):
            if not fs:
                if j:
                    out += coef[j]
                continue
            out += coef[j] * self.column(j, out=buf)
        return out

    def tdot(self, v: np.ndarray) -> np.ndarray:
        """M' v: dot products with the data columns in place, products block by block."""
        if "array" in self.__dict__:
            return self.array.T @ v
        out = np.empty(self.k)
        products = []
        for j, fs in enumerate(self.factors):
            if not fs:
                out[j] = v.sum()
            elif len(fs) == 1:
                out[j] = self.source[fs[0]] @ v
            else:
                products.append(j)
        if products:
            sub = self.select(products)
            out[products] = sub.gram(extra=v)[-1, :-1]
        return out

    def rowdot(self, coef: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """sum_k M[i, k] coef[codes[i], k] for every row i (Z b for group coefficients b)."""
        out = np.zeros(self.n)
        buf = np.empty(self.n) if any(len(fs) > 1 for fs in self.factors) else None
        for j, fs in enumerate(self.factors):
            per_row = coef[:, j][codes]
            out += per_row if not fs else per_row * self.column(j, out=buf)
        return out

    def gram(self, extra: np.ndarray | None = None) -> np.ndarray:
        """M'M for M = [this matrix, extra], block by block so no n x k copy is made."""
        k = self.k + (0 if extra is None else 1)
        if "array" in self.__dict__ and extra is None:
            M = self.array
            return M.T @ M
        if k <= DOT_LIMIT and all(len(fs) <= 1 for fs in self.factors):
            return self._gram_by_dots(extra)
        G = np.zeros((k, k))
        rows = min(BLOCK_ROWS, max(self.n, 1))
        buf = np.empty((rows, k), order="F")
        for start in range(0, self.n, rows):
            stop = min(start + rows, self.n)
            block = buf[: stop - start]
            self.block(start, stop, block)
            if extra is not None:
                block[:, -1] = extra[start:stop]
            G += block.T @ block
        return G

    def _gram_by_dots(self, extra: np.ndarray | None) -> np.ndarray:
        """M'M from dot products of the data columns in place (few columns: faster than blocks)."""
        cols: list[np.ndarray | None] = [
            self.source[fs[0]] if fs else None for fs in self.factors
        ] + ([] if extra is None else [extra])
        k = len(cols)
        G = np.empty((k, k))
        for i, ci in enumerate(cols):
            for j in range(i + 1):
                cj = cols[j]
                if ci is None and cj is None:
                    G[i, j] = self.n
                elif ci is None or cj is None:
                    G[i, j] = (cj if ci is None else ci).sum()  # type: ignore[union-attr]
                else:
                    G[i, j] = ci @ cj
                G[j, i] = G[i, j]
        return G

    def block(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """Rows start:stop of the matrix, written into ``out`` (at least k columns)."""
        if "array" in self.__dict__:
            out[:, : self.k] = self.array[start:stop]
            return out
        for j, fs in enumerate(self.factors):
            if not fs:
                out[:, j] = 1.0
                continue
            out[:, j] = self.source[fs[0]][start:stop]
            for f in fs[1:]:
                out[:, j] *= self.source[f][start:stop]
        return out

    def max_abs(self) -> np.ndarray:
        """Largest |value| of each column (NaN if a column has one), block by block."""
        best, nan = np.zeros(self.k), np.zeros(self.k, bool)
        rows = min(BLOCK_ROWS, max(self.n, 1))
        buf = np.empty((rows, self.k), order="F")
        for start in range(0, self.n, rows):
            stop = min(start + rows, self.n)
            block = self.block(start, stop, buf[: stop - start])
            hi, lo = block.max(axis=0), block.min(axis=0)
            nan |= np.isnan(hi) | np.isnan(lo)
            best = np.fmax(best, np.maximum(hi, -lo))
        best[nan] = np.nan
        return best


def _fill(out: np.ndarray, value: float) -> np.ndarray:
    out[...] = value
    return out


class _SparseSource(Mapping[str, np.ndarray]):
    """Column key -> the column as a dense array, made on demand from a sparse matrix."""

    def __init__(self, matrix: sp.csc_matrix, keys: dict[str, int]) -> None:
        self._matrix, self._keys = matrix, keys

    def __getitem__(self, key: str) -> np.ndarray:
        return self._matrix[:, [self._keys[key]]].toarray().ravel()

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


@dataclass(frozen=True, eq=False)
class SparseColumns(ModelColumns):
    """A model matrix kept sparse (CSC): a categorical predictor with many levels.

    X'X, X'v and Z_j'X come from sparse products, so a 2000-level factor on 200k rows costs
    its 200k nonzeros, not a dense n x 2000 matrix (3.2 GB and a dense n k^2 product).
    """

    matrix: sp.csc_matrix = field(default=None, repr=False)

    @classmethod
    def of_sparse(cls, matrix: Any) -> SparseColumns:
        """Wrap a sparse n x k matrix; an all-ones column is the intercept."""
        S = sp.csc_matrix(matrix, dtype=float)
        S.sum_duplicates()
        n, k = S.shape
        counts = np.diff(S.indptr)
        factors: list[tuple[str, ...]] = []
        keys: dict[str, int] = {}
        tag = next(_WRAPPED)
        for j in range(k):
            data = S.data[S.indptr[j] : S.indptr[j + 1]]
            if n and counts[j] == n and bool(np.all(data == 1.0)):
                factors.append(())
            else:
                key = f"#s{tag}:{j}"
                keys[key] = j
                factors.append((key,))
        return cls(n, tuple(factors), _SparseSource(S, keys), S)

    def column(self, j: int, out: np.ndarray | None = None) -> np.ndarray:
        col = self.matrix[:, [j]].toarray().ravel()
        if out is None:
            return col
        out[...] = col
        return out

    def select(self, keep: list[int]) -> ModelColumns:
        return SparseColumns.of_sparse(self.matrix[:, keep])

    @cached_property
    def array(self) -> np.ndarray:
        """The dense n x k matrix, built only when asked for (e.g. Kenward-Roger)."""
        return np.asfortranarray(self.matrix.toarray())

    def dot(self, coef: np.ndarray) -> np.ndarray:
        return np.asarray(self.matrix @ coef, dtype=float).ravel()

    def tdot(self, v: np.ndarray) -> np.ndarray:
        return np.asarray(self.matrix.T @ v, dtype=float).ravel()

    def rowdot(self, coef: np.ndarray, codes: np.ndarray) -> np.ndarray:
        return np.asarray(self.matrix.multiply(coef[codes]).sum(axis=1)).ravel()

    def gram(self, extra: np.ndarray | None = None) -> np.ndarray:
        M = self.matrix if extra is None else sp.hstack([self.matrix, extra[:, None]], "csc")
        return np.asarray((M.T @ M).toarray())

    def left(self, Mt: Any) -> np.ndarray:
        """Mt @ X for a (sparse or dense) matrix Mt with n columns, as a dense array."""
        out = Mt @ self.matrix
        return np.asarray(out.toarray() if sp.issparse(out) else out)

    def group_cross(self, codes: np.ndarray, G: int, z: list[np.ndarray]) -> np.ndarray:
        """Z_j'X for every group j: (len(z), k, G), from one sparse product per Z column."""
        rows = np.arange(self.n)
        out = np.empty((len(z), self.k, G))
        for r, zr in enumerate(z):
            Mt = sp.csr_matrix((zr, (codes.astype(np.intp), rows)), shape=(G, self.n))
            out[r] = self.left(Mt).T
        return out

    def block(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        out[:, : self.k] = self.matrix[start:stop].toarray()
        return out

    def max_abs(self) -> np.ndarray:
        S = abs(self.matrix)
        best = np.asarray(S.max(axis=0).toarray()).ravel()
        nan = np.zeros(self.k, bool)
        bad = np.isnan(self.matrix.data)
        if bad.any():
            cols = np.repeat(np.arange(self.k), np.diff(self.matrix.indptr))
            nan[cols[bad]] = True
        best[nan] = np.nan
        return best
