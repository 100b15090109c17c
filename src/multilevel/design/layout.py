"""What a fit needs to know about a model apart from its data: the random terms' layout of
theta, the fixed-effect names, the levels and sizes of the groups, and the rows used.

Built by the in-memory design (:mod:`multilevel.design.model`) and by the chunked statistics
(:mod:`multilevel.sources.stats`) alike; the fit (:mod:`multilevel.fitting`) and the result read
only this, so both paths share one optimizer, one set of checks and one result builder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TypeVar

import numpy as np

from multilevel.errors import DataError
from multilevel.formula.parse import FormulaSpec, RandomSpec
from multilevel.formula.rnames import lme4_name


@dataclass(frozen=True)
class TermLayout:
    """What a ``(expr | group)`` term is, apart from the data: its lme4 names, the formula of its
    columns, and the layout of theta in Lambda (lme4's order: the lower triangle of Lambda
    column by column).

    The one description of a random term: the in-memory :class:`RandomTerm` adds its rows to it,
    the chunked encoding encodes every chunk's Z from it. Made by :meth:`of`.
    """

    name: str  # lme4's group name: 'school', 'school.1', 'cask:batch'
    grouping_factor: str  # 'school', 'cask:batch'
    factors: tuple[str, ...]
    term_names: tuple[str, ...]  # '(Intercept)', 'cses'
    source: str
    expr: str  # the formula of Z's columns, as formulaic reads it: '1 + cses'
    raw_names: tuple[str, ...]  # formulaic's names of Z's columns: 'Intercept', 'cses'

    @classmethod
    def of(cls, spec: RandomSpec, raw_names: Sequence[str]) -> TermLayout:
        """The term of ``spec`` whose Z has the columns ``raw_names`` (formulaic's names)."""
        if not raw_names:
            raise DataError(f"random term '{spec.source}' has no random effects (did you write 0?)")
        return TermLayout(
            name=spec.group_name,
            grouping_factor=spec.group_name,
            factors=spec.factors,
            term_names=tuple(lme4_name(n) for n in raw_names),
            source=spec.source,
            expr=spec.expr,
            raw_names=tuple(raw_names),
        )

    @property
    def q(self) -> int:
        return len(self.term_names)

    @property
    def n_theta(self) -> int:
        return self.q * (self.q + 1) // 2

    @property
    def tril(self) -> tuple[np.ndarray, np.ndarray]:
        """Row and column indices of theta in Lambda, column by column (lme4 order)."""
        rows = [r for c in range(self.q) for r in range(c, self.q)]
        cols = [c for c in range(self.q) for _ in range(c, self.q)]
        return np.array(rows, int), np.array(cols, int)

    @property
    def theta_lower(self) -> np.ndarray:
        rows, cols = self.tril
        return np.where(rows == cols, 0.0, -np.inf)

    @property
    def theta_start(self) -> np.ndarray:
        rows, cols = self.tril
        return np.where(rows == cols, 1.0, 0.0)

    @property
    def theta_names(self) -> list[str]:
        # lme4 names theta by grouping factor, also for the blocks of (x || g)
        t, g = self.term_names, self.grouping_factor
        return [
            f"{g}.{t[r]}" if r == c else f"{g}.{t[r]}.{t[c]}"
            for r, c in zip(*self.tril, strict=True)
        ]

    def Lambda(self, theta: np.ndarray) -> np.ndarray:
        """The q x q lower-triangular relative covariance factor for this term's theta."""
        L = np.zeros((self.q, self.q))
        L[self.tril] = theta
        return L

    def layout(self) -> TermLayout:
        """This term without its data."""
        return TermLayout(**{f.name: getattr(self, f.name) for f in fields(TermLayout)})


T = TypeVar("T", bound=TermLayout)


def lme4_order(n_levels: Sequence[int]) -> list[int]:
    """lme4's order of terms (positions into ``n_levels``, each term's number of levels): by
    decreasing number of levels, stable (terms on one factor keep the order written)."""
    return sorted(range(len(n_levels)), key=lambda k: -n_levels[k])


def numbered(terms: Sequence[T]) -> list[T]:
    """The terms named as lme4 names them: the grouping factor, then g.1, g.2 for the second
    and third term on it."""
    seen: dict[str, int] = {}
    out = []
    for t in terms:
        k = seen.get(t.grouping_factor, 0)
        seen[t.grouping_factor] = k + 1
        out.append(replace(t, name=t.grouping_factor if k == 0 else f"{t.grouping_factor}.{k}"))
    return out


@dataclass(frozen=True)
class ModelLayout:
    """The model without its rows: terms in lme4's order, names, levels, and the rows used."""

    formula: FormulaSpec
    terms: tuple[TermLayout, ...]
    fixed_names: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]  # level labels of each term, by term name
    n_obs: int
    n_input: int
    dropped_by: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # about the data: rows dropped, aliased columns
    group_sizes: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def response(self) -> str:
        return self.formula.response

    @property
    def n_dropped(self) -> int:
        return self.n_input - self.n_obs

    @property
    def n_groups(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.terms:
            out.setdefault(t.grouping_factor, len(self.levels[t.name]))
        return out

    def theta_start(self) -> np.ndarray:
        """lme4's start: Lambda = I."""
        return np.concatenate([t.theta_start for t in self.terms])

    def theta_lower(self) -> np.ndarray:
        return np.concatenate([t.theta_lower for t in self.terms])

    def theta_names(self) -> list[str]:
        return [n for t in self.terms for n in t.theta_names]

    def split_theta(self, theta: np.ndarray) -> list[np.ndarray]:
        """theta -> one slice per term."""
        out, k = [], 0
        for t in self.terms:
            out.append(np.asarray(theta[k : k + t.n_theta]))
            k += t.n_theta
        return out

    def first_block(self) -> tuple[list[int], list[int]]:
        """Indices of the terms on the grouping factor of the first (most levels) term, and of
        the others (crossed or nested factors)."""
        g = self.terms[0].grouping_factor
        first = [k for k, t in enumerate(self.terms) if t.grouping_factor == g]
        return first, [k for k, t in enumerate(self.terms) if t.grouping_factor != g]
