"""Sums by group of data columns and their products, in one blocked pass over the rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def group_sums(
    codes: np.ndarray,
    G: int,
    keys: list[tuple[str, ...]],
    value: Callable[[str], np.ndarray],
) -> dict[tuple[str, ...], np.ndarray]:
    """For each key (a product of data columns; ``()`` counts rows) its sum in every group.

    One pass over the rows in blocks: each block's codes are made indices once and every sum is
    accumulated from them, with products formed in a small buffer. Nothing n-long is allocated
    (on large data, first touching fresh memory costs more than the arithmetic), and ``codes``
    may be any integer type (e.g. int16 from a categorical column).
    """
    n = codes.shape[0]
    rows = max(1, min(n, max(1 << 16, 4 * G)))
    index = np.empty(rows, np.intp)
    product = np.empty(rows)
    out = {key: np.zeros(G) for key in keys}
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        idx = index[: stop - start]
        np.copyto(idx, codes[start:stop], casting="same_kind")
        for key, total in out.items():
            if not key:
                total += np.bincount(idx, minlength=G)
                continue
            w = value(key[0])[start:stop]
            if len(key) > 1:
                w = np.multiply(w, value(key[1])[start:stop], out=product[: stop - start])
                for f in key[2:]:
                    np.multiply(w, value(f)[start:stop], out=w)
            total += np.bincount(idx, weights=w, minlength=G)
    return out
