"""The model design: everything the objective needs, checked as lme4 checks it.

lme4's checks (``checkNlevels``, ``checkZdims``, ``chkRank.drop.cols``) are repeated here with
messages that name the term at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from multilevel.design.contrasts import strip_codings
from multilevel.design.fixed import FixedDesign, encode, fixed_design
from multilevel.design.frame import (
    ModelFrame,
    build_frame,
    group_columns,
    load_data,
    needed_columns,
)
from multilevel.design.layout import ModelLayout, TermLayout
from multilevel.design.random import RandomTerm, order_terms, random_term
from multilevel.design.weights import frame_terms, row_weights, strip_offsets
from multilevel.errors import DataError, FormulaError
from multilevel.formula.parse import FormulaSpec, parse_formula


@dataclass(frozen=True)
class ModelDesign:
    """y, X and the random terms of a model, with the frame they came from."""

    formula: FormulaSpec
    frame: ModelFrame
    y: np.ndarray
    fixed: FixedDesign
    terms: tuple[RandomTerm, ...]
    warnings: tuple[str, ...]
    # precision weights and offset per row (design/weights.py applies them before the
    # cross-products); None when not given
    weights: np.ndarray | None = None
    offset: np.ndarray | None = None
    # the offset's parts: expressions evaluated on new data by predict, None for an array
    offset_terms: tuple[str | None, ...] = ()

    @property
    def X(self) -> np.ndarray:
        return self.fixed.X

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def p(self) -> int:
        return self.fixed.p

    @cached_property
    def layout(self) -> ModelLayout:
        """The model without its rows (what the fit and the result read)."""
        return ModelLayout(
            formula=self.formula,
            terms=tuple(t.layout() for t in self.terms),
            fixed_names=self.fixed.names,
            levels={t.name: t.levels for t in self.terms},
            n_obs=self.n,
            n_input=self.frame.n_input,
            dropped_by=dict(self.frame.dropped_by),
            warnings=self.warnings,
        )

    @property
    def n_theta(self) -> int:
        return sum(t.n_theta for t in self.terms)

    def theta_start(self) -> np.ndarray:
        return self.layout.theta_start()

    def theta_lower(self) -> np.ndarray:
        return self.layout.theta_lower()

    def theta_names(self) -> list[str]:
        return self.layout.theta_names()

    def split_theta(self, theta: np.ndarray) -> list[np.ndarray]:
        """theta -> one slice per term."""
        return self.layout.split_theta(theta)

    @property
    def n_groups(self) -> dict[str, int]:
        return self.layout.n_groups

    @property
    def is_nested_single(self) -> bool:
        """One grouping factor (possibly several terms on it): Z'Z is block diagonal by group."""
        return len({t.grouping_factor for t in self.terms}) == 1


def check_levels(
    terms: Sequence[TermLayout], n_levels: Sequence[int], n: int, residual: bool = True
) -> None:
    """lme4's ``checkNlevels`` and ``checkZdims``: at least 2 levels, fewer levels than rows,
    fewer random effects than rows (not for GLMMs: ``residual`` False); names the term."""
    for t, G in zip(terms, n_levels, strict=True):
        if G < 2:
            raise DataError(
                f"grouping factor {t.grouping_factor!r} in '{t.source}' has only {G} "
                "level in the rows used; a random effect needs at least 2 groups (lme4 requires "
                "more than 1 sampled level). Remove the random term (ordinary regression) or "
                "check the rows dropped for missing values"
            )
        if not residual:  # GLMMs have no residual variance to separate (lme4's glmer skips these)
            continue
        if G >= n:
            raise DataError(
                f"grouping factor {t.grouping_factor!r} in '{t.source}' has {G} levels "
                f"for {n} observations; each group needs more than one observation on average "
                "for the group and residual variances to be separable (lme4: number of levels of "
                "each grouping factor must be < number of observations)"
            )
        if G * t.q >= n:
            raise DataError(
                f"term '{t.source}' has {G * t.q} random effects ({G} groups x "
                f"{t.q}) for {n} observations; the random-effects parameters and the residual "
                "variance are unidentifiable (lme4: number of observations <= number of random "
                "effects). Use a simpler random part, e.g. (1 | "
                f"{t.grouping_factor})"
            )


