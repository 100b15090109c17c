"""R's factor rules for columns read in chunks: which columns are factors, their labels, and
the order of their levels (as R's ``factor`` and the in-memory model frame give them)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from multilevel.design.frame import r_collation_key


def factor_kind(col: pd.Series) -> str | None:
    """How a column becomes a factor: 'category', 'bool', 'string', or None (numeric)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(col):
        return "bool"
    if pd.api.types.is_string_dtype(col) or col.dtype == object:
        return "string"
    return None


def factor_values(col: pd.Series, kind: str) -> np.ndarray:
    """The labels R's model frame gives a column of this kind (complete rows only)."""
    if kind == "string":
        return col.astype(str).to_numpy(dtype=object)
    if kind == "bool":
        return np.where(col.to_numpy(dtype=bool), "TRUE", "FALSE").astype(object)
    return col.to_numpy(dtype=object)


def order_levels(values: list[Any], kind: str, categories: list[Any] | None = None) -> list[Any]:
    """Levels as R's factor orders them: FALSE/TRUE for logicals (both, always), R's collation
    for text, the categories' order for a categorical, numeric order otherwise."""
    values = list(dict.fromkeys(values))
    if kind == "bool":
        return ["FALSE", "TRUE"]
    if kind == "string":
        return sorted({str(v) for v in values}, key=r_collation_key)
    if kind == "category":
        return ordered_levels(values, categories)
    return sorted_levels(values)


def ordered_levels(values: list[Any], categories: list[Any] | None) -> list[Any]:
    """The levels R's ``factor`` gives: a categorical column's order (anything else seen after,
    as text), else sorted."""
    if categories is None:
        return sorted_levels(values)
    pos = {v: i for i, v in enumerate(categories)}
    return sorted(values, key=lambda v: (pos.get(v, len(pos)), str(v)))


def sorted_levels(values: list[Any]) -> list[Any]:
    """Sorted as pandas sorts a column's unique values (numbers numerically, strings as text)."""
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)
