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

from multilevel.result.fit import LmmFit
from multilevel.sources.chunks import as_source, iter_chunks
from multilevel.sources.encoding import Encoding
from multilevel.sources.stats import Totals


@dataclass(frozen=True)
class ChunkReader:
    """The encoding of a chunked fit and what it learned (kept columns, group values)."""

    encoding: Encoding
    totals: Totals

    def predict_chunks(self, fit: LmmFit, source: Any, chunk_rows: int) -> Iterator[pd.DataFrame]:
        """Per chunk a DataFrame with ``fitted`` (X beta + Z b) and ``residual``, indexed like
        the chunk; NaN for rows with a missing value, b = 0 for unseen groups."""
        enc, tot = self.encoding, self.totals
        b = np.hstack([fit.modes[t.name].b for t in enc.terms])
        index = pd.Index(tot.group_values)
        for chunk in iter_chunks(as_source(source), list(enc.columns), chunk_rows):
            fitted = np.full(len(chunk), np.nan)
            keep = ~chunk.isna().to_numpy().any(axis=1)
            if keep.any():
                rows = enc.prepare(chunk.loc[keep])
                Xy, zcols = enc.matrices(rows, np.zeros(len(rows)))
                Z = np.column_stack([col for _, col in zcols])
                f = Xy[:, list(tot.keep)] @ fit.beta
                pos = index.get_indexer(rows[enc.group])
                seen = pos >= 0
                f[seen] += np.einsum("ij,ij->i", Z[seen], b[pos[seen]])
                fitted[keep] = f
            y = pd.to_numeric(chunk[enc.formula.response], errors="coerce").to_numpy(dtype=float)
            yield pd.DataFrame({"fitted": fitted, "residual": y - fitted}, index=chunk.index)