def check_outcome_varies(response: str, lo: float, hi: float) -> None:
    """A DataError when the outcome (its smallest and largest value ``lo``, ``hi`` in the rows
    used) is constant: there is no variance to split into parts."""
    if lo == hi:
        raise DataError(f"the outcome {response!r} is constant ({lo:g}) in every row used")


def data_warnings(
    n_input: int, n_obs: int, dropped_by: dict[str, int], aliased: Sequence[str]
) -> list[str]:
    """What the user should know about the rows and columns used: rows dropped for missing
    values, fixed-effect columns dropped as aliased (lme4's message)."""
    out = []
    if n_input > n_obs:
        cols = ", ".join(f"{c} ({k})" for c, k in dropped_by.items())
        out.append(
            f"{n_input - n_obs} of {n_input} rows dropped for missing values in: {cols}. "
            f"The model is fitted to the {n_obs} complete rows, which assumes the values "
            "are missing at random; impute or recode them to use all rows"
        )
    if aliased:
        out.append(
            "fixed-effect model matrix is rank deficient so dropping "
            f"{len(aliased)} column(s): {', '.join(aliased)}. Each is a linear "
            "combination of the columns before it, so its effect cannot be separated from "
            "theirs and is not estimated; remove it from the formula (or combine the predictors)"
        )
    return out


def response_values(response: str, data: pd.DataFrame) -> np.ndarray:
    """The outcome: a column, or an expression of columns such as ``log(y)`` (as lme4 allows)."""
    if response in data.columns:
        return pd.to_numeric(data[response]).to_numpy(dtype=float)
    values, names, _ = encode(f"0 + {response}", data, f"outcome '{response}'")
    if values.shape[1] != 1:
        raise FormulaError(
            f"the outcome '{response}' gives {values.shape[1]} columns ({', '.join(names)}); "
            "it must be one numeric column or expression"
        )
    return values[:, 0].copy()


def build_design(
    formula: str | FormulaSpec,
    data: Any,
    contrasts: dict[str, str] | None = None,
    weights: Any = None,
    offset: Any = None,
    na_values: Any = None,
    *,
    residual: bool = True,
) -> ModelDesign:
    """Parse, select rows, encode, and check: the first step of the pipeline.

    ``residual=False`` (GLMMs) skips the checks that random effects leave room for a residual
    variance, as lme4's glmer does (an observation-level random effect is allowed)."""
    spec = formula if isinstance(formula, FormulaSpec) else parse_formula(formula)
    spec, coding = strip_codings(spec, contrasts)  # C(x, sum) -> C(x), coding recorded
    spec, offsets = strip_offsets(spec)  # offset(expr) terms, evaluated below
    extra = frame_terms(weights, offsets, offset)  # the frame also reads (and NA-drops) them
    frame_spec = replace(spec, fixed=" + ".join([spec.fixed, *extra])) if extra else spec
    if not spec.random:
        raise FormulaError(
            f"no random-effects terms in '{spec.text}'; add one such as (1 | group). "
            "For a model without random effects use ordinary least squares."
        )
    df = load_data(
        data,
        select=lambda columns: list(needed_columns(frame_spec, columns)[0]),
        ids=group_columns(spec),
        na_values=na_values,
    )
    arrays = any(a is not None and not isinstance(a, str) for a in (weights, offset))
    if arrays and not (isinstance(df.index, pd.RangeIndex) and df.index.start == 0):
        df = df.reset_index(drop=True)  # rows of weight/offset arrays are positions
    frame = build_frame(frame_spec, df, na_values=na_values)
    w, off = row_weights(
        weights, offset, offsets, frame.data, frame.row_index.to_numpy(), frame.n_input
    )
    y = response_values(spec.response, frame.data)
    fixed = fixed_design(spec.fixed, frame.data, coding)
    terms = order_terms([random_term(r, frame.data) for r in spec.random])
    check_levels(terms, [t.n_levels for t in terms], len(y), residual)
    warnings = data_warnings(frame.n_input, frame.n_obs, frame.dropped_by, fixed.dropped)
    check_outcome_varies(spec.response, float(y.min()), float(y.max()))
    given = [] if offset is None else [offset if isinstance(offset, str) else None]
    return ModelDesign(
        formula=spec,
        frame=frame,
        y=y,
        fixed=fixed,
        terms=tuple(terms),
        warnings=tuple(warnings),
        weights=w,
        offset=off,
        offset_terms=(*offsets, *given),
    )
