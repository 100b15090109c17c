"""A GLMM design: the linear model's design (X, random terms, rows used) plus the family, the
prior weights (binomial trials) and the offset of the rows used."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from multilevel.design.frame import load_data
from multilevel.design.model import ModelDesign, build_design
from multilevel.errors import FormulaError
from multilevel.family import Family
from multilevel.formula.parse import parse_formula
from multilevel.glmm.response import GlmmFormula, glmm_response, split_glmm_formula


@dataclass(frozen=True)
class GlmmDesign:
    """Everything the Laplace objective reads: y, weights w, offset, X, Z and the family."""

    base: ModelDesign
    family: Family
    formula: GlmmFormula
    y: np.ndarray
    weights: np.ndarray
    offset: np.ndarray
    kind: str

    @property
    def n(self) -> int:
        return self.base.n

    @property
    def p(self) -> int:
        return self.base.p


def build_glmm_design(
    formula: str,
    data: Any,
    family: Family,
    weights: Any = None,
    offset: Any = None,
    contrasts: dict[str, str] | None = None,
    na_values: Any = None,
) -> GlmmDesign:
    """Outcome, weights and offset are worked out on the input rows first, then the linear
    model's design is built on an outcome column that is missing wherever any of them is, so
    rows are dropped (and counted) once for all of them."""
    f = split_glmm_formula(formula)
    spec = parse_formula(f"y__glmm ~ {f.rhs}")
    ids = sorted({name for r in spec.random for name in r.factors})
    codes = (
        None
        if na_values is None
        else ([na_values] if isinstance(na_values, str | int | float) else list(na_values))
    )
    df = load_data(data, ids=ids, na_values=codes)
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
        df = df.reset_index(drop=True)
    resp = glmm_response(f, family, df, weights, offset)
    y_all = resp.y.copy()
    y_all[np.isnan(resp.weights) | np.isnan(resp.offset)] = np.nan
    work = df.copy(deep=False)
    key = f.response
    work[key] = y_all
    spec = replace(spec, text=formula, response=key)
    if not spec.random:
        raise FormulaError(
            f"no random-effects terms in '{formula}'; add one such as (1 | group). For a model "
            "without random effects use a GLM (statsmodels)."
        )
    base = build_design(spec, work, contrasts, na_values=codes, residual=False)
    rows = np.asarray(base.frame.row_index, dtype=np.int64)
    off = resp.offset[rows]
    # the offset as a linear mixed model's design holds it: its values, and its expressions
    # (None for an array) that predictions evaluate on new rows
    given = [] if offset is None else [offset if isinstance(offset, str) else None]
    has_offset = bool(f.offsets) or offset is not None
    base = replace(base, offset=off if has_offset else None, offset_terms=(*f.offsets, *given))
    return GlmmDesign(
        base=base,
        family=family,
        formula=f,
        y=base.y,
        weights=resp.weights[rows],
        offset=off,
        kind=resp.kind,
    )
