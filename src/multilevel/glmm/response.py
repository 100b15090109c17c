"""The outcome of a GLMM as lme4 takes it, and offsets.

Binomial: 0/1 numbers, logicals, a two-level factor or text column (the second level, in R's
sorted order, is the success), ``cbind(successes, failures)`` (also ``cbind(s, n - s)``), or a
proportion with ``weights=`` giving the trials. Poisson: non-negative whole counts. Offsets come
from ``offset(expr)`` terms in the formula and from the ``offset=`` argument (added together, as
R does). Everything is reduced to a proportion/count y, prior weights w (trials) and an offset,
so the rest of the pipeline sees one numeric outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from multilevel.design.fixed import encode
from multilevel.errors import DataError, FormulaError
from multilevel.family import Family
from multilevel.formula.parse import _split_top


@dataclass(frozen=True)
class GlmmFormula:
    """The formula split into outcome, offset expressions and the rest (lme4 syntax)."""

    text: str
    response: str
    cbind: tuple[str, str] | None
    offsets: tuple[str, ...]
    rhs: str  # right-hand side without offset() terms


def _call_args(term: str, name: str) -> list[str] | None:
    """The arguments of ``name(...)`` if ``term`` is exactly such a call, else None."""
    t = term.strip()
    if not (t.startswith(name + "(") and t.endswith(")")):
        return None
    inner = t[len(name) + 1 : -1]
    depth = 0
    for ch in inner:  # the closing bracket must be the call's own
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return None
    return [a for _, a in _split_top(inner, ",")] if inner.strip() else []


def split_glmm_formula(text: str) -> GlmmFormula:
    """Find ``cbind(s, f)`` on the left and ``offset(...)`` terms on the right."""
    if text.count("~") != 1:
        raise FormulaError(f"a model formula needs exactly one '~': {text!r}")
    lhs, rhs = (s.strip() for s in text.split("~"))
    cb = _call_args(lhs, "cbind")
    if cb is not None and len(cb) != 2:
        raise FormulaError(f"cbind() in the outcome needs two columns (successes, failures): {lhs}")
    offsets, keep = [], []
    for sign, term in _split_top(rhs, "+-"):
        if not term.strip():
            continue
        args = _call_args(term, "offset")
        if args is None:
            keep.append((sign, term))
            continue
        if sign == "-" or len(args) != 1:
            raise FormulaError(f"offset term '{term.strip()}' must be added with one argument")
        offsets.append(args[0].strip())
    parts: list[str] = []
    for sign, term in keep:
        parts.append(term.strip() if not parts and sign == "+" else f"{sign} {term.strip()}")
    rest = " ".join(parts).strip() or "1"
    if rest.startswith("- "):
        rest = "1 " + rest
    return GlmmFormula(
        text=text,
        response=lhs,
        cbind=(cb[0].strip(), cb[1].strip()) if cb else None,
        offsets=tuple(offsets),
        rhs=rest,
    )


def _values(expr: str, data: pd.DataFrame, what: str) -> np.ndarray:
    """A numeric column or expression of columns, NaN where an input is missing."""
    if expr in data.columns:
        col = data[expr]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            raise DataError(f"{what} {expr!r} is not numeric (dtype {col.dtype})")
        return pd.to_numeric(col).to_numpy(dtype=float, na_value=np.nan)
    values, names, _ = encode(f"0 + I({expr})", data, f"{what} '{expr}'")
    if values.shape[1] != 1:
        raise FormulaError(f"{what} '{expr}' gives {values.shape[1]} columns; it must give one")
    return values[:, 0].astype(float)


def _binary(col: pd.Series, name: str) -> np.ndarray:
    """0/1 from a logical, two-level factor or text column (second sorted level = 1)."""
    if (
        pd.api.types.is_bool_dtype(col)
        or col.dtype == object
        and col.dropna().map(lambda v: isinstance(v, bool | np.bool_)).all()
    ):
        return col.map(lambda v: np.nan if pd.isna(v) else float(bool(v))).to_numpy(float)
    if isinstance(col.dtype, pd.CategoricalDtype):
        levels = [c for c in col.cat.categories if (col == c).any()]
    else:
        levels = sorted(col.dropna().astype(str).unique())
        col = col.map(lambda v: v if pd.isna(v) else str(v))
    if len(levels) != 2:
        shown = ", ".join(map(repr, list(levels)[:5]))
        raise DataError(
            f"the binomial outcome {name!r} is text/factor with {len(levels)} level(s) "
            f"({shown}); it needs exactly two (the second, {'in sorted order'}, is the success)"
        )
    out = np.where(col.isna(), np.nan, (col == levels[1]).to_numpy(float))
    return out.astype(float)


def _proportion_or_binary(
    y: np.ndarray, weights: np.ndarray | None, name: str
) -> tuple[np.ndarray, np.ndarray]:
    ok = ~np.isnan(y)
    if weights is None:
        bad = ok & (y != 0) & (y != 1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            lo, hi = np.nanmin(y), np.nanmax(y)
            raise DataError(
                f"the binomial outcome {name!r} must be 0/1 (or logical, or a two-level factor); "
                f"it has {int(bad.sum())} other value(s) (e.g. {y[i]:g} at row {i}; range "
                f"{lo:g} to {hi:g}). For successes out of trials write cbind(successes, "
                "failures) or give the trials with weights="
            )
        return y, np.ones_like(y)
    bad = ok & ((y < 0) | (y > 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"with weights= (trials) the binomial outcome {name!r} must be a proportion in "
            f"[0, 1]; row {i} has {y[i]:g}"
        )
    k = y * weights
    frac = ok & ~np.isnan(weights) & (np.abs(k - np.round(k)) > 1e-7 * np.maximum(1, weights))
    if frac.any():
        i = int(np.flatnonzero(frac)[0])
        raise DataError(
            f"proportion x trials is not a whole number of successes in {int(frac.sum())} "
            f"row(s) (e.g. row {i}: {y[i]:g} x {weights[i]:g}); give the trials as weights="
        )
    return y, weights


def _counts(s: np.ndarray, f: np.ndarray, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """cbind(s, f): proportion s / (s + f) with s + f trials."""
    for v, nm in ((s, names[0]), (f, names[1])):
        ok = ~np.isnan(v)
        neg = ok & (v < 0)
        if neg.any():
            i = int(np.flatnonzero(neg)[0])
            extra = " (more successes than trials?)" if nm != names[0] else ""
            raise DataError(
                f"cbind({names[0]}, {names[1]}): {nm!r} is negative in {int(neg.sum())} row(s) "
                f"(e.g. row {i}: {v[i]:g}){extra}; successes and failures must be counts >= 0"
            )
        frac = ok & (v != np.round(v))
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise DataError(
                f"cbind({names[0]}, {names[1]}): {nm!r} is not a whole number in row {i} "
                f"({v[i]:g}); successes and failures must be counts"
            )
    n = s + f
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(n > 0, s / n, 0.0)
    y[np.isnan(n)] = np.nan
    return y, n


def _poisson(y: np.ndarray, name: str) -> np.ndarray:
    ok = ~np.isnan(y)
    neg = ok & (y < 0)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise DataError(
            f"the Poisson outcome {name!r} has {int(neg.sum())} negative value(s) (e.g. row {i}: "
            f"{y[i]:g}); counts must be >= 0"
        )
    frac = ok & (y != np.round(y))
    if frac.any():
        i = int(np.flatnonzero(frac)[0])
        raise DataError(
            f"the Poisson outcome {name!r} has {int(frac.sum())} non-integer value(s) (e.g. row "
            f"{i}: {y[i]:g}); Poisson counts must be whole numbers (a rate: model the count "
            "with offset(log(exposure)))"
        )
    return y


def _vector(arg: Any, data: pd.DataFrame, what: str) -> np.ndarray | None:
    """``weights=`` / ``offset=``: a column name, an expression or an array of n values."""
    if arg is None:
        return None
    if isinstance(arg, str):
        return _values(arg, data, what)
    v = np.asarray(arg, dtype=float).ravel()
    if v.shape[0] != len(data):
        raise DataError(f"{what} has {v.shape[0]} values for {len(data)} rows of data")
    return v


@dataclass(frozen=True)
class GlmmResponse:
    """y (0/1, proportion or count), prior weights (trials) and offset per input row."""

    y: np.ndarray
    weights: np.ndarray
    offset: np.ndarray
    kind: str  # 'binary', 'counts' (cbind / trials), 'poisson'


def glmm_response(
    f: GlmmFormula,
    family: Family,
    data: pd.DataFrame,
    weights: Any = None,
    offset: Any = None,
) -> GlmmResponse:
    """The outcome, weights and offset of every input row (NaN where any is missing)."""
    w = _vector(weights, data, "weights")
    if w is not None:
        bad = ~np.isnan(w) & (w < 0)
        if bad.any():
            raise DataError(f"weights must be >= 0; row {int(np.flatnonzero(bad)[0])} is negative")
    if family.name == "binomial":
        if f.cbind is not None:
            if w is not None:
                raise DataError("give trials either as cbind(successes, failures) or weights=")
            s = _values(f.cbind[0], data, "successes")
            fl = _values(f.cbind[1], data, "failures")
            y, trials = _counts(s, fl, f.cbind)
            kind = "counts"
        else:
            col = data[f.response] if f.response in data.columns else None
            if col is not None and not pd.api.types.is_numeric_dtype(col):
                y = _binary(col, f.response)
            else:
                y = _values(f.response, data, "outcome")
            y, trials = _proportion_or_binary(y, w, f.response)
            kind = "binary" if w is None else "counts"
    else:
        if f.cbind is not None:
            raise DataError("cbind() outcomes are binomial; a Poisson outcome is one count column")
        y = _poisson(_values(f.response, data, "outcome"), f.response)
        trials = np.ones_like(y) if w is None else w
        kind = "poisson"
    off = np.zeros(len(data))
    for expr in f.offsets:
        off = off + _values(expr, data, "offset")
    extra = _vector(offset, data, "offset")
    if extra is not None:
        off = off + extra
    if not np.all(np.isfinite(off[~np.isnan(off)])):
        raise DataError("the offset has infinite values (log of a zero exposure?)")
    return GlmmResponse(y=y, weights=trials, offset=off, kind=kind)
