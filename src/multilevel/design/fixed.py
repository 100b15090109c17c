"""The fixed-effects model matrix X: formulaic does the encoding, we name columns as lme4 does
and drop aliased (linearly dependent) columns as lme4's ``chkRank.drop.cols`` does."""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, ModelSpec
from formulaic.errors import FormulaicError

from multilevel.design.columns import ModelColumns, SparseColumns
from multilevel.design.contrasts import CONTRAST_CONTEXT, CodedFormula, Coding, apply_coding
from multilevel.design.frame import MAX_MAGNITUDE, python_expr
from multilevel.design.shift import intercept_of, shifted_columns, shifts_from_gram
from multilevel.errors import DataError, FormulaError
from multilevel.formula.rnames import lme4_name  # noqa: F401  (tests import it from here)
from multilevel.formula.safety import SAFE_FUNCTIONS

#: names a fixed part may use: the safe functions and the contrast codings (design/contrasts.py)
FORMULA_CONTEXT = {**SAFE_FUNCTIONS, **CONTRAST_CONTEXT}
RANK_TOL = 1e-7  # lme4: chkRank.drop.cols uses qr(X, tol = 1e-7)
#: above this many rows, numeric columns are read in place (formulaic learns the spec on a sample)
IN_PLACE_ROWS = 10_000
#: a fixed-effects matrix of at least this many cells, at most this share nonzero, stays sparse
SPARSE_MIN_CELLS = 4_000_000
SPARSE_MAX_DENSITY = 0.2


#: calls whose arguments are levels, not numbers: integer columns inside them keep their type
LEVEL_CALLS = frozenset({"factor", "C"})


def integer_columns_as_double(terms: Iterable[Any], data: pd.DataFrame) -> pd.DataFrame:
    """``data`` with the integer columns the formula ``terms`` compute with as float64.

    R computes every formula term in double precision (``I(x^4)``, ``x:w``); numpy would do it
    in the column's integer type and wrap around silently. Columns used as levels (inside
    ``factor()`` or ``C()``) keep their type, so their level names stay ``1``, ``2``, ...
    """
    numeric: set[str] = set()
    levels: set[str] = set()
    for term in terms:
        for factor in term.factors:
            method = getattr(factor.eval_method, "value", str(factor.eval_method))
            code = str(factor.expr)
            if method == "lookup":
                numeric.add(code.strip("`"))
            elif method == "python":
                _names_in(code, numeric, levels)
    cast = {
        c: data[c].astype(float)
        for c in numeric - levels
        if c in data.columns
        and pd.api.types.is_integer_dtype(data[c].dtype)
        and not pd.api.types.is_bool_dtype(data[c].dtype)
    }
    return data.assign(**cast) if cast else data


