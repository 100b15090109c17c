"""The clustered data every comparison estimator sees: y, X (lme4 names) and cluster codes.

Built from a :class:`multilevel.design.ModelDesign`, so the rows, the columns and their names are
exactly those of the multilevel fit (same missing-value handling, same aliased-column drops).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from multilevel.design import ModelDesign, build_design
from multilevel.errors import DataError, FormulaError
from multilevel.formula import parse_formula


@dataclass(frozen=True)
class ClusteredData:
    """``y`` (n,), ``X`` (n, k) named ``names``, ``cluster`` codes 0..G-1 of ``cluster_name``."""

    y: np.ndarray
    X: np.ndarray
    names: tuple[str, ...]
    cluster: np.ndarray
    cluster_name: str
    design: ModelDesign | None = None

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def k(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max()) + 1 if self.n else 0

    @property
    def cluster_sizes(self) -> np.ndarray:
        return np.bincount(self.cluster, minlength=self.n_clusters)

    def within(self, A: np.ndarray) -> np.ndarray:
        """Cluster-demeaned copy of ``A`` (rows by cluster): the within transformation."""
        A2 = A.reshape(self.n, -1)
        sums = np.zeros((self.n_clusters, A2.shape[1]))
        np.add.at(sums, self.cluster, A2)
        means = sums / self.cluster_sizes[:, None]
        return (A2 - means[self.cluster]).reshape(A.shape)

    @classmethod
    def from_design(cls, design: ModelDesign) -> ClusteredData:
        """The first grouping factor is the cluster; all random terms must share it."""
        if not design.is_nested_single:
            factors = sorted({t.grouping_factor for t in design.terms})
            raise FormulaError(
                "comparison estimators need one clustering factor, but the formula has random "
                f"terms for {', '.join(factors)}; keep one, e.g. (1 | {factors[0]})"
            )
        t = design.terms[0]
        return cls(
            y=design.y,
            X=design.X,
            names=tuple(design.fixed.names),
            cluster=np.asarray(t.codes, dtype=np.intp),
            cluster_name=t.grouping_factor,
            design=design,
        )


def clustered_data(data: Any, formula: str, group: str | None = None) -> ClusteredData:
    """Formula (+ optional ``group``) and data -> :class:`ClusteredData`.

    The formula is an lme4 formula such as ``y ~ x + (1 | g)``; a formula without a random term
    is accepted when ``group`` names the cluster column (``(1 | group)`` is then added).
    """
    spec = parse_formula(formula)
    if not spec.random:
        if group is None:
            raise FormulaError(
                f"'{formula}' has no random term and no group was given; write e.g. "
                "'y ~ x + (1 | school)' or pass group='school'"
            )
        formula = f"{formula} + (1 | {group})"
    elif group is not None and group not in {r.group_name for r in spec.random}:
        raise DataError(
            f"group={group!r} is not the grouping factor of the formula's random term "
            f"({', '.join(r.group_name for r in spec.random)})"
        )
    return ClusteredData.from_design(build_design(formula, data))
