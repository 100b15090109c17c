"""Centering predictors, and group means as level-2 predictors (contextual effects).

Group-mean centering replaces x_ij by x_ij - xbar_j and adds ``x_mean`` = xbar_j, so that the
level-1 slope is the pure within-group effect and the slope of ``x_mean`` the between-group
effect (their difference is the contextual effect; Raudenbush & Bryk 2002, ch. 5). Grand-mean
centering subtracts the overall mean, which changes only the meaning of the intercept. What was
done is recorded in ``DataFrame.attrs["centering"]`` so that level equations can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from multilevel.errors import DataError


def center(
    data: Any,
    columns: str | Sequence[str],
    group: str | None = None,
    how: str = "group",
    suffix: str = "_mean",
    centred_suffix: str | None = None,
) -> pd.DataFrame:
    """A new DataFrame with ``columns`` centred; ``how`` is "group" (needs ``group``) or "grand".

    Group means are taken over the rows where the column is not missing (NaN stays NaN). With
    ``centred_suffix`` (e.g. "_cwc") the centred values go to a new column ``<x><suffix>`` and
    ``x`` keeps its raw values, so that a table says which version of ``x`` a model used.
    """
    from multilevel.design.frame import load_data

    df = load_data(data).copy()
    cols = [columns] if isinstance(columns, str) else list(columns)
    if how not in ("group", "grand"):
        raise DataError(f"how must be 'group' or 'grand', not {how!r}")
    if how == "group" and group is None:
        raise DataError(
            "group-mean centering needs the grouping column: center(..., group='school')"
        )
    for c in [*cols, *([group] if how == "group" else [])]:
        if c not in df.columns:
            raise DataError(f"column {c!r} is not in the data")
    if how == "group" and df[group].isna().any():
        raise DataError(f"the grouping column {group!r} has missing values")
    records = list(df.attrs.get("centering", ()))
    for c in cols:
        if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]):
            raise DataError(f"cannot center {c!r}: it is not numeric (dtype {df[c].dtype})")
        x = df[c].astype(float)
        if how == "group":
            mean = x.groupby(df[group]).transform("mean")
            name = f"{c}{suffix}"
            out = _target(df, c, centred_suffix, cols)
            if name in df.columns and name not in cols:
                raise DataError(f"the data already has a column {name!r}; pass another suffix")
            df[out] = x - mean
            df[name] = mean
            note = (
                f"{_is(out, c)} group-mean centred within {group} ({c} - mean of {c} in the "
                f"{group}); the {group} mean is the level-2 predictor {name}"
            )
            records.append(
                {"column": out, "how": "group", "group": group, "mean_column": name, "note": note}
            )
            records.append(
                {
                    "column": name,
                    "how": "group-mean",
                    "group": group,
                    "of": c,
                    "note": f"{name} is the {group} mean of {c} (before centering)",
                }
            )
        else:
            m = float(x.mean())
            out = _target(df, c, centred_suffix, cols)
            df[out] = x - m
            records.append(
                {
                    "column": out,
                    "how": "grand",
                    "mean": m,
                    "note": f"{_is(out, c)} grand-mean centred ({c} - {m:.6g})",
                }
            )
    df.attrs["centering"] = records
    return df


def _target(df: pd.DataFrame, column: str, centred_suffix: str | None, cols: list[str]) -> str:
    """The column that receives the centred values: ``column`` itself or a new suffixed one."""
    if centred_suffix is None:
        return column
    out = f"{column}{centred_suffix}"
    if out in df.columns and out not in cols:
        raise DataError(f"the data already has a column {out!r}; it would be overwritten")
    return out


def _is(out: str, column: str) -> str:
    """'x is' or 'x_cwc is x': the start of a centering note."""
    return f"{column} is" if out == column else f"{out} is {column}"
