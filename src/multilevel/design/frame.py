"""From user data to the model frame: load, check the columns a formula uses, drop missing rows.

Nothing is lost silently: rows dropped for missing values are counted (and the columns that
caused it named) in :class:`ModelFrame`, and every other problem raises :class:`DataError` naming
the column at fault.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula
from formulaic.errors import FormulaicError

from multilevel.design.groups import used_categories
from multilevel.design.values import (  # noqa: F401 - re-exported
    LOGICAL_LEVELS,
    frozen_factor,
    is_number,
    missing_and_infinite,
    missing_column_error,
    r_collation_key,
    r_factor_from_codes,
)
from multilevel.errors import DataError, FormulaError
from multilevel.formula.parse import FormulaSpec
from multilevel.formula.safety import ALLOWED_CALLS, check_expression, r_to_python
from multilevel.read.schema import hash_codes, settle_frame
from multilevel.read.source import as_source


def load_data(
    data: Any,
    select: Callable[[list[str]], list[str]] | None = None,
    *,
    ids: Sequence[str] = (),
    na_values: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """A pandas DataFrame from any source :func:`multilevel.sources.chunks.as_source` reads (a
    DataFrame, dict of columns, polars, Arrow, DuckDB, Dask, or a CSV / Parquet file or folder).

    ``select`` maps the source's column names to those to read (e.g. the columns a formula
    uses): a wide file is then read only in part. ``ids``: group id columns, read from files as
    text (``007`` and ``7`` stay apart); ``na_values``: missing-value codes of a file.
    """
    if isinstance(data, pd.DataFrame):
        return data
    source = as_source(data, ids=ids, na_values=na_values)
    columns = select(source.columns) if select else None
    return source.to_pandas(columns)


def python_expr(expr: str) -> str:
    """A fixed-part or random-part formula with R arithmetic translated for formulaic."""
    out = []
    depth = 0
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        out.append("**" if ch == "^" and depth > 0 else ch)
    return "".join(out)


def _refuse_if_unsafe(expr: str, term: str | None) -> None:
    """Text formulaic cannot read may still be Python that tries to run code: say so."""
    try:
        ast.parse(r_to_python(expr), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    check_expression(r_to_python(expr), term or expr)


def formula_variables(expr: str, term: str | None = None) -> list[str]:
    """Column names an expression refers to, checking each Python sub-expression for safety."""
    try:
        formula = Formula(python_expr(expr))
    except FormulaicError as exc:
        raise FormulaError(f"cannot parse {expr!r}: {str(exc).splitlines()[0]}") from None
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError) as exc:
        _refuse_if_unsafe(expr, term)
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormulaError(f"cannot parse {expr!r}: {msg}") from None
    names: list[str] = []
    for t in formula:
        for factor in t.factors:
            code = str(factor.expr)
            method = getattr(factor.eval_method, "value", str(factor.eval_method))
            if method == "literal":
                continue
            if method == "lookup":
                names.append(code.strip("`"))
                continue
            check_expression(r_to_python(code), term or expr)
            for node in ast.walk(ast.parse(r_to_python(code), mode="eval")):
                if isinstance(node, ast.Name) and node.id not in ALLOWED_CALLS:
                    names.append(node.id)
    return list(dict.fromkeys(names))


#: magnitudes beyond these leave too little room in double precision for sums of squares
MAX_MAGNITUDE = 1e100
MIN_SCALE = 1e-100


def _check_magnitudes(frame: pd.DataFrame, needed: dict[str, str]) -> None:
    """Refuse numeric columns whose values are too large or too small to square safely."""
    for name in needed:
        col = frame[name]
        if not is_number(col):
            continue
        values = col.to_numpy(dtype=float)
        if not values.size:
            continue
        lo, hi = float(values.min()), float(values.max())
        biggest, spread = max(-lo, hi), hi - lo
        if biggest > MAX_MAGNITUDE or (0 < spread < MIN_SCALE):
            raise DataError(
                f"column {name!r} has values of magnitude {biggest:.3g} (range {spread:.3g}), too "
                "extreme for the sums of squares of a fit in double precision; rescale it (e.g. "
                "change its units) and fit again"
            )


def _all_categories_used(col: pd.Series) -> bool:
    """Whether every category occurs (a counting pass, much cheaper than a sort on many rows)."""
    codes = col.cat.codes.to_numpy()
    if codes.size and codes.min() < 0:  # missing values: let pandas handle the general case
        return False
    return bool(used_categories(codes, len(col.cat.categories)).all())


def as_r_factors(
    frame: pd.DataFrame,
    skip: set[str],
    ids: Sequence[str] = (),
    levels: Mapping[str, Sequence[Any]] | None = None,
) -> pd.DataFrame:
    """Encode predictors as R's model.frame would: strings become factors with levels sorted by
    R's collation (group ids ``ids`` written as plain integers: numerically), logicals become
    factors FALSE/TRUE, and unused categories are dropped (drop.unused.levels = TRUE).

    ``levels`` ({column: levels}, learned once for every chunk of a source: see
    :func:`multilevel.design.values.r_levels`) gives those columns exactly these levels, also a
    number used inside ``factor()``, so every chunk is encoded to the same columns."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if levels is not None and name in levels:
            out[name] = frozen_factor(col, levels[name], str(name))
            continue
        if name in skip:
            continue
        if isinstance(col.dtype, pd.CategoricalDtype):
            if not _all_categories_used(col):
                out[name] = col.cat.remove_unused_categories()
        elif pd.api.types.is_bool_dtype(col):
            out[name] = frozen_factor(col, LOGICAL_LEVELS, str(name))
        elif pd.api.types.is_string_dtype(col) or col.dtype == object:
            codes, uniques = hash_codes(col)  # one hash pass; then sort the few uniques
            out[name] = pd.Categorical(
                r_factor_from_codes(codes, [str(u) for u in uniques], ids=name in ids)
            )
    return frame.assign(**out) if out else frame


