"""A pilot's data made larger or smaller, as simr's ``extend`` and ``powerCurve`` do.

``n_groups`` (or a grouping factor's name) keeps or copies whole groups. Groups are taken in an
order that cycles through their level-2 covariate patterns (the values of the model's columns
that are constant within each group, e.g. a treatment assigned to groups), so the first k groups
are as balanced as the pilot allows, and a new group copies every row of an existing group in
that order: a balanced treatment assignment stays balanced. Factors nested in the copied groups
(e.g. classes within schools) get new labels in the copy; crossed factors keep theirs.
``group_size`` keeps the first m rows of every group, or cycles through its rows to make m.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.design.model import ModelDesign
from multilevel.errors import MultilevelError


def grouping_factor(design: ModelDesign, along: str) -> str:
    """The grouping factor ``along`` names: 'n_groups'/'group_size' need exactly one factor
    (with several, name the factor), a name must be one of the model's factors."""
    factors = [f for t in design.terms for f in t.factors]
    factors = list(dict.fromkeys(factors))
    if along in ("n_groups", "group_size"):
        if len(factors) != 1:
            raise MultilevelError(
                f"the model has several grouping factors ({', '.join(factors)}): give along= one "
                "of them (its number of levels), or along='group_size' with group= one of them"
            )
        return factors[0]
    if along not in factors:
        raise MultilevelError(
            f"along={along!r} is neither 'n_groups', 'group_size' nor a grouping factor of the "
            f"model ({', '.join(factors)})"
        )
    return along


def _group_order(data: pd.DataFrame, factor: str, covariates: list[str]) -> list[object]:
    """Levels of ``factor`` in an order that cycles through the level-2 patterns."""
    levels = list(pd.unique(data[factor]))
    constant = [
        c
        for c in covariates
        if c != factor
        and c in data.columns
        and bool((data.groupby(factor, sort=False)[c].nunique(dropna=False) <= 1).all())
    ]
    if not constant:
        return levels
    pattern = data.groupby(factor, sort=False)[constant].first()
    keys = [tuple(row) for row in pattern.loc[levels].itertuples(index=False)]
    classes: dict[tuple, list[object]] = {}
    for lev, key in zip(levels, keys, strict=True):
        classes.setdefault(key, []).append(lev)
    queues = list(classes.values())
    order: list[object] = []
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop(0))
    return order


def _nested_in(data: pd.DataFrame, factor: str, others: list[str]) -> list[str]:
    """The factors whose every level lies within one level of ``factor``."""
    out = []
    for f in others:
        if f != factor and bool((data.groupby(f, sort=False)[factor].nunique() <= 1).all()):
            out.append(f)
    return out


def resize_groups(data: pd.DataFrame, design: ModelDesign, factor: str, count: int) -> pd.DataFrame:
    """``data`` with ``count`` levels of ``factor`` (first ones in pattern order, or copies)."""
    if count < 2:
        raise MultilevelError(f"at least 2 groups of {factor!r} are needed, got {count}")
    covariates = [c for c in data.columns if c != design.formula.response]
    order = _group_order(data, factor, covariates)
    factors = list(dict.fromkeys(f for t in design.terms for f in t.factors))
    nested = _nested_in(data, factor, factors)
    rows_of = data.groupby(factor, sort=False).indices
    parts = []
    for i in range(count):
        source = order[i % len(order)]
        part = data.iloc[rows_of[source]]
        copy = i // len(order)
        if copy:
            part = part.copy()
            for f in [factor, *nested]:
                part[f] = part[f].astype(str) + f"~{copy}"
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    if any(i >= len(order) for i in range(count)):
        for f in [factor, *nested]:
            out[f] = out[f].astype(str)
    return out


def resize_within(data: pd.DataFrame, factor: str, size: int) -> pd.DataFrame:
    """``data`` with ``size`` rows in every level of ``factor`` (first rows, or cycled)."""
    if size < 1:
        raise MultilevelError(f"group_size must be at least 1, got {size}")
    rows_of = data.groupby(factor, sort=False).indices
    index = np.concatenate([rows[np.arange(size) % rows.size] for rows in rows_of.values()])
    return data.iloc[index].reset_index(drop=True)
