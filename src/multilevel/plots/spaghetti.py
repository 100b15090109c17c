"""Spaghetti plot: each group's regression line over the data, beside the population line.

For a fit with one level-1 predictor x, group j's line is the fit's prediction with its random
effects, X beta + Z b_j, on a grid of x over the group's own range (its level-2 predictors held
at the group's values); the population line is X beta with b = 0 and level-2 predictors at their
mean over groups. Fanning lines show a random slope, parallel lines a random intercept only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from multilevel.errors import DataError
from multilevel.plots._common import new_figure, pick_term, safe_text, wrapped_title

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def enters_linearly(fit: Any, x: str) -> bool:
    """True if ``x`` is a column of X itself or a factor of an interaction ('x', 'x:w')."""
    return any(x in name.split(":") for name in fit.fixed_names)


def level1_predictor(fit: Any, term_codes: np.ndarray) -> str:
    """The one numeric fixed-part variable that varies within groups (else a DataError)."""
    from multilevel.design.frame import formula_variables

    data = fit.design.frame.data
    names = [v for v in formula_variables(fit.design.formula.fixed) if v in data.columns]
    varying = []
    for v in names:
        col = data[v]
        if not pd.api.types.is_numeric_dtype(col) or not enters_linearly(fit, v):
            continue
        spread = col.groupby(term_codes).agg(lambda s: s.max() - s.min())
        if (spread > 1e-12).any():
            varying.append(v)
    if len(varying) != 1:
        found = ", ".join(varying) or "none"
        raise DataError(
            "a spaghetti plot needs exactly one numeric level-1 predictor (varying within "
            f"groups) in the fixed part; found: {found}. Name it with x=..."
        )
    return varying[0]


def spaghetti_plot(
    fit: Any,
    x: str | None = None,
    group: str | None = None,
    max_groups: int | None = 100,
    points: int = 20,
    seed: int = 0,
    **_: Any,
) -> Figure:
    """Data (grey), one line per group (artists with gid ``group:<level>``) and the population
    line (gid ``population``). With more than ``max_groups`` groups a random sample is drawn.
    A GLMM's lines are on the response scale (probabilities or expected counts) over its
    0/1 or count data."""
    term = pick_term(fit, group)
    data = fit.design.frame.data
    x = x or level1_predictor(fit, term.codes)
    if x not in data.columns:
        raise DataError(f"{x!r} is not a column used by the model")
    y = fit.y
    xs = data[x].to_numpy(dtype=float)
    chosen = np.arange(term.n_levels)
    if max_groups is not None and term.n_levels > max_groups:
        chosen = np.sort(np.random.default_rng(seed).choice(term.n_levels, max_groups, False))

    fig = new_figure(6.4, 4.6)
    ax = fig.subplots()
    ax.scatter(xs, y, s=6, color="0.6", alpha=0.35, lw=0, gid="data")
    first = pd.Series(np.arange(len(data))).groupby(term.codes).first().to_numpy()
    linear = enters_linearly(fit, x)  # else (e.g. factor(x)) predict at the observed values
    grids = []
    for j in chosen:  # one prediction call for all groups: model matrices are built once
        rows = term.codes == j
        lo, hi = np.min(xs[rows]), np.max(xs[rows])
        grids.append(
            np.linspace(lo, hi, points if hi > lo else 1) if linear else np.unique(xs[rows])
        )
    new = data.iloc[np.repeat(first[chosen], [len(g) for g in grids])].copy()
    new[x] = np.concatenate(grids)
    preds = np.split(  # a GLMM on the response scale (mu): probabilities or counts
        fit.predict(new, random=True, type="response"), np.cumsum([len(g) for g in grids])[:-1]
    )
    for j, g, p in zip(chosen, grids, preds, strict=True):
        line = ax.plot(g, p, lw=0.9, alpha=0.6, marker="o" if len(g) == 1 else None, ms=3)[0]
        line.set_gid(f"group:{term.levels[j]}")  # gids are not drawn: no escaping
    grid = np.linspace(np.min(xs), np.max(xs), points) if linear else np.unique(xs)
    ax.plot(
        grid,
        population_line(fit, x, grid, term.codes),
        color="black",
        lw=3,
        label="population (fixed effects)",
        gid="population",
    )
    shown = f"{len(chosen)} of {term.n_levels}" if len(chosen) < term.n_levels else "all"
    wrapped_title(
        ax,
        f"{safe_text(fit.response)} by {safe_text(x)}: {shown} {safe_text(term.grouping_factor)} "
        "lines and the population line"
        + (" (random sample)" if len(chosen) < term.n_levels else ""),
    )
    ax.set_xlabel(safe_text(x))
    ax.set_ylabel(safe_text(_mean_label(fit)))
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _mean_label(fit: Any) -> str:
    """The y axis: the outcome, or for a GLMM the mean its lines show."""
    if not fit.is_glmm:
        return str(fit.response)
    if fit.family.name == "binomial":
        return f"P({fit.response} = 1)"
    return f"E({fit.response})"


def population_line(fit: Any, x: str, grid: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """X beta on the grid, other numeric columns at their mean over groups (b = 0); a GLMM's
    on the response scale (the mean at b = 0, not the population-averaged mean)."""
    data = fit.design.frame.data
    new = data.iloc[np.zeros(len(grid), dtype=int)].copy()
    for col in data.columns:
        if (
            col != x
            and pd.api.types.is_numeric_dtype(data[col])
            and not pd.api.types.is_bool_dtype(data[col])
        ):
            new[col] = float(data[col].groupby(codes).mean().mean())
    new[x] = grid
    return fit.predict(new, random=False, type="response")
