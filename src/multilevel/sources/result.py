"""The second pass of a fit from chunks: fitted values and residuals, chunk by chunk.

A fit from chunks is the one result class (:class:`~multilevel.result.fit.LmmFit`) without
its rows; :class:`ChunkReader` is what it keeps to read a source again with the same encoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from multilevel.design.frame import group_columns
from multilevel.result.fit import LmmFit
from multilevel.sources.chunks import as_source, complete_rows, iter_chunks
from multilevel.sources.encoding import Encoding
from multilevel.sources.stats import Totals


@dataclass(frozen=True)
class ChunkReader:
    """The encoding of a chunked fit and what it learned (kept columns, group values)."""

    encoding: Encoding
    totals: Totals

    def predict_chunks(self, fit: LmmFit, source: Any, chunk_rows: int) -> Iterator[pd.DataFrame]:
        """Per chunk a DataFrame with ``fitted`` (X beta + Z b) and ``residual``, indexed like
        the chunk; NaN for rows with a missing value, b = 0 for unseen levels."""
        enc, tot = self.encoding, self.totals
        # ids as text and missing-value codes, as the fit read them
        source = as_source(source, ids=group_columns(enc.formula), na_values=enc.na_values)
        for chunk in iter_chunks(source, list(enc.columns), chunk_rows):
            fitted = np.full(len(chunk), np.nan)
            keep = complete_rows(chunk)
            if keep.any():
                rows = enc.prepare(chunk.loc[keep])
                Xy, zterms = enc.matrices(rows, np.zeros(len(rows)))
                _, off = enc.weights_offset(rows)
                f = Xy[:, list(tot.keep)] @ fit.beta + (0.0 if off is None else off)
                for gf, values in zip(enc.groups, tot.group_values, strict=True):
                    pos = _positions(rows, gf.columns, values)
                    seen = pos >= 0
                    for k in gf.terms:
                        Z = np.column_stack(
                            [np.ones(len(rows)) if key is None else v for key, v in zterms[k]]
                        )
                        b = fit.modes[enc.terms[k].name].b
                        f[seen] += np.einsum("ij,ij->i", Z[seen], b[pos[seen]])
                fitted[keep] = f
            y = pd.to_numeric(chunk[enc.formula.response], errors="coerce").to_numpy(dtype=float)
            yield pd.DataFrame({"fitted": fitted, "residual": y - fitted}, index=chunk.index)


def _positions(rows: pd.DataFrame, columns: tuple[str, ...], values: np.ndarray) -> np.ndarray:
    """The level of each row among ``values`` (-1 for a level not seen in the fit)."""
    if len(columns) == 1:
        return pd.Index(values).get_indexer(rows[columns[0]])
    index = pd.MultiIndex.from_arrays([values[:, j] for j in range(values.shape[1])])
    return index.get_indexer(pd.MultiIndex.from_arrays([rows[c] for c in columns]))
