"""Forest plots: each estimator's estimate and confidence interval, one panel per coefficient."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from multilevel.compare.protocol import ComparisonTable
from multilevel.plots._common import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["forest_plot", "new_figure"]


def forest_plot(
    comparison: ComparisonTable,
    terms: Sequence[str] | None = None,
    include_intercept: bool = False,
    **_: Any,
) -> Figure:
    """Estimate +/- CI per estimator, a panel per coefficient; the multilevel row is highlighted.

    Coefficients an estimator cannot estimate are labelled "not estimable" in their row.
    """
    table = comparison.table
    if terms is None:
        terms = [
            t for t in dict.fromkeys(table["term"]) if include_intercept or t != "(Intercept)"
        ] or list(dict.fromkeys(table["term"]))
    names = list(comparison.names)
    fig = new_figure(3.2 * len(terms) + 1.8, 0.35 * len(names) + 1.4)
    axes = fig.subplots(1, len(terms), sharey=True, squeeze=False)[0]
    ypos = np.arange(len(names))[::-1]
    for ax, term in zip(axes, terms, strict=True):
        part = table[table["term"] == term].set_index("estimator").reindex(names)
        for y, name in zip(ypos, names, strict=True):
            row = part.loc[name]
            color = "C3" if name == "multilevel" else "C0"
            if not np.isfinite(row["estimate"]):
                ax.text(
                    0.5,
                    y,
                    "not estimable",
                    transform=ax.get_yaxis_transform(),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="0.4",
                )
                continue
            ax.plot([row["ci_lower"], row["ci_upper"]], [y, y], color=color, lw=2)
            ax.plot([row["estimate"]], [y], "o", color=color, ms=5)
        ml = part.loc["multilevel"] if "multilevel" in part.index else None
        if ml is not None and np.isfinite(ml["estimate"]):
            ax.axvspan(ml["ci_lower"], ml["ci_upper"], color="C3", alpha=0.08)
        ax.set_title(term)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(ypos)
    axes[0].set_yticklabels(names)
    fig.suptitle(f"{comparison.formula}  ({int(round(100 * comparison.level))}% CI)", fontsize=9)
    fig.tight_layout()
    return fig
