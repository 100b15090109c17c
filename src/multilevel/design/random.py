"""One ``(expr | group)`` term: group codes, the raw model matrix of its random effects, and the
relative covariance factor Lambda_theta (q x q lower triangular) it contributes.

For a term with q random effects per group, Var(b_j) = sigma^2 Lambda Lambda'; theta lists the
lower triangle of Lambda column by column, as lme4's ``getME(m, "theta")``; its diagonal elements
are bounded below by 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from formulaic import ModelSpec

from multilevel.design.columns import ModelColumns
from multilevel.design.fixed import _as_float_frame, encode_columns, model_matrix
from multilevel.design.groupsums import group_sums
from multilevel.design.layout import TermLayout, lme4_order, numbered
from multilevel.errors import DataError
from multilevel.formula.parse import RandomSpec


def level_label(value: object) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _labels(values: pd.Index) -> list[str]:
    """Level labels as R prints them (whole-number floats without '.0'), vectorised for strings."""
    kind = values.inferred_type
    if kind == "string":
        return values.tolist()
    if kind == "integer":
        return values.astype(str).tolist()
    return [level_label(v) for v in values]


def factor_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and sorted level labels of one grouping column (as R's ``factor``).

    The codes keep the smallest integer type that holds them (a categorical's own codes are
    used as they are: no n-long copy on large data)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        cats = _labels(column.cat.categories)
        if codes.size and codes.min() < 0:
            raise DataError(f"grouping factor {column.name!r} has missing values")
        count = group_sums(codes, len(cats), [()], lambda _: codes)[()]  # rows per category
        used = np.flatnonzero(count)
        if len(used) == len(cats):
            return codes, cats
        remap = np.full(len(cats), -1)
        remap[used] = np.arange(len(used))
        return remap[codes], [cats[i] for i in used]
    codes, uniques = pd.factorize(column, sort=True)
    values = np.asarray(uniques)
    if values.dtype.kind in "iu":  # integer ids: one vectorised conversion
        return codes.astype(np.int64), values.astype(str).tolist()
    return codes.astype(np.int64), [level_label(u) for u in uniques]


def group_codes(data: pd.DataFrame, factors: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes and labels of the interaction of ``factors`` (``a:b`` labels, unused combos gone)."""
    codes, labels = factor_codes(data[factors[0]])
    for name in factors[1:]:
        c2, l2 = factor_codes(data[name])
        combined = codes.astype(np.int64) * len(l2) + c2
        uniq, codes = np.unique(combined, return_inverse=True)
        labels = [f"{labels[u // len(l2)]}:{l2[u % len(l2)]}" for u in uniq]
    return codes, tuple(labels)


@dataclass(frozen=True)
class RandomTerm(TermLayout):
    """A random-effects term: ``b_j ~ N(0, sigma^2 Lambda Lambda')`` for each level j."""

    index: np.ndarray  # (n,) level index of each row, in a compact integer type
    levels: tuple[str, ...]
    columns: ModelColumns  # the (n, q) raw random-effects model matrix, as its recipe
    spec: ModelSpec

    @cached_property
    def codes(self) -> np.ndarray:
        """(n,) level index of each row as int64 (safe for arithmetic such as codes * q)."""
        return self.index.astype(np.int64)

    @property
    def Z(self) -> np.ndarray:
        """The (n, q) raw random-effects model matrix."""
        return self.columns.array

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    def matrix_for(self, data: pd.DataFrame) -> np.ndarray:
        """Raw Z columns of this term for new data."""
        try:
            mm = model_matrix(self.spec, data)
        except Exception as exc:  # formulaic raises several types for unusable new data
            raise DataError(
                f"cannot build random effects '{self.source}' for new data: {exc}"
            ) from None
        values, _ = _as_float_frame(mm)
        return values


def random_term(spec: RandomSpec, data: pd.DataFrame) -> RandomTerm:
    """Build one random term from its spec and the model frame."""
    Z, raw, mspec = encode_columns(spec.expr, data, f"random-effects matrix of '{spec.source}'")
    term = TermLayout.of(spec, raw)
    codes, levels = group_codes(data, spec.factors)
    return RandomTerm(**vars(term), index=codes, levels=levels, columns=Z, spec=mspec)


def order_terms(terms: list[RandomTerm]) -> list[RandomTerm]:
    """lme4's order: by decreasing number of levels (stable), then unique names (g, g.1, ...)."""
    return numbered([terms[k] for k in lme4_order([t.n_levels for t in terms])])
