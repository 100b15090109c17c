"""One type per column, decided once for the whole source, and the checks that keep it honest.

A column is a number, text, a logical or a category. Group ids are text unless the source
declares them numeric (an integer Parquet or pandas column), so ``007`` and ``7`` stay two
groups. Missing-value codes are declared (``na_values``) or caught: a column of numbers with a few
tokens such as ``.`` (SPSS/Stata exports) stops with a message naming the tokens, instead of
turning into a factor with hundreds of levels; an object column of numbers and ``None`` is numeric
with missing values. Every check runs on the column's distinct values (``pd.factorize``: one hash
pass), so it costs little on large data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from multilevel.design.values import (  # noqa: F401 - kinds re-exported
    CATEGORY,
    LOGICAL,
    NUMBER,
    TEXT,
    kind_of,
    r_factor_from_codes,
)
from multilevel.errors import DataError

#: values that mark a missing value in exports; in a column of numbers or of group ids they are
#: refused until declared with ``na_values``
NA_LIKE = frozenset(
    {"", ".", "-", "--", "?", "*", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None"}
    | {"none", "missing", "#N/A", "#NA", "#NULL!", "NIL", "nil"}
)


def hash_codes(col: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize`` (one hash pass; -1 for missing); unhashable values (lists) by their
    text."""
    try:
        return pd.factorize(col, use_na_sentinel=True)
    except TypeError:
        return pd.factorize(col.astype(str).where(col.notna()), use_na_sentinel=True)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)


def _shown(tokens: Sequence[str], limit: int = 5) -> str:
    out = ", ".join(repr(t) for t in tokens[:limit])
    return out + (f" and {len(tokens) - limit} more" if len(tokens) > limit else "")


def na_option(tokens: Sequence[str]) -> str:
    """How to declare the tokens: the keyword of ``multilevel.fit`` and the CLI flag."""
    cli = " ".join(f"--na {t!r}" if (not t or " " in t) else f"--na {t}" for t in tokens[:5])
    return f"na_values={list(tokens[:5])!r} (command line: {cli})"


def token_error(name: str, tokens: Sequence[str], rows: int, where: str = "") -> DataError:
    return DataError(
        f"column {name!r} holds numbers and the non-numeric value(s) {_shown(tokens)} in {rows} "
        f"row(s){where}; if they mark missing values, declare them: {na_option(tokens)}"
    )


def apply_na_values(col: pd.Series, na_values: Sequence[Any]) -> pd.Series:
    """The column with the declared missing-value codes set to missing (text or numeric codes)."""
    if not na_values:
        return col
    if isinstance(col.dtype, pd.CategoricalDtype):
        drop = [c for c in col.cat.categories if str(c) in {str(t) for t in na_values}]
        return col.cat.remove_categories(drop) if drop else col
    if pd.api.types.is_bool_dtype(col):
        return col
    if pd.api.types.is_numeric_dtype(col):
        numbers = pd.to_numeric(pd.Series([str(t) for t in na_values]), errors="coerce").dropna()
        if numbers.empty:
            return col
        hit = col.isin(numbers.to_numpy())
        return col.where(~hit) if hit.any() else col
    tokens = {str(t) for t in na_values} | {t for t in na_values if not isinstance(t, str)}
    hit = col.isin(list(tokens))
    return col.where(~hit) if hit.any() else col


def settle(
    col: pd.Series,
    name: str,
    *,
    ids: bool = False,
    expected: str | None = None,
    where: str = "",
    as_factor: bool = False,
) -> pd.Series:
    """The column with its final type: numbers held as objects become float64, a column expected
    to be numbers (a later chunk of a CSV) is converted or refused naming its tokens, text with
    missing-value codes is refused. ``ids``: a grouping column (text is kept as text);
    ``as_factor``: text comes back as a Categorical with levels in R's order (one hash pass)."""
    kind = kind_of(col)
    if kind != TEXT:
        if expected == TEXT and kind == NUMBER and not ids:
            return col.astype(str).where(col.notna())
        return col
    codes, uniques = hash_codes(col)
    values = uniques.tolist()  # not list(): iterating an Arrow array is slow
    if values and all(_is_number(v) for v in values):  # numbers with None / NaN: numeric
        return pd.to_numeric(col.astype(object), errors="coerce").astype(float)
    labels = [str(v) for v in values]
    counts = np.bincount(codes[codes >= 0], minlength=len(labels)) if labels else np.zeros(0)
    if ids:
        bad = [lab for lab in labels if lab.strip() in NA_LIKE]
        if bad:
            rows = int(sum(counts[labels.index(b)] for b in bad))
            raise DataError(
                f"grouping column {name!r} holds {_shown(bad)} in {rows} row(s){where}, which "
                f"look like missing-value codes, not groups; declare them: {na_option(bad)}"
            )
    else:
        parsed = pd.to_numeric(pd.Series(labels, dtype=object), errors="coerce").notna().to_numpy()
        tokens = [lab for lab, ok in zip(labels, parsed, strict=True) if not ok]
        n_tok = int(counts[~parsed].sum()) if labels else 0
        if expected == NUMBER:
            if tokens:
                raise token_error(name, tokens, n_tok, where)
            return pd.to_numeric(col.astype(object), errors="coerce").astype(float)
        n_num = int(counts[parsed].sum()) if labels else 0
        all_codes = all(t.strip() in NA_LIKE for t in tokens)
        few = len(tokens) <= 3 and n_num >= 9 * n_tok
        if tokens and n_num and (all_codes or few):
            raise token_error(name, tokens, n_tok, where)
    if as_factor:
        return pd.Series(r_factor_from_codes(codes, labels, ids=ids), index=col.index, name=name)
    return col


def settle_frame(
    frame: pd.DataFrame,
    *,
    ids: Sequence[str] = (),
    na_values: Sequence[Any] = (),
    expected: dict[str, str] | None = None,
    where: str = "",
    as_factor: bool = False,
    plain: Sequence[str] = (),
) -> pd.DataFrame:
    """:func:`apply_na_values` and :func:`settle` on every column (a new frame if any changed);
    columns in ``plain`` (e.g. the outcome) are not made factors."""
    out = {}
    for name in frame.columns:
        col = apply_na_values(frame[name], na_values)
        new = settle(
            col,
            str(name),
            ids=name in ids,
            expected=(expected or {}).get(name),
            where=where,
            as_factor=as_factor and name not in plain,
        )
        if new is not frame[name]:
            out[name] = new
    return frame.assign(**out) if out else frame
