"""Shared helpers: an Agg figure, the random-effect term a plot is about, and text that is safe
to draw (``$`` in data labels would start matplotlib's mathtext) and fits inside the figure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from multilevel.design.random import RandomTerm


def new_figure(width: float, height: float) -> Figure:
    """A Figure on an Agg canvas, independent of pyplot's global state (never shown, only
    saved; safe in scripts, servers and tests)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


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


def refuse_glmm(fit: Any, kind: str, reason: str) -> None:
    """A plot that has no meaning for a GLMM is refused in one line saying why."""
    from multilevel.errors import DataError

    if fit.is_glmm:
        raise DataError(f"no {kind} plot for a {fit.family.name} GLMM: {reason}")


def safe_text(text: object) -> str:
    """Text from the data (group labels, column names) drawn literally: ``$`` escaped, so that
    matplotlib does not read ``$...$`` as mathtext (and fail on an unbalanced one)."""
    return str(text).replace("$", r"\$")


def term_label(term: str) -> str:
    """A random-effect term for an axis: '(Intercept)' -> 'intercept', others as written."""
    return "intercept" if term == "(Intercept)" else safe_text(term)


def wrapped_title(ax, text: str, fontsize: float = 9, fig_width: float | None = None) -> None:
    """An axes title wrapped to the width of its axes, so that it stays inside the figure."""
    import textwrap

    width_in = fig_width if fig_width is not None else ax.figure.get_figwidth()
    frac = ax.get_position().width if fig_width is None else 1.0
    chars = max(20, int(width_in * frac * 72 / (0.6 * fontsize)))
    ax.set_title("\n".join(textwrap.wrap(text, chars)), fontsize=fontsize)


def sample_groups(n_levels: int, max_groups: int | None, seed: int = 0) -> np.ndarray:
    """Indices of the groups to draw: all, or a seeded random sample of ``max_groups``."""
    if max_groups is None or n_levels <= max_groups:
        return np.arange(n_levels)
    return np.sort(np.random.default_rng(seed).choice(n_levels, max_groups, replace=False))
