"""Cross-products about a shift: the answer must not depend on where y or a predictor sits.

Sums of squares of a column far from zero (y + 1e9, epoch seconds) lose the digits that the
fit needs: sum (x - mean)^2 is the difference of two numbers of order n mean^2. With an
intercept in X, replacing each column x_j by x_j - c_j (and y by y - c_y) is an exact
reparametrization, X~ = X T with T = I - e_0 c' (e_0: the intercept), det T = 1:

    beta = T beta~ + c_y e_0,   Var(beta) = T Var(beta~) T',

and theta, sigma, the log-likelihood, the REML criterion (log|R_X|^2 is unchanged, det T = 1)
and the conditional modes are the same. So the cross-products are formed from the shifted
columns and the estimates mapped back (``multilevel.fitting.unshift``). Columns whose mean is
small against their spread are not shifted (nothing to gain): ordinary data give the same
numbers as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.design.columns import ModelColumns, SparseColumns
from multilevel.design.weights import SQRT_W

#: a column is shifted when its variance is below this fraction of its mean square, i.e. its
#: mean exceeds 100 SDs (then sums of squares keep fewer than ~12 of their 16 digits)
SHIFT_RATIO = 1e-4


def shift_matrix(intercept: int, c: np.ndarray) -> np.ndarray:
    """T with b = T b~ for columns shifted by c about the intercept column: the identity with
    row ``intercept`` minus c (its diagonal kept at 1)."""
    T = np.eye(c.shape[0])
    T[intercept] -= c
    T[intercept, intercept] = 1.0
    return T


@dataclass(frozen=True)
class Shift:
    """X~ = X - 1 x', y~ = y - y_shift: ``x`` is 0 at the intercept (column ``intercept``)."""

    intercept: int
    x: np.ndarray
    y: float

    @property
    def T(self) -> np.ndarray:
        """beta = T beta~ (+ y e_0): the identity with row ``intercept`` minus the shifts."""
        return shift_matrix(self.intercept, self.x)

    def select(self, keep: list[int]) -> Shift:
        """The shift of the columns ``keep`` (after aliased columns are dropped)."""
        return Shift(keep.index(self.intercept), self.x[keep], self.y)


def shifts_from_gram(
    gram: np.ndarray, n: int, intercept: int | None, ratio: float = SHIFT_RATIO
) -> np.ndarray | None:
    """The shift of each column of a (raw) Gram matrix over n rows that needs one (its mean,
    when its variance is below ``ratio`` times its mean square), else 0; None when no column
    needs one or there is no intercept (then a shift would change the model). The intercept
    column may be sqrt(w) (precision weights): the means are then weighted."""
    if intercept is None or n == 0:
        return None
    mass = gram[intercept, intercept]  # n for a column of ones, sum w for sqrt(w)
    if not mass > 0:
        return None
    mean = gram[intercept] / mass
    mean_square = np.diag(gram) / mass
    with np.errstate(invalid="ignore", divide="ignore"):
        needs = (mean_square - mean**2) < ratio * mean_square
    needs[intercept] = False
    needs &= np.isfinite(mean)
    if not needs.any():
        return None
    return np.where(needs, mean, 0.0)


def intercept_of(columns: ModelColumns) -> int | None:
    """The index of the intercept column, if any (None for sparse columns: not shifted). With
    precision weights the rows are scaled by sqrt(w) and the intercept column is sqrt(w): a
    shift is then column j - c_j sqrt(w), as exact (design/weights.py)."""
    if isinstance(columns, SparseColumns):
        return None
    return next((j for j in range(columns.k) if columns.factors[j] in ((), (SQRT_W,))), None)


def shifted_columns(columns: ModelColumns, shift: np.ndarray, tag: str) -> ModelColumns:
    """The matrix with column j replaced by column j - shift[j] times the intercept column (1,
    or sqrt(w) for weighted rows; a new data column, keyed by ``tag`` and j, for the shifted
    ones; the others stay as they were, read in place)."""
    factors = list(columns.factors)
    source = dict(columns.source)
    i0 = intercept_of(columns)
    weighted = i0 is not None and columns.factors[i0] == (SQRT_W,)
    for j in np.flatnonzero(shift):
        key = f"\0{tag}{j}"
        if weighted and columns.factors[j][-1:] == (SQRT_W,):  # sqrt(w) (x - c): x - c exact
            raw = ModelColumns(columns.n, (columns.factors[j][:-1],), columns.source)
            source[key] = raw.column(0, out=np.empty(columns.n)) - shift[j]
            factors[j] = (key, SQRT_W)
            continue
        column = columns.column(int(j), out=np.empty(columns.n))
        if weighted:  # a column not scaled as the others (not made by design/weights.py)
            assert i0 is not None
            source[key] = column - shift[j] * columns.column(i0)
        else:
            source[key] = column - shift[j]
        factors[j] = (key,)
    return ModelColumns(columns.n, tuple(factors), source)
