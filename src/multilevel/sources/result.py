"""The result of a fit from sufficient statistics: the numbers of an ``LmmFit``, without the rows.

The tables, ``summary()`` and ``to_dict()`` are those of ``LmmFit`` (shared code, same fields).
Fitted values and residuals need the rows again: :meth:`LargeFit.predict_chunks` streams them;
Kenward-Roger needs them too and is not offered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from multilevel.objective.modes import TermModes
from multilevel.optimize.optimizer import OptSummary
from multilevel.result.fit import VarianceComponent
from multilevel.result.tables import FitTables
from multilevel.sources.encoding import Encoding
from multilevel.sources.stats import Totals


@dataclass(frozen=True, eq=False)
class LargeFit(FitTables):
    """A one-grouping-factor linear mixed model fitted from chunked data (REML or ML)."""

    formula: str
    reml: bool
    fixed_names: tuple[str, ...]
    beta: np.ndarray
    vcov_beta: np.ndarray
    df_satterthwaite: np.ndarray
    theta: np.ndarray
    theta_names: tuple[str, ...]
    sigma: float
    random_effects: tuple[VarianceComponent, ...]
    loglik: float
    optimization: OptSummary
    is_singular: bool
    n_obs: int
    n_groups: dict[str, int]
    n_dropped: int
    dropped_by: dict[str, int]
    group_levels: tuple[str, ...]
    modes: dict[str, TermModes] = field(repr=False)
    warnings: tuple[str, ...] = ()
    encoding: Encoding | None = field(default=None, repr=False)
    totals: Totals | None = field(default=None, repr=False)
    timings: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def response(self) -> str:
        assert self.encoding is not None
        return self.encoding.formula.response

    def group_sizes(self) -> dict[str, np.ndarray]:
        assert self.encoding is not None and self.totals is not None
        return {self.encoding.group: self.totals.group_sizes}

    def term_levels(self) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
        assert self.encoding is not None
        return [
            (t.name, t.grouping_factor, tuple(t.term_names), self.group_levels)
            for t in self.encoding.terms
        ]

    def to_dict(self, kenward_roger: bool = False) -> dict[str, Any]:
        """The fields of ``LmmFit.to_dict()`` (Satterthwaite inference only)."""
        from multilevel.result.serialize import fit_to_dict

        if kenward_roger:
            raise ValueError("Kenward-Roger needs the rows: use multilevel.fit")
        return fit_to_dict(self)  # type: ignore[arg-type]

    def predict_chunks(self, source: Any, chunk_rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
        """Second pass: per chunk a DataFrame with ``fitted`` (X beta + Z b) and ``residual``,
        indexed like the chunk; NaN for rows with a missing value, b = 0 for unseen groups."""
        from multilevel.sources.chunks import as_source, iter_chunks

        enc, tot = self.encoding, self.totals
        assert enc is not None and tot is not None
        b = np.hstack([self.modes[t.name].b for t in enc.terms])
        index = pd.Index(tot.group_values)
        for chunk in iter_chunks(as_source(source), list(enc.columns), chunk_rows):
            fitted = np.full(len(chunk), np.nan)
            keep = ~chunk.isna().to_numpy().any(axis=1)
            if keep.any():
                rows = enc.prepare(chunk.loc[keep])
                Xy, zcols = enc.matrices(rows, np.zeros(len(rows)))
                Z = np.column_stack([col for _, col in zcols])
                f = Xy[:, list(tot.keep)] @ self.beta
                pos = index.get_indexer(rows[enc.group])
                seen = pos >= 0
                f[seen] += np.einsum("ij,ij->i", Z[seen], b[pos[seen]])
                fitted[keep] = f
            y = pd.to_numeric(chunk[enc.formula.response], errors="coerce").to_numpy(dtype=float)
            yield pd.DataFrame({"fitted": fitted, "residual": y - fitted}, index=chunk.index)
