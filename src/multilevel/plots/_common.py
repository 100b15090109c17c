"""Shared helpers: an Agg figure and the random-effect term a plot is about."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from multilevel.design.random import RandomTerm


def new_figure(width: float, height: float) -> Figure:
    """A Figure on an Agg canvas, independent of pyplot (never shown, only saved)."""
    from multilevel.compare.plot import new_figure as _new

    return _new(width, height)


def pick_term(fit: Any, group: str | None) -> RandomTerm:
    """The random term named ``group`` (lme4 name or grouping factor); default the first."""
    from multilevel.errors import DataError

    terms = fit.design.terms
    if group is None:
        return terms[0]
    for t in terms:
        if group in (t.name, t.grouping_factor):
            return t
    names = ", ".join(t.name for t in terms)
    raise DataError(f"the model has no random term for {group!r}; its terms are: {names}")
