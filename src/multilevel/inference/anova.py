"""ANOVA tables of the fixed effects, as lmerTest's ``anova(m, type, ddf)``.

Each term is tested by a Wald F test of H0: L beta = 0 with a contrast matrix L per term:

* type 1 (sequential): rows of the unit upper-triangular factor U of X'X = U'DU (lmerTest's
  ``doolittle``) for the term's columns: each term adjusted for the terms before it;
* type 2: the same after moving the term and the terms containing it to the end;
* type 3: the term's coefficients under sum-to-zero coding of every factor, mapped to the
  model's coding (beta_sum = M beta), so the table does not depend on the coding used to fit.

The denominator df are Satterthwaite's (lmerTest's ``contestMD``) or Kenward-Roger's (with the
adjusted covariance of beta, as lmerTest with ``ddf = "Kenward-Roger"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.errors import MultilevelError
from multilevel.inference.fitted import fitted_view
from multilevel.inference.satterthwaite import satterthwaite_f
from multilevel.inference.terms import FixedTerm, fixed_terms, sum_coded_map

if TYPE_CHECKING:
    from multilevel.result.fit import LmmFit

DDF_METHODS = ("satterthwaite", "kenward-roger")
COLUMNS = ["term", "sum_sq", "mean_sq", "num_df", "den_df", "f_value", "p_value"]


def ddf_method(ddf: str) -> str:
    """``'Satterthwaite'``, ``'KR'``, ``'kenward_roger'`` -> the canonical name."""
    key = str(ddf).lower().replace("_", "-").replace(" ", "-")
    if key in ("kr", "kenward-roger", "kenwardroger"):
        return "kenward-roger"
    if key in ("satterthwaite", "satt", "s"):
        return "satterthwaite"
    raise MultilevelError(f"unknown ddf {ddf!r}: use 'satterthwaite' or 'kenward-roger'")


def _unit_upper(XtX: np.ndarray) -> np.ndarray:
    """U with X'X = U' D U, U unit upper triangular (the normalized Doolittle factor)."""
    R = np.linalg.cholesky(XtX).T
    return R / np.diag(R)[:, None]


def type1_contrasts(XtX: np.ndarray, terms: list[FixedTerm]) -> list[np.ndarray]:
    U = _unit_upper(XtX)
    return [U[list(t.columns)] for t in terms]


def type2_contrasts(XtX: np.ndarray, terms: list[FixedTerm]) -> list[np.ndarray]:
    p = XtX.shape[0]
    out = []
    for t in terms:
        containing = [c for o in terms if t.contained_in(o) for c in o.columns]
        last = list(t.columns) + containing
        order = [j for j in range(p) if j not in last] + last
        U = _unit_upper(XtX[np.ix_(order, order)])
        rows = U[[order.index(j) for j in t.columns]]
        L = np.zeros((len(t.columns), p))
        L[:, order] = rows
        out.append(L)
    return out


def type3_contrasts(fit: LmmFit, terms: list[FixedTerm]) -> list[np.ndarray]:
    M = sum_coded_map(fit.design)
    return [M[list(t.columns)] for t in terms]


def contrasts_for(fit: LmmFit, type: int) -> tuple[list[FixedTerm], list[np.ndarray]]:
    """The terms of the model and the contrast matrix L of each for an ANOVA of this type."""
    terms = [t for t in fixed_terms(fit.design) if t.columns]
    if type not in (1, 2, 3):
        raise MultilevelError(f"ANOVA type must be 1, 2 or 3, not {type!r}")
    XtX = fit.design.fixed.gram()
    if type == 1 or len(terms) <= 1:
        return terms, type1_contrasts(XtX, terms)
    if type == 2:
        return terms, type2_contrasts(XtX, terms)
    return terms, type3_contrasts(fit, terms)


def anova(fit: LmmFit, type: int = 3, ddf: str = "satterthwaite") -> pd.DataFrame:
    """The ANOVA table: term, sum_sq, mean_sq, num_df, den_df, f_value, p_value (lmerTest)."""
    method = ddf_method(ddf)
    terms, Ls = contrasts_for(fit, type)
    view = fitted_view(fit)  # far predictors: L beta = L T beta~ (inference/fitted.py)
    beta = np.asarray(view.fit.beta, float)
    s2 = fit.sigma**2
    rows = []
    for t, L in zip(terms, Ls, strict=True):
        L = _full_row_rank(L)
        if method == "satterthwaite":
            F, q, den = satterthwaite_f(view.fit._varpar, beta, view.contrast(L))
        else:
            kr = fit.kenward_roger
            test = kr.test(L)
            F, q, den = test.F_unscaled, test.ndf, test.ddf
        rows.append(
            {
                "term": t.label,
                "sum_sq": F * s2 * q,
                "mean_sq": F * s2,
                "num_df": q,
                "den_df": den,
                "f_value": F,
                "p_value": float(stats.f.sf(F, q, den)),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _full_row_rank(L: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Drop rows of L that are linear combinations of others (an orthonormal basis if any are)."""
    if np.linalg.matrix_rank(L, tol=tol * max(1.0, np.abs(L).max())) == L.shape[0]:
        return L
    U, s, Vt = np.linalg.svd(L, full_matrices=False)
    return Vt[s > tol * s[0]]
