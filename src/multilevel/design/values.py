"""R's rules for column values: which columns are numbers, what is missing, and how text becomes a
factor (levels in R's collation order), shared by the in-memory frame and every chunked source.

A leaf module (numpy and pandas only), so readers and the model frame can both use it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd

from multilevel.errors import DataError

CANONICAL_INT = re.compile(r"^-?(0|[1-9][0-9]{0,17})$")
#: a decimal number as R writes it (no leading zeros, no trailing zeros after the point)
CANONICAL_DECIMAL = re.compile(r"^-?(0|[1-9][0-9]{0,14})\.[0-9]{0,14}[1-9]$")
#: the kinds of column: one per column for the whole source (see multilevel.read.schema)
NUMBER, TEXT, LOGICAL, CATEGORY = "number", "text", "logical", "category"
#: R's levels of a logical column made a factor
LOGICAL_LEVELS = ("FALSE", "TRUE")


def kind_of(col: pd.Series) -> str:
    """The kind of a column from its dtype (object columns count as text until settled)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return CATEGORY
    if pd.api.types.is_bool_dtype(col):
        return LOGICAL
    if pd.api.types.is_numeric_dtype(col):
        return NUMBER
    return TEXT


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


#: ICU's root order of ASCII spaces, punctuation and symbols (R: ``sort`` of them), which is
#: not the order of their code points
ASCII_PUNCTUATION = {c: i for i, c in enumerate(" _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$")}


def _char_class(c: str) -> tuple[int, int]:
    """ICU's primary groups: spaces and punctuation, then symbols, then digits, then letters;
    within the first two, ICU's order of the ASCII ones, then the others by code point."""
    if c.isdigit():
        return 2, 0
    if c.isalpha():
        return 3, 0
    rank = ASCII_PUNCTUATION.get(c, len(ASCII_PUNCTUATION) + ord(c))
    return (1 if unicodedata.category(c)[0] == "S" else 0), rank


def r_collation_key(label: str) -> tuple:
    """Sort key close to R's (ICU) collation of factor levels: punctuation before digits before
    letters, letters compared without case and accents first ("ete" < "\u00e9t\u00e9" < "f"),
    then accents, then lower case before upper case ("control" < "Drug A"; "a" < "A")."""
    nfd = unicodedata.normalize("NFD", label.casefold())
    base = "".join(c for c in nfd if not unicodedata.combining(c))
    return tuple((*_char_class(c), c) for c in base), nfd, label.swapcase()


def r_level_order(labels: Sequence[str], ids: bool = False) -> list[int]:
    """Positions of ``labels`` in R's level order: R's collation; for group ids (``ids``) that are
    all numbers written plainly, as R writes them (``-3``, ``0.25``; no leading zeros, no
    trailing ones after a point), numeric order, as R orders the numeric column ``read.csv``
    makes of them."""
    if ids and labels and all(CANONICAL_INT.match(s) for s in labels):
        values = [int(s) for s in labels]
        return sorted(range(len(labels)), key=values.__getitem__)
    if ids and labels and all(CANONICAL_INT.match(s) or CANONICAL_DECIMAL.match(s) for s in labels):
        numbers = [float(s) for s in labels]
        return sorted(range(len(labels)), key=numbers.__getitem__)
    if all(s.isascii() and s.isalnum() for s in labels):  # common: ASCII order is ICU's there
        fast = [(s.casefold(), s.swapcase()) for s in labels]
        return sorted(range(len(labels)), key=fast.__getitem__)
    keys = [r_collation_key(s) for s in labels]
    return sorted(range(len(labels)), key=keys.__getitem__)


def r_factor_from_codes(
    codes: np.ndarray, labels: Sequence[str], ids: bool = False
) -> pd.Categorical:
    """A Categorical from hash codes (-1 for missing) and their text labels: the few labels are
    sorted (R's order) and the codes remapped, so a million rows cost one hash pass, not a sort.
    Labels equal as text (e.g. 1 and "1" in an object column) become one level."""
    labels = list(labels)
    if len(set(labels)) != len(labels):  # merge labels that print the same
        merged, uniq = pd.factorize(np.array(labels, dtype=object))
        codes = np.where(codes >= 0, merged[np.maximum(codes, 0)], -1)
        labels = [str(u) for u in uniq]
    order = r_level_order(labels, ids)
    remap = np.empty(len(labels) + 1, dtype=np.int64)
    remap[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    remap[-1] = -1  # code -1 (missing) indexes the last entry
    return pd.Categorical.from_codes(remap[codes], categories=[labels[i] for i in order])


def factor_labels(col: pd.Series) -> np.ndarray:
    """The level label of each value when the column is a factor, as R's model frame gives it:
    FALSE/TRUE for logicals, the text of text, the value itself for categories and numbers
    (a number inside ``factor()``). Complete rows only."""
    kind = kind_of(col)
    if kind == LOGICAL:
        return np.where(col.to_numpy(dtype=bool), "TRUE", "FALSE").astype(object)
    if kind == TEXT:
        return col.astype(str).to_numpy(dtype=object)
    return col.to_numpy(dtype=object)


def r_levels(
    labels: Sequence[object], kind: str, categories: Sequence[object] | None = None
) -> list:
    """The levels R's ``factor`` gives a column of this kind whose distinct labels are
    ``labels``: FALSE, TRUE for logicals (both, always), R's collation for text, a categorical's
    own order (labels outside it after, as text), numeric order for numbers."""
    labels = list(dict.fromkeys(labels))
    if kind == LOGICAL:
        return list(LOGICAL_LEVELS)
    if kind == TEXT:
        text = list(dict.fromkeys(str(v) for v in labels))
        return [text[i] for i in r_level_order(text)]
    if kind == CATEGORY and categories is not None:
        pos = {v: i for i, v in enumerate(categories)}
        return sorted(labels, key=lambda v: (pos.get(v, len(pos)), str(v)))
    try:
        return sorted(labels)
    except TypeError:
        return sorted(labels, key=str)


def frozen_factor(col: pd.Series, levels: Sequence[object], name: str) -> pd.Categorical:
    """The column as a factor with the given levels (learned once, e.g. for every chunk of a
    source); a value outside them is a DataError naming it."""
    if kind_of(col) == LOGICAL:  # two labels: place them, then index (no hashing of n rows)
        is_true = col.to_numpy(dtype=bool).astype(np.intp)
        codes = pd.Index(levels).get_indexer(list(LOGICAL_LEVELS))[is_true]
        labels = np.array(LOGICAL_LEVELS, dtype=object)[is_true]
    else:
        labels = factor_labels(col)
        codes = pd.Index(levels).get_indexer(labels)
    if (codes < 0).any():
        bad = labels[codes < 0][0]
        shown = list(levels[:10])
        raise DataError(
            f"column {name!r} has value {bad!r} not among its levels "
            f"{shown}{'...' if len(levels) > 10 else ''} (declared or found in the first pass "
            "over the data)"
        )
    return pd.Categorical.from_codes(codes, categories=list(levels))


def missing_column_error(name: str, columns: list[str], where: str) -> DataError:
    """The error for a column the model needs but the data lack, with the closest names."""
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
    lower = [c for c in columns if c.lower() == name.lower() and c != name]
    hint = lower or close
    suggestion = f"; did you mean {', '.join(repr(c) for c in hint)}?" if hint else "."
    shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
    return DataError(f"column {name!r} ({where}) is not in the data{suggestion} Columns: {shown}")
