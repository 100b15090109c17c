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


def _char_class(c: str) -> int:
    """ICU's primary groups: spaces and punctuation, then symbols, then digits, then letters."""
    if c.isdigit():
        return 2
    if c.isalpha():
        return 3
    return 1 if unicodedata.category(c)[0] == "S" else 0


def r_collation_key(label: str) -> tuple:
    """Sort key close to R's (ICU) collation of factor levels: punctuation before digits before
    letters, letters compared without case and accents first ("ete" < "\u00e9t\u00e9" < "f"),
    then accents, then lower case before upper case ("control" < "Drug A"; "a" < "A")."""
    nfd = unicodedata.normalize("NFD", label.casefold())
    base = "".join(c for c in nfd if not unicodedata.combining(c))
    return tuple((_char_class(c), c) for c in base), nfd, label.swapcase()


def r_level_order(labels: Sequence[str], ids: bool = False) -> list[int]:
    """Positions of ``labels`` in R's level order: R's collation; for group ids (``ids``) that are
    all integers written plainly (no leading zeros), numeric order, as R orders the integer column
    ``read.csv`` makes of them."""
    if ids and labels and all(CANONICAL_INT.match(s) for s in labels):
        values = [int(s) for s in labels]
        return sorted(range(len(labels)), key=values.__getitem__)
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


def missing_column_error(name: str, columns: list[str], where: str) -> DataError:
    """The error for a column the model needs but the data lack, with the closest names."""
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
    lower = [c for c in columns if c.lower() == name.lower() and c != name]
    hint = lower or close
    suggestion = f"; did you mean {', '.join(repr(c) for c in hint)}?" if hint else "."
    shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
    return DataError(f"column {name!r} ({where}) is not in the data{suggestion} Columns: {shown}")
