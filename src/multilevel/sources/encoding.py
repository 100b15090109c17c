"""How every chunk is encoded: learned once from a sample plus the levels of the factors.

The model frame is built as ``multilevel.design.frame.build_frame`` builds it in memory: text
columns become factors with levels in R's collation order, logicals factors FALSE/TRUE, pandas
categoricals keep their categories' order (unused ones dropped); numeric columns used inside
``C()``/``factor()`` are factors too. Since a level may first occur in any chunk, the levels of
every factor are fixed before the statistics pass (declared, or found by a first pass over the
data), so every chunk is encoded to the same columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from multilevel.design.contrasts import (
    CodedFormula,
    apply_coding,
    refuse_ordered,
    strip_codings,
)
from multilevel.design.fixed import encode, encode_columns
from multilevel.design.frame import (
    as_r_factors,
    check_outcome_column,
    drop_incomplete,
    formula_variables,
    needed_columns,
)
from multilevel.design.layout import TermLayout, numbered
from multilevel.design.model import response_values
from multilevel.design.random_shift import RandomShift, learn_shifts
from multilevel.design.shift import shifts_from_gram
from multilevel.design.values import NUMBER, factor_labels, kind_of, r_levels
from multilevel.design.weights import frame_terms, row_weights, strip_offsets
from multilevel.errors import DataError, FormulaError, MultilevelError
from multilevel.formula.parse import FormulaSpec
from multilevel.formula.rnames import lme4_name
from multilevel.sources.chunks import (
    Source,
    sample_rows,
    scan_levels,
)

STATEFUL = re.compile(r"\b(center|scale|standardize|poly|bs|cr|cs)\s*\(")
SAMPLE_ROWS = 2000


@dataclass(frozen=True)
class GroupFactor:
    """One grouping factor of a chunked fit: its name ('g', 'a:b'), the columns whose
    interaction it is, the terms on it (indices into ``Encoding.terms``, columns of its
    per-level blocks in that order) and a declared (or categorical) order of its levels."""

    name: str
    columns: tuple[str, ...]
    terms: tuple[int, ...]
    order: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Encoding:
    """How every chunk is encoded: learned once, so all chunks give the same columns."""

    formula: FormulaSpec
    columns: tuple[str, ...]  # the columns the model reads
    outcome_columns: tuple[str, ...]  # those the outcome (a column or expression) reads
    groups: tuple[GroupFactor, ...]  # the grouping factors, in order of first appearance
    categories: dict[str, list[Any]]  # factor columns and their levels
    kinds: dict[str, str]  # factor columns and their kinds (multilevel.design.values.kind_of)
    fixed_raw: tuple[str, ...] = ()  # formulaic names of X's columns (before aliasing)
    terms: tuple[TermLayout, ...] = ()  # in the order written, named as lme4 names them
    #: shift of each column of [X y] whose values lie far from zero (learned on the first rows;
    #: the statistics are those of [X y] - shift, see multilevel.design.shift), or None
    shift: np.ndarray | None = None
    #: random slopes of predictors far from zero, fitted about a shift (design/random_shift.py)
    random_shift: RandomShift | None = None
    #: the fixed part as formulaic evaluates it (contrast codings) and R's names of its columns
    coded: CodedFormula | None = None
    #: precision weights (a column or expression), offsets (offset(expr) terms and offset=)
    weights: str | None = None
    offsets: tuple[str, ...] = ()
    na_values: tuple[Any, ...] = ()

    @property
    def fixed_text(self) -> str:
        """The fixed part formulaic encodes (with contrast codings written in)."""
        return self.formula.fixed if self.coded is None else self.coded.text

    @property
    def fixed_names(self) -> tuple[str, ...]:
        """R's names of the raw columns of X (before aliased ones are dropped)."""
        if self.coded is None:
            return tuple(lme4_name(n) for n in self.fixed_raw)
        return tuple(self.coded.column_name(n) for n in self.fixed_raw)

    def weights_offset(self, rows: pd.DataFrame) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(w, offset) of the rows (complete rows only), checked as in memory; None if not given."""
        if self.weights is None and not self.offsets:
            return None, None
        n = len(rows)
        return row_weights(self.weights, None, list(self.offsets), rows, np.arange(n), n)

    @property
    def Q(self) -> int:
        return sum(t.q for t in self.terms)

    def Q_of(self, factor: GroupFactor) -> int:
        """Random effects per level of a grouping factor (its terms' q added up)."""
        return sum(self.terms[k].q for k in factor.terms)

    def outcome(self, rows: pd.DataFrame) -> np.ndarray:
        """y: the outcome column, or the outcome expression (e.g. log(y)) evaluated."""
        return response_values(self.formula.response, rows)

    def prepare(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """Factor columns as Categoricals with their fixed levels, as the in-memory model frame
        makes them (:func:`multilevel.design.frame.as_r_factors`); a value outside them is an
        error (complete rows only)."""
        if not self.categories:
            return chunk
        return as_r_factors(chunk, skip=set(chunk.columns), levels=self.categories)

    def matrix(
        self,
        part: str,
        rows: pd.DataFrame,
        names: tuple[str, ...],
        what: str,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """The model matrix of one formula part (into ``out`` if given), encoded as in memory
        (:func:`multilevel.design.fixed.encode_columns`: numeric columns and their products read
        in place on large chunks, formulaic otherwise), with the columns learned once."""
        columns, got, _ = encode_columns(part, rows, what)
        if tuple(got) != names:
            raise MultilevelError(
                f"a chunk encoded the {what} to columns {got}, not {list(names)}; declare the "
                "levels of categorical predictors (categories=...) or use multilevel.fit"
            )
        if out is None:
            out = np.empty((len(rows), len(names)), order="F")
        return columns.block(0, len(rows), out)

    def matrices(
        self,
        rows: pd.DataFrame,
        y: np.ndarray,
        sqrt_w: np.ndarray | None = None,
        shift: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[list[tuple[str | None, np.ndarray]]]]:
        """[X y] (all raw columns of X) and, per random term, its Z columns, each with a key
        naming what it is (None for the intercept, the column name otherwise; a Z column that
        is also a column of X is not computed twice). With ``shift``, [X y] - shift (a new
        array; Z keeps the values it read, see multilevel.design.shift). With ``sqrt_w`` every
        row of X, Z and y is scaled by it after the shift (precision weights, see
        :mod:`multilevel.design.weights`); the intercept is then the column sqrt(w), keyed as
        any other column, and sqrt(w) (x - c) keeps the digits sqrt(w) x - c sqrt(w) loses."""
        P = len(self.fixed_raw)
        raw = np.empty((len(rows), P + 1), order="F")
        self.matrix(
            self.fixed_text, rows, self.fixed_raw, "fixed-effects model matrix", out=raw[:, :P]
        )
        raw[:, P] = y
        Xy = raw if shift is None else raw - shift
        weighted = sqrt_w is not None
        if sqrt_w is not None:
            Xy *= sqrt_w[:, None]
            if shift is not None:
                raw *= sqrt_w[:, None]
        where = {name: j for j, name in enumerate(self.fixed_raw)}
        zterms: list[list[tuple[str | None, np.ndarray]]] = []
        for t in self.terms:
            if all(n in where for n in t.raw_names):
                zterms.append([(column_key(n, weighted), raw[:, where[n]]) for n in t.raw_names])
                continue
            Z = self.matrix(t.expr, rows, t.raw_names, f"random-effects matrix of '{t.name}'")
            if sqrt_w is not None:
                Z *= sqrt_w[:, None]
            keys = [
                column_key(n, weighted) if n in where or n == "Intercept" else f"{t.name}|{n}"
                for n in t.raw_names
            ]
            zterms.append([(key, Z[:, k]) for k, key in enumerate(keys)])
        return Xy, zterms


def column_key(name: str, weighted: bool = False) -> str | None:
    """The key of a column among the cross-products: None for the intercept (a column of
    ones, whose products are counts and sums), unless rows are weighted (it is sqrt(w) then)."""
    return None if name == "Intercept" and not weighted else name


def check_supported(spec: FormulaSpec) -> None:
    """MultilevelError for what a chunked fit cannot do exactly (transforms that learn their
    state from the whole data); any random part, crossed or nested, is fine."""
    if not spec.random:
        raise FormulaError(f"no random-effects terms in '{spec.text}'; add one such as (1 | group)")
    for part in [spec.fixed] + [r.expr for r in spec.random]:
        m = STATEFUL.search(part)
        if m:
            raise MultilevelError(
                f"'{m.group(1)}(...)' in '{part}' learns its state from the whole data, which "
                "a chunked fit cannot do exactly; transform the column beforehand or use "
                "multilevel.fit"
            )


def refuse_arrays(weights: Any, offset: Any) -> None:
    """Weights and offsets read in chunks must be columns (or expressions) of the data: an
    array has one value per row of data held in memory."""
    for name, arg in (("weights", weights), ("offset", offset)):
        if arg is not None and not isinstance(arg, str):
            raise DataError(
                f"{name}= is an array; with data read in chunks (chunk_rows=, a large file, or "
                f"Dask) give the name of a column of the data instead, e.g. {name}='w'"
            )


def _factor_kinds(spec: FormulaSpec, sample: pd.DataFrame, skip: set[str]) -> dict[str, str]:
    """The factor columns and their kinds (:func:`multilevel.design.values.kind_of`): text,
    logical and categorical ones, and numeric ones used inside C(...) or factor(...)
    (formulaic tells which, from the sample)."""
    kinds = {c: k for c in sample.columns if c not in skip and (k := kind_of(sample[c])) != NUMBER}
    levels = {
        c: r_levels(pd.unique(factor_labels(sample[c])), k, _categories(sample[c]))
        for c, k in kinds.items()
    }
    sample = as_r_factors(sample, skip=set(sample.columns), levels=levels)
    numeric_use: set[str] = set()
    for part in [spec.fixed] + [r.expr for r in spec.random]:
        _, _, mspec = encode(part, sample, "sample model matrix")
        for expr, (kind, _state) in mspec.encoder_state.items():
            used = formula_variables(str(expr))
            if getattr(kind, "value", str(kind)) == "categorical":
                for c in used:
                    kinds.setdefault(c, NUMBER)
            else:
                numeric_use.update(used)
    both = [c for c in kinds if c in numeric_use and kinds[c] == NUMBER]
    if both:
        raise MultilevelError(
            f"column(s) {both} are used both as numbers and as factors; a chunked fit cannot "
            "encode that; make a separate factor column or use multilevel.fit"
        )
    return {c: k for c, k in kinds.items() if c not in skip}


def _categories(col: pd.Series) -> list[Any] | None:
    return list(col.cat.categories) if isinstance(col.dtype, pd.CategoricalDtype) else None


LevelsOf = Callable[[list[str], dict[str, str]], dict[str, list[Any]]]


def learn_encoding(
    spec: FormulaSpec,
    source: Source | None,
    chunk_rows: int,
    group_levels: Any = None,
    categories: dict[str, Any] | None = None,
    sample: pd.DataFrame | Callable[[list[str]], pd.DataFrame] | None = None,
    levels_of: LevelsOf | None = None,
    available: list[str] | None = None,
    *,
    weights: str | None = None,
    offset: str | None = None,
    contrasts: dict[str, str] | None = None,
    na_values: Any = None,
) -> Encoding:
    """Learn the encoding from a sample of the source plus the levels of its factors (declared
    in ``categories``, or found by a first pass over the data: ``levels_of``, by default
    :func:`multilevel.sources.chunks.scan_levels` on ``source``).

    ``weights`` and ``offset`` (column names or expressions), ``contrasts`` and ``na_values``
    as :func:`multilevel.fit` takes them; the columns weights and offsets read join the model's
    columns, so rows missing them are dropped and counted as in memory."""
    spec, coding = strip_codings(spec, contrasts)  # C(x, sum) -> C(x), coding recorded
    spec, offsets = strip_offsets(spec)
    check_supported(spec)
    grouping = list(dict.fromkeys(c for r in spec.random for c in r.factors))
    if available is None:
        if source is None:
            raise DataError("give a source or the list of available columns")
        available = source.columns
    extra = frame_terms(weights, offsets, offset)
    frame_spec = replace(spec, fixed=" + ".join([spec.fixed, *extra])) if extra else spec
    needed, outcome = needed_columns(frame_spec, available)
    columns = list(needed)
    if callable(sample):  # rows of the needed columns, read once they are known
        rows_of: pd.DataFrame | None = sample(columns)
    elif sample is None and source is not None:
        rows_of = sample_rows(source, columns, SAMPLE_ROWS, chunk_rows)  # complete rows
    else:
        rows_of = sample
    if rows_of is None or len(rows_of) == 0:
        raise DataError("the data has no rows")
    first: pd.DataFrame = rows_of[columns]
    first, dropped_by = drop_incomplete(first)
    if len(first) == 0 and sample is None:  # sample_rows read on to the end: no complete row
        raise DataError(
            f"no rows left after dropping rows with missing values in {', '.join(dropped_by)}: "
            f"every row has a missing value in one of {', '.join(columns)}"
        )
    if len(first) == 0:
        raise DataError(
            "the first rows of the data all have missing values; cannot learn the "
            "encoding (declare categories or reorder the data)"
        )
    for name in outcome:
        check_outcome_column(name, first[name])
    # grouping columns are matched by value (no levels needed) unless a predictor too
    predictors = {
        c for part in [spec.fixed] + [r.expr for r in spec.random] for c in formula_variables(part)
    }
    kinds = _factor_kinds(spec, first, skip=set(outcome) | (set(grouping) - predictors))
    refuse_ordered(spec.fixed, first)  # hook: contr.poly is coded in memory only
    declared = {k: list(v) for k, v in (categories or {}).items()}
    todo = {c: k for c, k in kinds.items() if c not in declared}
    if todo:
        if levels_of is None:
            if source is None:
                raise DataError(f"declare the levels of {sorted(todo)} (categories=...)")
            levels_of = lambda cols, kinds_: scan_levels(source, cols, kinds_, chunk_rows)  # noqa: E731
        declared.update(levels_of(columns, todo))
    cats = {c: declared[c] for c in kinds}
    base = Encoding(spec, tuple(columns), tuple(outcome), (), cats, kinds)
    rows = base.prepare(first)
    coded = apply_coding(spec.fixed, rows, coding) if coding else None
    fixed_text = spec.fixed if coded is None else coded.text
    _, fixed_raw, _ = encode(fixed_text, rows, "fixed-effects model matrix")
    terms = numbered(
        [
            TermLayout.of(r, encode(r.expr, rows, f"random-effects matrix of '{r.source}'")[1])
            for r in spec.random
        ]
    )
    on_factor: dict[str, list[int]] = {}
    for k, t in enumerate(terms):
        on_factor.setdefault(t.grouping_factor, []).append(k)
    if group_levels is not None and len(on_factor) > 1:
        raise DataError(
            "group_levels= declares the levels of one grouping factor; this model has "
            f"{len(on_factor)}: {', '.join(on_factor)}"
        )
    groups = []
    for name, ks in on_factor.items():
        cols = terms[ks[0]].factors
        order = None
        if group_levels is not None:
            order = tuple(group_levels)
        elif len(cols) == 1 and isinstance(first[cols[0]].dtype, pd.CategoricalDtype):
            order = tuple(first[cols[0]].cat.categories)
        groups.append(GroupFactor(name, cols, tuple(ks), order))
    enc = Encoding(
        spec,
        tuple(columns),
        tuple(outcome),
        tuple(groups),
        cats,
        kinds,
        tuple(fixed_raw),
        tuple(terms),
        coded=coded,
        weights=weights,
        offsets=tuple(offsets) + (() if offset is None else (offset,)),
        na_values=tuple(na_values or ()),
    )
    zterms = enc.matrices(rows, enc.outcome(rows))[1]
    random_shift = learn_shifts([(t.name, t.term_names) for t in terms], zterms)
    return replace(enc, shift=_shift_of(enc, rows), random_shift=random_shift)


def _shift_of(enc: Encoding, rows: pd.DataFrame) -> np.ndarray | None:
    """The shift of the columns of [X y] far from zero, from the first rows' own Gram matrix
    (unweighted means: any shift is exact; with weights it is applied before the rows are
    scaled by sqrt(w), as in memory)."""
    y = enc.outcome(rows)
    _, off = enc.weights_offset(rows)
    Xy, _ = enc.matrices(rows, y if off is None else y - off)
    if not np.all(np.isfinite(Xy)):
        return None  # reported, with the column, on the statistics pass
    intercept = enc.fixed_raw.index("Intercept") if "Intercept" in enc.fixed_raw else None
    return shifts_from_gram(Xy.T @ Xy, len(rows), intercept)