def _names_in(code: str, numeric: set[str], levels: set[str]) -> None:
    """Add the names in a Python expression to ``levels`` (inside factor()/C()) or ``numeric``."""
    try:
        tree = ast.parse(code, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return  # formulaic reports it
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in LEVEL_CALLS:
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                for sub in ast.walk(arg):
                    if isinstance(sub, ast.Name):
                        levels.add(sub.id)
                        inside.add(id(sub))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in inside:
            numeric.add(node.id)


def model_matrix(formula: Formula | ModelSpec, data: pd.DataFrame, output: str = "pandas") -> Any:
    """formulaic's model matrix (pandas or sparse) of a formula or a learned spec, evaluated in
    the closed namespace of :mod:`multilevel.formula.safety` with integer columns in double
    precision."""
    terms = formula.formula if isinstance(formula, ModelSpec) else formula
    return formula.get_model_matrix(
        integer_columns_as_double(terms, data),
        context=dict(FORMULA_CONTEXT),
        na_action="ignore",
        output=output,
    )


def _as_float_frame(mm: Any) -> tuple[np.ndarray, list[str]]:
    names = [str(c) for c in mm.columns]
    values = np.asarray(mm.to_numpy() if hasattr(mm, "to_numpy") else mm, dtype=float)
    return np.asfortranarray(values), names


def numeric_lookups(formula: Formula, data: pd.DataFrame) -> list[list[str]] | None:
    """Each term's columns if every factor is a plain numeric column (the common, fast case)."""
    terms = []
    for term in formula:
        cols = []
        for factor in term.factors:
            method = getattr(factor.eval_method, "value", str(factor.eval_method))
            code = str(factor.expr)
            if method == "literal" and code == "1":
                continue
            if method != "lookup" or code not in data.columns:
                return None
            dtype = data[code].dtype
            if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
                return None
            cols.append(code)
        terms.append(cols)
    return terms


def encode(formula: str, data: pd.DataFrame, what: str) -> tuple[np.ndarray, list[str], ModelSpec]:
    """Evaluate a right-hand-side formula on ``data``: the model matrix as floats (Fortran order),
    its column names and formulaic's spec (to encode new data the same way)."""
    columns, names, spec = encode_columns(formula, data, what)
    return columns.array, names, spec


def encode_columns(
    formula: str, data: pd.DataFrame, what: str, sparse: bool = False
) -> tuple[ModelColumns, list[str], ModelSpec]:
    """As :func:`encode`, with the matrix kept as :class:`ModelColumns` (the data read in place
    when every column is a numeric data column or a product of them).

    Numerical trouble inside an expression (log of a negative number, overflow) is not a
    warning here: it shows as a non-finite value, reported below as a DataError naming the column.
    With ``sparse``, a large matrix that is mostly zeros (a factor with many levels) is kept as
    :class:`SparseColumns`.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        return _encode(formula, data, what, sparse)


def _encode(
    formula: str, data: pd.DataFrame, what: str, sparse: bool = False
) -> tuple[ModelColumns, list[str], ModelSpec]:
    """formulaic encodes every formula; when all factors are numeric columns the spec is learned
    on a few rows and the columns stay the data's own (no n x k copy on millions of rows)."""
    try:
        parsed = Formula(python_expr(formula))
        lookups = numeric_lookups(parsed, data) if len(data) > IN_PLACE_ROWS else None
        sparse = sparse and lookups is None and len(data) > IN_PLACE_ROWS
        sample = data.head(50) if lookups is not None else data
        mm = model_matrix(parsed, sample, output="sparse" if sparse else "pandas")
    except FormulaicError as exc:
        msg = str(exc).splitlines()[0]
        raise FormulaError(f"cannot build the {what} from '{formula}': {msg}") from None
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        raise DataError(f"cannot build the {what} from '{formula}': {exc}") from None
    if sparse:
        return _sparse_columns(mm, what)
    names = [str(c) for c in mm.columns]
    if lookups is not None and len(lookups) == len(names):
        used = sorted({c for cols in lookups for c in cols})
        source = {c: data[c].to_numpy(dtype=float) for c in used}
        columns = ModelColumns(len(data), tuple(tuple(sorted(c)) for c in lookups), source)
        # single columns were checked with the frame (finite, magnitude): only products remain
        products = [j for j, cols in enumerate(lookups) if len(cols) > 1]
        if products:
            _check_values(columns.select(products), [names[j] for j in products], what)
        return columns, names, mm.model_spec
    if lookups is not None:  # unexpected layout: encode everything with formulaic
        mm = model_matrix(parsed, data)
        names = [str(c) for c in mm.columns]
    try:
        values, names = _as_float_frame(mm)
    except (TypeError, ValueError) as exc:
        raise DataError(f"the {what} '{formula}' is not numeric: {exc}") from None
    if values.shape[0] != len(data):
        raise DataError(f"the {what} '{formula}' gave {values.shape[0]} rows for {len(data)}")
    columns = ModelColumns.of(values)
    _check_values(columns, names, what)
    return columns, names, mm.model_spec


def _sparse_columns(mm: Any, what: str) -> tuple[ModelColumns, list[str], ModelSpec]:
    """formulaic's sparse matrix kept as :class:`SparseColumns` when it is large and mostly
    zeros (a factor with many levels), else made dense."""
    n, k = mm.shape
    names = [str(c) for c in mm.model_spec.column_names]
    if n * k < SPARSE_MIN_CELLS or mm.nnz > SPARSE_MAX_DENSITY * n * k:
        columns: ModelColumns = ModelColumns.of(mm.toarray())
    else:
        columns = SparseColumns.of_sparse(mm)
    _check_values(columns, names, what)
    return columns, names, mm.model_spec


def _check_values(columns: ModelColumns, names: list[str], what: str) -> None:
    """Every value finite and small enough to square in double precision, or a DataError."""
    if not columns.k or not columns.n:
        return
    biggest = columns.max_abs()
    bad = ~np.isfinite(biggest)
    if bad.any():
        bad_cols = [names[j] for j in np.flatnonzero(bad)]
        raise DataError(
            f"the {what} has non-finite values in column(s) {', '.join(bad_cols)} "
            "(e.g. log of zero or a negative number)"
        )
    too_big = np.flatnonzero(biggest > MAX_MAGNITUDE)
    if too_big.size:
        k = int(too_big[0])
        raise DataError(
            f"column {names[k]!r} of the {what} reaches {biggest[k]:.3g}, too large for the "
            "sums of squares of a fit in double precision; rescale it (e.g. change units)"
        )


def aliased_columns(
    X: np.ndarray | ModelColumns | None, tol: float = RANK_TOL, XtX: np.ndarray | None = None
) -> list[int]:
    """Indices of columns that are (numerically) linear combinations of earlier columns.

    Column j is aliased when its distance from the span of the kept earlier columns, |R_jj| of
    a QR decomposition, is below ``tol`` times its norm: earlier columns are kept, as in R. A
    Cholesky factor of the scaled X'X screens the clear full-rank case cheaply; otherwise the QR
    of X decides, or, when only X'X is known (``X`` None: a fit from chunks), a Cholesky factor
    of X'X built column by column.
    """
    if XtX is None:  # values are below 1e100 in magnitude (encode refuses larger): no overflow
        assert X is not None
        columns = X if isinstance(X, ModelColumns) else ModelColumns.of(X)
        XtX = columns.gram()
    k = XtX.shape[0]
    if k == 0:
        return []
    norms = np.sqrt(np.maximum(np.diag(XtX), 0.0))
    if np.all(norms > 0):
        C = XtX / np.outer(norms, norms)
        try:
            ratio = np.diag(np.linalg.cholesky(C))  # |R_jj| / |x_j|
            if np.all(ratio > 1e-4):
                return []
        except np.linalg.LinAlgError:
            pass
    if X is None:
        return _aliased_from_gram(XtX, norms, tol)
    columns = X if isinstance(X, ModelColumns) else ModelColumns.of(X)
    R = np.asarray(np.linalg.qr(columns.array, mode="r"))
    diag = np.zeros(k)
    m = min(R.shape)
    diag[:m] = np.abs(np.diag(R)[:m])
    return [j for j in range(k) if norms[j] == 0 or diag[j] <= tol * norms[j]]


def _aliased_from_gram(XtX: np.ndarray, norms: np.ndarray, tol: float) -> list[int]:
    """The QR test from X'X alone: R_jj of a Cholesky factor of the kept columns."""
    k = XtX.shape[0]
    kept: list[int] = []
    aliased = []
    R = np.zeros((k, k))
    for j in range(k):
        r = XtX[kept, j].astype(float)
        if kept:
            Rk = R[: len(kept), : len(kept)]
            r = np.linalg.solve(Rk.T, r)  # R_k' r = X_k'x_j
        d2 = XtX[j, j] - float(r @ r)
        if norms[j] == 0 or np.sqrt(max(d2, 0.0)) <= tol * norms[j]:
            aliased.append(j)
            continue
        m = len(kept)
        R[:m, m] = r
        R[m, m] = np.sqrt(d2)
        kept.append(j)
    return aliased


@dataclass(frozen=True)
class FixedDesign:
    """X with lme4 column names; ``dropped`` are aliased columns removed (lme4 does the same).

    X is held as :class:`ModelColumns` (built as a matrix only when used); ``XtX``, when known,
    is X'X, computed once for the rank check and reused by the cross-products. ``shift``: the
    shift of each column when some column lies far from zero (see :mod:`multilevel.design.shift`);
    ``XtX`` and the rank check are then those of the shifted columns ``X - 1 shift'``.
    """

    columns: ModelColumns
    names: tuple[str, ...]
    dropped: tuple[str, ...]
    spec: ModelSpec
    keep: tuple[int, ...]
    XtX: np.ndarray | None = None
    coded: CodedFormula | None = None  # contrast codings and R names (design/contrasts.py)
    shift: np.ndarray | None = None

    @property
    def X(self) -> np.ndarray:
        return self.columns.array

    @property
    def p(self) -> int:
        return self.columns.k

    def gram(self) -> np.ndarray:
        """X'X (of the shifted columns when ``shift`` is set)."""
        return self.shifted().gram() if self.XtX is None else self.XtX

    def shifted(self) -> ModelColumns:
        """X - 1 shift' (X itself without a shift)."""
        if self.shift is None or intercept_of(self.columns) is None:  # e.g. whitened columns
            return self.columns
        return shifted_columns(self.columns, self.shift, "x")

    def matrix_for(self, data: pd.DataFrame) -> np.ndarray:
        """X for new data, with the encodings (levels, centring) learned from the fit."""
        try:
            mm = model_matrix(self.spec, data)
        except (FormulaicError, KeyError, ValueError, TypeError) as exc:
            raise DataError(f"cannot build fixed effects for new data: {exc}") from None
        values, _ = _as_float_frame(mm)
        return values[:, list(self.keep)]


def fixed_design(formula: str, data: pd.DataFrame, coding: Coding | None = None) -> FixedDesign:
    """Build X for the fixed part of a model (factors coded as ``coding`` says)."""
    coded = apply_coding(formula, data, coding or Coding())
    X, raw_names, spec = encode_columns(coded.text, data, "fixed-effects model matrix", sparse=True)
    names = [coded.column_name(n) for n in raw_names]
    XtX = X.gram()
    # columns far from zero: the rank check and X'X about a shift (design/shift.py)
    shift = shifts_from_gram(XtX, X.n, intercept_of(X))
    Xs = X if shift is None else shifted_columns(X, shift, "x")
    if shift is not None:
        XtX = Xs.gram()
    drop = aliased_columns(Xs, XtX=XtX)
    keep = [j for j in range(X.k) if j not in drop]
    return FixedDesign(
        columns=X if not drop else X.select(keep),
        names=tuple(names[j] for j in keep),
        dropped=tuple(names[j] for j in drop),
        spec=spec,
        keep=tuple(keep),
        XtX=XtX[np.ix_(keep, keep)],
        coded=coded,
        shift=None if shift is None else shift[keep],
    )
