"""From user data to the model frame: load, check the columns a formula uses, drop missing rows.

Nothing is lost silently: rows dropped for missing values are counted (and the columns that
caused it named) in :class:`ModelFrame`, and every other problem raises :class:`DataError` naming
the column at fault.
"""

from __future__ import annotations

import ast
import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula
from formulaic.errors import FormulaicError

from multilevel.errors import DataError, FormulaError
from multilevel.formula.parse import FormulaSpec
from multilevel.formula.safety import ALLOWED_CALLS, check_expression, r_to_python


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow.dataset as ds

    return [str(n) for n in ds.dataset(path, format="parquet").schema.names]


def load_data(data: Any, select: Callable[[list[str]], list[str]] | None = None) -> pd.DataFrame:
    """A pandas DataFrame from a DataFrame, a dict of columns, or a CSV / Parquet file path.

    ``select`` maps a file's column names to those to read (e.g. the columns a formula uses):
    a wide file is then read only in part.
    """
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if not path.exists():
            raise DataError(f"data file not found: {path}")
        if path.is_file() and path.stat().st_size == 0:
            raise DataError(f"data file {path} is empty")
        suffix = path.suffix.lower()
        if path.is_dir() and not any(path.glob("*.parquet")):
            raise DataError(
                f"{path} is a folder without .parquet files; give a CSV or Parquet file"
            )
        try:
            if suffix in (".parquet", ".pq") or path.is_dir():
                cols = select(_parquet_columns(path)) if select else None
                return pd.read_parquet(path, columns=cols)
            if suffix == ".feather":
                return pd.read_feather(path)
            cols = select([str(c) for c in pd.read_csv(path, nrows=0).columns]) if select else None
            return pd.read_csv(path, usecols=cols)
        except (DataError, FormulaError):  # from select: a bad formula or a missing column
            raise
        except pd.errors.EmptyDataError:
            raise DataError(f"data file {path} has no columns (is it empty?)") from None
        except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
            raise DataError(f"cannot read data file {path}: {exc}") from None
    if isinstance(data, dict):
        try:
            return pd.DataFrame(data)
        except (ValueError, TypeError) as exc:
            raise DataError(f"cannot make a table of the columns given: {exc}") from None
    to_pandas = getattr(data, "to_pandas", None)  # polars, pyarrow
    if callable(to_pandas):
        return to_pandas()
    raise DataError(
        f"cannot use data of type {type(data).__name__}; pass a pandas DataFrame or a CSV or "
        "Parquet path"
    )


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


def is_number(col: pd.Series) -> bool:
    """A numeric column (logicals are factors, as in R's model frame)."""
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def missing_and_infinite(frame: pd.DataFrame) -> tuple[dict[str, int], np.ndarray, dict]:
    """Per-column missing counts, the complete-row mask, and infinite-value masks.

    A numeric column whose minimum and maximum are finite has neither (two reductions, no
    temporary arrays: the common case on large data); masks are formed only otherwise.
    """
    n = len(frame)
    missing = np.zeros(n, bool)
    dropped_by: dict[str, int] = {}
    infinite = {}
    for name in frame.columns:
        col = frame[name]
        if is_number(col):
            v = col.to_numpy(dtype=float, na_value=np.nan)
            if not v.size or (np.isfinite(v.min()) and np.isfinite(v.max())):
                continue
            bad = ~np.isfinite(v)
            m = np.isnan(v)
            if (bad & ~m).any():
                infinite[name] = bad & ~m
        else:
            m = col.isna().to_numpy()
        k = int(m.sum())
        if k:
            dropped_by[str(name)] = k
            missing |= m
    return dropped_by, ~missing, infinite


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


def r_collation_key(label: str) -> tuple[str, str]:
    """Sort key close to R's (ICU / locale) collation of factor levels: case-insensitive first,
    lower case before upper case on ties ("control" < "Drug A"; "a" < "A")."""
    return label.casefold(), label.swapcase()


def _all_categories_used(col: pd.Series) -> bool:
    """Whether every category occurs (a counting pass, much cheaper than a sort on many rows)."""
    codes = col.cat.codes.to_numpy()
    n_cat = len(col.cat.categories)
    if codes.size and codes.min() < 0:  # missing values: let pandas handle the general case
        return False
    return bool(np.all(np.bincount(codes, minlength=n_cat)[:n_cat] > 0))


def as_r_factors(frame: pd.DataFrame, skip: set[str]) -> pd.DataFrame:
    """Encode predictors as R's model.frame would: strings become factors with levels sorted by
    R's collation, logicals become factors FALSE/TRUE, and unused categories are dropped
    (drop.unused.levels = TRUE)."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if name in skip:
            continue
        if isinstance(col.dtype, pd.CategoricalDtype):
            if not _all_categories_used(col):
                out[name] = col.cat.remove_unused_categories()
        elif pd.api.types.is_bool_dtype(col):
            out[name] = pd.Categorical(
                np.where(col.to_numpy(dtype=bool), "TRUE", "FALSE"), categories=["FALSE", "TRUE"]
            )
        elif pd.api.types.is_string_dtype(col) or col.dtype == object:
            labels = col.astype(str)
            levels = sorted(pd.unique(labels), key=r_collation_key)
            out[name] = pd.Categorical(labels, categories=levels)
    return frame.assign(**out) if out else frame


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


def missing_column_error(name: str, columns: list[str], where: str) -> DataError:
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
    lower = [c for c in columns if c.lower() == name.lower() and c != name]
    hint = lower or close
    suggestion = f"; did you mean {', '.join(repr(c) for c in hint)}?" if hint else "."
    shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
    return DataError(f"column {name!r} ({where}) is not in the data{suggestion} Columns: {shown}")


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


def build_frame(spec: FormulaSpec, data: pd.DataFrame) -> ModelFrame:
    """Select the formula's columns, check them, and drop (and count) rows with missing values."""
    if not isinstance(data, pd.DataFrame):
        data = load_data(data)
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
    frame.attrs = dict(data.attrs)  # e.g. how columns were centred (levels.centering)
    for name in outcome_columns:
        y = frame[name]
        if not (pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y)):
            sample = y.dropna().astype(str).head(3).tolist()
            raise DataError(
                f"the outcome {name!r} is not numeric (dtype {y.dtype}; values like {sample}); "
                "a linear mixed model needs a numeric outcome"
            )

    for name in needed:
        if pd.api.types.is_complex_dtype(frame[name]):
            raise DataError(f"column {name!r} holds complex numbers; a model needs real values")

    dropped_by, keep, infinite = missing_and_infinite(frame)
    for name, inf in infinite.items():
        bad = inf & keep
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise DataError(
                f"column {name!r} has {int(bad.sum())} infinite value(s) (e.g. at rows {rows}); "
                "remove or recode them"
            )
    kept = frame if keep.all() else frame.loc[keep]  # no copy when nothing is dropped
    # categorical grouping factors are coded by design.random (unused levels dropped there)
    groups_only = {
        n
        for n, where in needed.items()
        if where.startswith("grouping factor") and isinstance(kept[n].dtype, pd.CategoricalDtype)
    }
    kept = as_r_factors(kept, skip=set(outcome_columns) | groups_only)
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
    if len(kept) == 0:
        raise DataError(
            f"no rows left after dropping rows with missing values in {', '.join(dropped_by)} "
            f"({len(frame)} rows, all with a missing value)"
        )
    return ModelFrame(
        data=kept.reset_index(drop=True),
        n_input=int(len(frame)),
        n_dropped=n_dropped,
        dropped_by=dropped_by,
        row_index=kept.index,
    )
