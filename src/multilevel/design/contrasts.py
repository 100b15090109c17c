"""Contrast coding of factors, as R's ``contrasts=`` argument and ``C(x, contr.sum)``.

A factor's coding is one of R's ``contr.treatment``, ``contr.sum``, ``contr.helmert`` and
``contr.poly``. formulaic builds the columns (its coding matrices equal R's); this module
rewrites the fixed part so formulaic sees ``C(x, contr_sum)``, and names the columns as R does:
``recipe1``, ``recipe2`` (sum, helmert: numbered), ``temperature.L``, ``.Q``, ``.C``, ``^4``
(poly), ``recipeB`` (treatment). A coding written in the formula keeps the formula's text as the
column stem, as R does (``C(recipe, sum)1``). An ordered factor (``pd.Categorical(...,
ordered=True)``) is coded by ``contr.poly`` unless told otherwise, as R's default
``contrasts = c("contr.treatment", "contr.poly")`` codes ordered factors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
from formulaic.transforms.contrasts import (
    HelmertContrasts,
    PolyContrasts,
    SumContrasts,
    TreatmentContrasts,
)

from multilevel.errors import DataError, FormulaError, MultilevelError
from multilevel.formula.parse import FormulaSpec
from multilevel.formula.rnames import _split_interaction, _split_level, lme4_name, r_deparse

KINDS = ("treatment", "sum", "helmert", "poly")

#: the coding objects formulaic evaluates, by the name the rewritten formula uses
CONTRAST_CONTEXT: dict[str, Any] = {
    "contr_treatment": TreatmentContrasts(),
    "contr_sum": SumContrasts(),
    "contr_helmert": HelmertContrasts(),
    "contr_poly": PolyContrasts(),
}

# C(name, coding) with a plain (or backticked) column name and a coding without parentheses
_C_CALL = re.compile(r"\bC\(\s*(`[^`]+`|[A-Za-z_][\w.]*)\s*,\s*([^(),]+?)\s*\)")


def coding_kind(text: str) -> str:
    """``'contr.sum'``, ``'sum'``, ``"'Sum'"``, ``'contr_sum'`` -> ``'sum'``; else FormulaError."""
    t = str(text).strip().strip("'\"").lower()
    for prefix in ("contr.", "contr_"):
        if t.startswith(prefix):
            t = t[len(prefix) :]
    if t == "polynomial":
        t = "poly"
    if t not in KINDS:
        raise FormulaError(
            f"unknown contrast coding {text!r}; use one of {', '.join(KINDS)} "
            "(or R's contr.treatment, contr.sum, contr.helmert, contr.poly)"
        )
    return t


@dataclass(frozen=True)
class Coding:
    """The codings of a model's factors: ``factors`` from ``contrasts=``, ``written`` from
    ``C(x, coding)`` in the formula (the placeholder ``C(x)`` -> (kind, the formula's text))."""

    factors: Mapping[str, str] = field(default_factory=dict)
    written: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.factors) or bool(self.written)


def strip_codings(
    spec: FormulaSpec, contrasts: Mapping[str, str] | None = None
) -> tuple[FormulaSpec, Coding]:
    """Codings out of the fixed part: ``C(x, sum)`` becomes ``C(x)`` (a factor, coding recorded),
    so the column checks see only column names; ``contrasts=`` is checked and normalized."""
    factors = {}
    for name, kind in (contrasts or {}).items():
        if not isinstance(name, str):
            raise FormulaError(f"contrasts: factor names must be strings, got {name!r}")
        factors[name] = coding_kind(kind)
    written: dict[str, tuple[str, str]] = {}

    def _sub(m: re.Match[str]) -> str:
        column, kind = m.group(1), coding_kind(m.group(2))
        placeholder = f"C({column})"
        shown = r_deparse(m.group(0))
        if placeholder in written and written[placeholder][0] != kind:
            raise FormulaError(
                f"factor {column!r} is given two codings in the formula "
                f"({written[placeholder][1]} and {shown}); use one"
            )
        written[placeholder] = (kind, shown)
        return placeholder

    fixed = _C_CALL.sub(_sub, spec.fixed)
    if fixed == spec.fixed and not factors:
        return spec, Coding()
    return replace(spec, fixed=fixed), Coding(factors, written)


def _top_level_names(formula: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of every bare identifier outside parentheses and backticks."""
    out, depth, i = [], 0, 0
    while i < len(formula):
        ch = formula[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "`":
            j = formula.index("`", i + 1) if "`" in formula[i + 1 :] else len(formula)
            if depth == 0:
                out.append((i, j + 1, formula[i + 1 : j]))
            i = j
        elif depth == 0 and (ch.isalpha() or ch == "_"):
            j = i
            while j < len(formula) and (formula[j].isalnum() or formula[j] in "._"):
                j += 1
            if j >= len(formula) or formula[j] != "(":
                out.append((i, j, formula[i:j]))
            i = j - 1
        i += 1
    return out


@dataclass(frozen=True)
class CodedFormula:
    """The fixed part as formulaic evaluates it, and how to name its coded columns."""

    text: str
    stems: Mapping[str, tuple[str, str, tuple[str, ...]]]  # formulaic stem -> (kind, R stem,
    # levels)

    def column_name(self, raw: str) -> str:
        """formulaic's column name -> R's (``C(recipe, contr_sum)[S.A]`` -> ``recipe1``)."""
        parts = []
        for part in _split_interaction(raw):
            base, level = _split_level(part)
            if base not in self.stems:
                parts.append(lme4_name(part))
                continue
            kind, stem, levels = self.stems[base]
            parts.append(stem + _suffix(kind, level, levels))
        return ":".join(parts)

    def term_label(self, factor_exprs: list[str]) -> str:
        """R's term label (``recipe:temperature``) from formulaic's factor expressions."""
        out = []
        for e in factor_exprs:
            out.append(self.stems[e][1] if e in self.stems else lme4_name(e))
        return ":".join(out)


def _suffix(kind: str, level: str, levels: tuple[str, ...]) -> str:
    """R's column suffix for formulaic's level tag (``S.A``, ``H.B``, ``.L``, ``T.B``, ``A``)."""
    for tag in ("S.", "H."):
        if level.startswith(tag) and level[2:] in levels:
            k = levels.index(level[2:])
            return str(k + 1 if tag == "S." else k)
    return level


def ordered_factors(formula: str, data: pd.DataFrame) -> list[str]:
    """The terms of the fixed part that are ordered categoricals (R codes them by contr.poly)."""
    names = dict.fromkeys(name for _, _, name in _top_level_names(formula))
    return [
        n
        for n in names
        if n in data.columns
        and isinstance(data[n].dtype, pd.CategoricalDtype)
        and data[n].dtype.ordered
    ]


def refuse_ordered(formula: str, data: pd.DataFrame) -> None:
    """A fit from chunks codes factors by treatment only: an ordered factor (contr.poly in
    memory) would silently get other coefficients there, so it is refused with the way out."""
    found = ordered_factors(formula, data)
    if found:
        raise MultilevelError(
            f"ordered factor(s) {found} are coded by polynomial contrasts (dose.L, .Q, ...) as "
            "in R, which a fit from chunks cannot do yet; fit in memory, or make them unordered "
            "(.cat.as_unordered()) for treatment coding"
        )


def apply_coding(formula: str, data: pd.DataFrame, coding: Coding) -> CodedFormula:
    """Rewrite the fixed part for formulaic: each coded factor becomes ``C(x, contr_kind)``;
    ordered factors not coded otherwise get ``contr_poly`` (R's default for them)."""
    written = {p[2:-1].strip("`") for p in coding.written}
    ordered = {n: "poly" for n in ordered_factors(formula, data) if n not in written}
    if ordered:
        coding = replace(coding, factors={**ordered, **coding.factors})
    if not coding:
        return CodedFormula(formula, {})
    stems: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for placeholder, (kind, shown) in coding.written.items():
        column = placeholder[2:-1].strip("`")
        target = f"C({placeholder[2:-1]}, contr_{kind})"
        formula = formula.replace(placeholder, target)
        stems[target] = (kind, shown, _levels(data, column))
    present = {name for _, _, name in _top_level_names(formula)}
    for name in coding.factors:
        if name not in present:
            raise FormulaError(
                f"contrasts given for {name!r}, which is not a term of the fixed part '{formula}'"
            )
        col = data[name]
        if pd.api.types.is_numeric_dtype(col.dtype) and not isinstance(
            col.dtype, pd.CategoricalDtype
        ):
            raise DataError(
                f"contrasts given for {name!r}, which is numeric, not a factor; contrasts apply "
                f"to factors only (use factor({name}) or a text column)"
            )
    pieces, last = [], 0
    for start, end, name in _top_level_names(formula):
        if name in coding.factors:
            kind = coding.factors[name]
            target = f"C({formula[start:end]}, contr_{kind})"
            pieces += [formula[last:start], target]
            stems[target] = (kind, name, _levels(data, name))
            last = end
    pieces.append(formula[last:])
    return CodedFormula("".join(pieces), stems)


def _levels(data: pd.DataFrame, column: str) -> tuple[str, ...]:
    if column not in data.columns:
        raise DataError(f"column {column!r} (coded by contrasts) is not in the data")
    col = data[column]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return tuple(str(c) for c in col.cat.categories)
    return tuple(sorted(str(v) for v in col.dropna().unique()))