def check_rows_left(n_obs: int, n_input: int, dropped_by: Mapping[str, int]) -> None:
    """A DataError when no row is left to fit: none in the data, or all with a missing value
    (naming the columns that had them)."""
    if n_obs > 0:
        return
    if n_input == 0:
        raise DataError("the data has no rows")
    raise DataError(
        f"no rows left after dropping rows with missing values in {', '.join(dropped_by)} "
        f"({n_input} rows, all with a missing value)"
    )


def drop_incomplete(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows without a missing value (no copy when none is dropped) and the count of missing
    values per column; an infinite value in a complete row is a DataError naming the column."""
    dropped_by, keep, infinite = missing_and_infinite(frame)
    for name, inf in infinite.items():
        bad = inf & keep
        if bad.any():
            rows = frame.index[np.flatnonzero(bad)[:5]].tolist()
            raise DataError(
                f"column {name!r} has {int(bad.sum())} infinite value(s) (e.g. at rows {rows}); "
                "remove or recode them"
            )
    return (frame if keep.all() else frame.loc[keep]), dropped_by


def check_outcome_column(name: str, y: pd.Series) -> None:
    """A DataError unless the outcome column holds numbers (or logicals)."""
    if not (pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y)):
        sample = y.dropna().astype(str).head(3).tolist()
        raise DataError(
            f"the outcome {name!r} is not numeric (dtype {y.dtype}; values like {sample}); "
            "a linear mixed model needs a numeric outcome"
        )


@dataclass(frozen=True)
class ModelFrame:
    """The rows a model is fitted to and how they were chosen."""

    data: pd.DataFrame
    n_input: int
    n_dropped: int
    dropped_by: dict[str, int]
    row_index: pd.Index

    @property
    def n_obs(self) -> int:
        return len(self.data)


def needed_columns(spec: FormulaSpec, available: list[str]) -> tuple[dict[str, str], list[str]]:
    """The columns a formula reads, each with where it is used, and those of the outcome (a
    column, or the columns of an expression such as log(y)); a missing one is a DataError."""
    needed: dict[str, str] = {}
    if spec.response in available:
        needed[spec.response] = "the outcome"
        outcome = [spec.response]
    else:  # an expression such as log(y), as lme4 allows
        outcome = formula_variables(f"0 + {spec.response}", f"outcome '{spec.response}'")
        for name in outcome:
            needed.setdefault(name, f"the outcome '{spec.response}'")
    for name in formula_variables(spec.fixed, "fixed part"):
        needed.setdefault(name, f"fixed part '{spec.fixed}'")
    for r in spec.random:
        for name in formula_variables(r.expr, r.source):
            needed.setdefault(name, f"random term '{r.source}'")
        for f in r.factors:
            needed.setdefault(f, f"grouping factor in '{r.source}'")
    for name, where in needed.items():
        if name not in available:
            raise missing_column_error(name, available, where)
    return needed, outcome


def _copy_on_write() -> bool:
    """pandas >= 3, or pandas 2 with copy-on-write switched on by the user."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    return getattr(pd.options.mode, "copy_on_write", False) is True


def group_columns(spec: FormulaSpec) -> list[str]:
    """The columns of the grouping factors (read as text from files: they are ids)."""
    return list(dict.fromkeys(f for r in spec.random for f in r.factors))


def build_frame(spec: FormulaSpec, data: Any, na_values: Sequence[Any] | None = None) -> ModelFrame:
    """Select the formula's columns, check them, and drop (and count) rows with missing values.

    ``na_values``: missing-value codes (e.g. ``[".", "-999"]``); any other non-numeric token in
    a column of numbers, or a missing-value code used as a group, is refused naming it."""
    ids = group_columns(spec)
    if not isinstance(data, pd.DataFrame):
        data = load_data(data, ids=ids, na_values=na_values)
    columns = [str(c) for c in data.columns]
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise DataError(f"the data has duplicate column names: {', '.join(map(repr, dup))}")
    if len(data) == 0:
        raise DataError("the data has no rows")

    needed, outcome_columns = needed_columns(spec, columns)
    # the columns themselves, not a copy (data[list] copies: ~60 ms per million rows x 6 columns);
    # safe with copy-on-write, which keeps later changes to the user's frame away from the fit
    if _copy_on_write():
        frame = pd.DataFrame({name: data[name] for name in needed}, copy=False)
    else:
        frame = data[list(needed)].copy()
    attrs = dict(data.attrs)  # e.g. how columns were centred (levels.centering)
    # one hash pass per text column: numbers held as objects become numbers, declared or
    # evident missing-value codes are found, and text becomes R-ordered factor codes
    frame = settle_frame(
        frame, ids=ids, na_values=na_values or (), as_factor=True, plain=outcome_columns
    )
    frame.attrs = attrs
    for name in outcome_columns:
        if name in ids:
            term = next(r.source for r in spec.random if name in r.factors)
            raise DataError(
                f"the outcome {name!r} is also the grouping factor of '{term}': it is constant "
                "within each group, so the groups explain it exactly and no residual variance "
                "is left to estimate (lme4 returns a degenerate fit with sigma near 0); choose "
                "another outcome or grouping column"
            )
        check_outcome_column(name, frame[name])

    for name in needed:
        if pd.api.types.is_complex_dtype(frame[name]):
            raise DataError(f"column {name!r} holds complex numbers; a model needs real values")

    kept, dropped_by = drop_incomplete(frame)
    # categorical grouping factors are coded by design.random (unused levels dropped there)
    groups_only = {
        n
        for n, where in needed.items()
        if where.startswith("grouping factor") and isinstance(kept[n].dtype, pd.CategoricalDtype)
    }
    kept = as_r_factors(kept, skip=set(outcome_columns) | groups_only, ids=ids)
    _check_magnitudes(kept, needed)
    for name, where in needed.items():
        col = kept[name]
        if where.startswith(("fixed part", "random term")) and isinstance(
            col.dtype, pd.CategoricalDtype
        ):
            if len(col.cat.categories) < 2 and len(kept):
                level = col.cat.categories[0] if len(col.cat.categories) else "none"
                raise DataError(
                    f"predictor {name!r} ({where}) has a single level ({level!r}) in the rows "
                    "used, so it has no effect to estimate (R: contrasts can be applied only to "
                    "factors with 2 or more levels); remove it from the formula or check the rows "
                    "dropped"
                )
    n_dropped = int(len(frame) - len(kept))
    check_rows_left(len(kept), len(frame), dropped_by)
    return ModelFrame(
        data=kept.reset_index(drop=True),
        n_input=int(len(frame)),
        n_dropped=n_dropped,
        dropped_by=dropped_by,
        row_index=kept.index,
    )
