"""One ``(expr | group)`` term: group codes, the raw model matrix of its random effects, and the
relative covariance factor Lambda_theta (q x q lower triangular) it contributes.

For a term with q random effects per group, Var(b_j) = sigma^2 Lambda Lambda'; theta lists the
lower triangle of Lambda column by column, as lme4's ``getME(m, "theta")``; its diagonal elements
are bounded below by 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from formulaic import ModelSpec

from multilevel.design.columns import ModelColumns
from multilevel.design.fixed import _as_float_frame, encode_columns, model_matrix
from multilevel.design.groups import group_codes, level_label  # noqa: F401 - re-exported
from multilevel.design.layout import TermLayout, lme4_order, numbered
from multilevel.errors import DataError
from multilevel.formula.parse import RandomSpec


@dataclass(frozen=True)
class RandomTerm(TermLayout):
    """A random-effects term: ``b_j ~ N(0, sigma^2 Lambda Lambda')`` for each level j."""

    index: np.ndarray  # (n,) level index of each row, in a compact integer type
    levels: tuple[str, ...]
    columns: ModelColumns  # the (n, q) raw random-effects model matrix, as its recipe
    spec: ModelSpec

    @cached_property
    def codes(self) -> np.ndarray:
        """(n,) level index of each row as int64 (safe for arithmetic such as codes * q)."""
        return self.index.astype(np.int64)

    @property
    def Z(self) -> np.ndarray:
        """The (n, q) raw random-effects model matrix."""
        return self.columns.array

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    def matrix_for(self, data: pd.DataFrame) -> np.ndarray:
        """Raw Z columns of this term for new data."""
        try:
            mm = model_matrix(self.spec, data)
        except Exception as exc:  # formulaic raises several types for unusable new data
            raise DataError(
                f"cannot build random effects '{self.source}' for new data: {exc}"
            ) from None
        values, _ = _as_float_frame(mm)
        return values


def random_term(spec: RandomSpec, data: pd.DataFrame) -> RandomTerm:
    """Build one random term from its spec and the model frame."""
    Z, raw, mspec = encode_columns(spec.expr, data, f"random-effects matrix of '{spec.source}'")
    term = TermLayout.of(spec, raw)
    codes, levels = group_codes(data, spec.factors)
    return RandomTerm(**vars(term), index=codes, levels=levels, columns=Z, spec=mspec)


def order_terms(terms: list[RandomTerm]) -> list[RandomTerm]:
    """lme4's order: by decreasing number of levels (stable), then unique names (g, g.1, ...)."""
    return numbered([terms[k] for k in lme4_order([t.n_levels for t in terms])])
