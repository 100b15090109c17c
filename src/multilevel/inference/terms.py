"""The terms of the fixed part (``recipe``, ``temperature``, ``recipe:temperature``): which
columns of X each owns, its variables, and which terms contain it (lmerTest's ``containment``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from multilevel.design.contrasts import Coding, apply_coding
from multilevel.design.fixed import encode
from multilevel.design.shift import intercept_of

if TYPE_CHECKING:
    from multilevel.design.model import ModelDesign


@dataclass(frozen=True)
class FixedTerm:
    """One term of the fixed part: R's label, its columns in X (after aliased columns are
    dropped), its variables and the numeric ones among them."""

    label: str
    columns: tuple[int, ...]
    variables: frozenset[str]
    numeric: frozenset[str]

    def contained_in(self, other: FixedTerm) -> bool:
        """lmerTest's containment: other has all of this term's variables and more, and the
        same numeric covariates (``x`` is contained in ``x:f``, ``f`` is not in ``x:f``)."""
        return self.variables < other.variables and self.numeric == other.numeric


def _variable(expr: str, data: pd.DataFrame) -> tuple[str, bool]:
    """A factor expression -> (its variable, whether it is numeric)."""
    e = expr.strip().strip("`")
    if e.startswith("C(") and e.endswith(")"):
        return e[2:-1].split(",")[0].strip().strip("`"), False
    if e.startswith("factor(") and e.endswith(")"):
        return e[7:-1].strip(), False
    if e in data.columns:
        col = data[e]
        numeric = pd.api.types.is_numeric_dtype(col.dtype) and not (
            isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(col.dtype)
        )
        return e, numeric
    return e, True  # an expression such as log(x) or I(x^2): a covariate


def fixed_terms(design: ModelDesign) -> list[FixedTerm]:
    """The terms of the fixed part in model order, without the intercept."""
    fixed = design.fixed
    position = {j: k for k, j in enumerate(fixed.keep)}
    coded = fixed.coded
    data = design.frame.data
    out = []
    for term, cols in fixed.spec.term_slices.items():
        exprs = [str(f.expr) for f in term.factors if str(f.expr) != "1"]
        if not exprs:
            continue
        kept = tuple(position[j] for j in range(cols.start, cols.stop) if j in position)
        label = coded.term_label(exprs) if coded is not None else ":".join(exprs)
        variables = [_variable(e, data) for e in exprs]
        out.append(
            FixedTerm(
                label=label,
                columns=kept,
                variables=frozenset(v for v, _ in variables),
                numeric=frozenset(v for v, num in variables if num),
            )
        )
    return out


def sum_coded_map(design: ModelDesign) -> np.ndarray:
    """M with beta_sum = M beta: the coefficients the model would have with every factor coded
    ``contr.sum`` (the coding under which type III tests are the tests of a term's coefficients).

    X_sum M = X (same column space), so M = (X_sum'X_sum)^-1 X_sum'X.
    """
    fixed = design.fixed
    data = design.frame.data
    text = design.formula.fixed  # C(x, coding) already reduced to the placeholder C(x)
    factors = {
        v
        for term in fixed_terms(design)
        for v in term.variables - term.numeric
        if v in data.columns and _appears_bare(text, v)
    }
    written = {c: ("sum", c) for c in re.findall(r"\bC\([^(),]+\)", text)}
    sum_coding = Coding(dict.fromkeys(factors, "sum"), written)
    recoded = apply_coding(text, data, sum_coding)
    X_sum, _, _ = encode(recoded.text, data, "sum-coded fixed effects")
    X_sum = X_sum[:, list(fixed.keep)]
    X = fixed.X
    c = fixed.shift
    i0 = intercept_of(fixed.columns)
    if c is None or i0 is None:
        M, *_ = np.linalg.lstsq(X_sum.T @ X_sum, X_sum.T @ X, rcond=None)
        M[np.abs(M) < 1e-12] = 0.0
        return M
    # far columns (design/shift.py): M~ of X~ = X T and X_sum T_s (the same shift where the
    # column is the same), then M = T_s M~ T^-1; formed from X, X'X would keep no digits
    c_sum = np.where(np.all(X_sum == X, axis=0), c, 0.0)
    Xs, Xss = X - c, X_sum - c_sum
    M, *_ = np.linalg.lstsq(Xss.T @ Xss, Xss.T @ Xs, rcond=None)
    M[np.abs(M) < 1e-12] = 0.0
    M[:, c != 0] += np.outer(M[:, i0], c[c != 0])  # M~ T^-1, T^-1 = I + e_0 c'
    M[i0] -= c_sum @ M  # T_s M
    return M


def _appears_bare(formula: str, name: str) -> bool:
    from multilevel.design.contrasts import _top_level_names

    return any(n == name for _, _, n in _top_level_names(formula))
