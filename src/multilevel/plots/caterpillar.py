"""Caterpillar plot: each group's conditional mode b_j with its interval, sorted.

The interval is condval +/- z * condsd, where condsd is the conditional SD of b_j given the
data (lme4's ``ranef(condVar = TRUE)``); z = 1.96 gives the usual 95% interval. Groups whose
interval excludes 0 are drawn in a second colour: they differ clearly from the average group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from multilevel.plots._common import new_figure, safe_text, term_label, wrapped_title

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: above this many groups the level names are not written on the axis; the HIGHLIGHT lowest
#: and highest groups are named beside their points instead
MAX_LABELS = 40
HIGHLIGHT = 3


def caterpillar_plot(fit: Any, group: str | None = None, z: float = 1.96, **_: Any) -> Figure:
    """One panel per (grouping factor, term): modes sorted, x = rank, y = b_j, bars = z * condsd.

    ``group`` restricts the plot to one grouping factor. Artists: ``modes`` (points) and
    ``intervals`` (vertical segments) in each panel, in sorted order.
    """
    table = fit.ranef_table()
    if group is not None:
        from multilevel.plots._common import pick_term

        table = table[table["group"] == pick_term(fit, group).grouping_factor]
    panels = list(dict.fromkeys(zip(table["group"], table["term"], strict=True)))
    n_max = max(int(((table["group"] == g) & (table["term"] == t)).sum()) for g, t in panels)
    width = min(max(5.0, 0.12 * n_max + 2.5), 14.0)
    fig = new_figure(width, 2.8 * len(panels) + 0.6)
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (g, term) in zip(axes, panels, strict=True):
        part = table[(table["group"] == g) & (table["term"] == term)]
        part = part.sort_values("condval", kind="mergesort")
        b = part["condval"].to_numpy()
        half = z * part["condsd"].to_numpy()
        x = np.arange(len(b))
        clear = (b - half > 0) | (b + half < 0)
        colors = np.where(clear, "C3", "C0")
        many = len(b) > MAX_LABELS
        ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
        bars = ax.vlines(
            x, b - half, b + half, colors=list(colors), lw=0.5 if many else 1.2, alpha=0.7
        )
        bars.set_gid("intervals")
        pts = ax.scatter(x, b, c=list(colors), s=4 if many else 14, zorder=3)
        pts.set_gid("modes")
        ax.set_ylabel(f"conditional mode: {term_label(term)}")
        wrapped_title(
            ax,
            f"{safe_text(g)}: {term_label(term)} ({len(b)} groups, {int(clear.sum())} with an "
            "interval excluding 0)",
        )
        levels = part["level"].astype(str).map(safe_text).tolist()
        if not many:
            ax.set_xticks(x)
            ax.set_xticklabels(levels, rotation=90, fontsize=7)
        else:  # name only the extremes, the rest is the shape of the distribution
            ax.set_xticks([])  # the rank carries no information
            ax.set_xlabel(f"{safe_text(g)} groups, sorted by their conditional mode")
            for k, i in enumerate([*range(HIGHLIGHT), *range(len(b) - HIGHLIGHT, len(b))]):
                low = i < HIGHLIGHT
                ax.annotate(  # stacked beside the lowest and highest intervals
                    levels[i],
                    (x[i], b[i] + (-half[i] if low else half[i])),
                    xytext=(4 if low else -4, -8 * (k % HIGHLIGHT) if low else 8 * (k % HIGHLIGHT)),
                    textcoords="offset points",
                    fontsize=7,
                    ha="left" if low else "right",
                    va="top" if low else "bottom",
                    gid="highlight",
                )
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Conditional modes with {_pct(z)} intervals", fontsize=10)
    fig.tight_layout()
    return fig


def _pct(z: float) -> str:
    from scipy import stats

    return f"{100 * (2 * stats.norm.cdf(z) - 1):.0f}%"
