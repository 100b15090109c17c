"""Precision weights and offsets, as lme4's ``weights=`` and ``offset=`` (or ``offset(expr)`` in
the formula), applied as one row transform before the cross-products.

With residual covariance sigma^2 diag(1/w), multiplying row i of X, Z and y - offset by
sqrt(w_i) gives an unweighted model with the same beta, theta and sigma; its Gaussian
log-likelihood differs from the weighted one by -1/2 sum log w_i, which :func:`log_weight_sum`
returns for the fit to add back (lme4's convention). The scaling is lazy: sqrt(w) joins each
column's recipe (:class:`ModelColumns`), so no scaled copy of X or Z is made and chunked data
can apply the same transform chunk by chunk.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from multilevel.design.columns import ModelColumns
from multilevel.errors import DataError, FormulaError
from multilevel.formula.parse import FormulaSpec

if TYPE_CHECKING:
    from multilevel.design.model import ModelDesign

#: the source key of sqrt(w) in the scaled columns' recipes
SQRT_W = "\0sqrt_w"


def strip_offsets(spec: FormulaSpec) -> tuple[FormulaSpec, list[str]]:
    """``y ~ x + offset(2 * Days) + (1 | g)`` -> the spec without the offset term, and its
    expressions (R's ``offset()`` in a formula)."""
    text = spec.fixed
    found: list[str] = []
    while True:
        start = _find_top_level_call(text, "offset")
        if start < 0:
            break
        open_at = text.index("(", start)
        depth, end = 0, -1
        for i in range(open_at, len(text)):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                end = i
                break
        if end < 0:
            raise FormulaError(f"unbalanced parentheses in offset() of '{spec.fixed}'")
        found.append(text[open_at + 1 : end].strip())
        before, after = text[:start].rstrip(), text[end + 1 :].lstrip()
        if before.endswith("+"):
            before = before[:-1].rstrip()
        elif after.startswith("+"):
            after = after[1:].lstrip()
        text = (before + " " + after).strip()
    if not found:
        return spec, []
    return replace(spec, fixed=text or "1"), found


def _find_top_level_call(text: str, name: str) -> int:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(name, i) and (i == 0 or not _ident(text[i - 1])):
            rest = text[i + len(name) :].lstrip()
            if rest.startswith("("):
                return i
    return -1


def _ident(ch: str) -> bool:
    return ch.isalnum() or ch in "._"


def frame_terms(weights: Any, offsets: list[str], offset: Any) -> list[str]:
    """Expressions the model frame must also read (so rows missing them are dropped)."""
    out = [f"I({e})" for e in offsets]
    for arg in (weights, offset):
        if isinstance(arg, str):
            out.append(f"I({arg})")
    return out


def _values(arg: Any, what: str, data: pd.DataFrame, rows: np.ndarray, n_input: int) -> np.ndarray:
    """A column / expression evaluated on the model frame, or an array for the input rows."""
    if isinstance(arg, str):
        from multilevel.design.fixed import encode
        from multilevel.design.values import is_number

        if arg in data.columns and is_number(data[arg]):  # a plain column: no formula pass
            return data[arg].to_numpy(dtype=float)
        values, _, _ = encode(f"0 + I({arg})", data, what)
        return values[:, 0].astype(float)
    arr = np.asarray(arg, dtype=float).ravel()
    if arr.shape[0] != n_input:
        raise DataError(f"{what} has {arr.shape[0]} values for {n_input} rows of data")
    if np.isnan(arr).any():
        k = int(np.isnan(arr).sum())
        raise DataError(f"{what} has {k} missing value(s); give a value for every row")
    return arr[rows]


def row_weights(
    weights: Any,
    offset: Any,
    offsets: list[str],
    data: pd.DataFrame,
    rows: np.ndarray,
    n_input: int,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(w, offset) for the rows of the model frame, checked; None where not given."""
    w = None
    if weights is not None:
        w = _values(weights, "weights", data, rows, n_input)
        bad = ~(np.isfinite(w) & (w > 0))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"weights must be positive and finite: {int(bad.sum())} row(s) are not "
                f"(e.g. row {first}: {w[first]!r}); drop those rows or fix the weights"
            )
    off = None
    parts = [_values(e, f"offset({e})", data, rows, n_input) for e in offsets]
    if offset is not None:
        parts.append(_values(offset, "offset", data, rows, n_input))
    if parts:
        off = np.sum(parts, axis=0)
        if not np.all(np.isfinite(off)):
            raise DataError("the offset has non-finite values")
    return w, off


def scaled(columns: ModelColumns, sqrt_w: np.ndarray) -> ModelColumns:
    """sqrt(w) times every column, as a recipe (no copy of the data)."""
    source = dict(columns.source)
    source[SQRT_W] = sqrt_w
    return ModelColumns(columns.n, tuple(f + (SQRT_W,) for f in columns.factors), source)


def working_design(design: ModelDesign) -> ModelDesign:
    """The design the cross-products are built from: y - offset, and rows of X, Z and y scaled
    by sqrt(w). Without weights and offset, the design itself."""
    w, off = design.weights, design.offset
    if w is None and off is None:
        return design
    y = design.y if off is None else design.y - off
    fixed, terms = design.fixed, design.terms
    if w is not None:
        sw = np.sqrt(w)
        y = y * sw
        fixed = replace(fixed, columns=scaled(fixed.columns, sw), XtX=None)
        terms = tuple(replace(t, columns=scaled(t.columns, sw)) for t in terms)
    return replace(design, y=y, fixed=fixed, terms=terms, weights=None, offset=None)


def log_weight_sum(design: ModelDesign) -> float:
    """sum log w (0 without weights): the weighted log-likelihood is the working one + half it."""
    return 0.0 if design.weights is None else float(np.sum(np.log(design.weights)))
