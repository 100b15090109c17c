"""Shrinkage plot: each group's own OLS estimate beside its BLUP (partial pooling).

For group j with random-effects design Z_j, the no-pooling estimate of its deviation is the OLS
fit of Z_j d = y_j - X_j beta - (other random terms), and the BLUP is the conditional mode b_j.
In a random-intercept model b_j = lambda_j d_j with lambda_j = tau00 / (tau00 + sigma^2 / n_j):
small or noisy groups are pulled furthest toward the population value. When every random term
is also a fixed effect both are shown as coefficients (beta_k + d_j and beta_k + b_j, population
beta_k); otherwise as deviations from the group's fixed-part prediction (population 0).
With level-2 predictors the coefficients are net of them: beta_k + d_j is the group's estimate
minus what its level-2 values predict, so both points share the population reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from multilevel.plots._common import (
    new_figure,
    pick_term,
    refuse_glmm,
    safe_text,
    sample_groups,
    term_label,
    wrapped_title,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def shrinkage_estimates(fit: Any, group: str | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """(table, population): per level its size n, ``ols:<term>`` and ``blup:<term>``; the
    population value per term. OLS is NaN where Z_j has rank below q (too few rows)."""
    refuse_glmm(
        fit,
        "shrinkage",
        "per-group least squares on 0/1 outcomes or counts is not the GLMM's no-pooling "
        "estimate (and is infinite for all-0 or all-1 groups); plot the modes with "
        "kind='caterpillar'",
    )
    term = pick_term(fit, group)
    names = list(term.term_names)
    q = len(names)
    absolute = all(n in fit.fixed_names for n in names)
    population = (
        np.array([fit.beta[fit.fixed_names.index(n)] for n in names]) if absolute else np.zeros(q)
    )
    other = fit.design.X @ fit.beta
    for t in fit.design.terms:
        if t.name != term.name:
            other = other + np.einsum("ij,ij->i", t.Z, fit.modes[t.name].b[t.codes])
    target = fit.y - other
    blup = fit.modes[term.name].b
    ols = np.full((term.n_levels, q), np.nan)
    sizes = np.bincount(term.codes, minlength=term.n_levels)
    for j in range(term.n_levels):
        rows = term.codes == j
        Zj = term.Z[rows]
        if Zj.shape[0] >= q and np.linalg.matrix_rank(Zj) == q:
            ols[j] = np.linalg.lstsq(Zj, target[rows], rcond=None)[0]
    table = pd.DataFrame({"level": list(term.levels), "n": sizes})
    for k, n in enumerate(names):
        table[f"ols:{n}"] = population[k] + ols[:, k]
        table[f"blup:{n}"] = population[k] + blup[:, k]
    table.attrs.update(absolute=absolute, terms=tuple(names), group=term.grouping_factor)
    return table, population


def shrinkage_plot(
    fit: Any, group: str | None = None, max_groups: int | None = 200, seed: int = 0, **_: Any
) -> Figure:
    """One term: OLS (x = 0) joined to BLUP (x = 1) per group (gid ``shrinkage``, points
    ``ols``/``blup``), population line ``population``. Two or more terms: the first two as x/y,
    arrows from OLS to BLUP, population as a star. With more than ``max_groups`` groups a
    seeded random sample is drawn (the title says so), so that each line stays visible."""
    table, pop = shrinkage_estimates(fit, group)
    names = table.attrs["terms"]
    ok = table[[f"ols:{n}" for n in names]].notna().all(axis=1).to_numpy()
    usable = table[ok]
    part = usable.iloc[sample_groups(len(usable), max_groups, seed)]
    kind = "" if table.attrs["absolute"] else "deviation in "
    g = safe_text(table.attrs["group"])
    alpha = 0.7 if len(part) <= 60 else 0.4
    fig = new_figure(5.6 if len(names) == 1 else 6.0, 4.8)
    ax = fig.subplots()
    if len(names) == 1:
        o, b = part[f"ols:{names[0]}"].to_numpy(), part[f"blup:{names[0]}"].to_numpy()
        segs = [[(0.0, oi), (1.0, bi)] for oi, bi in zip(o, b, strict=True)]
        from matplotlib.collections import LineCollection

        ax.add_collection(LineCollection(segs, colors="0.55", lw=0.7, alpha=alpha, gid="shrinkage"))
        ax.scatter(np.zeros(len(o)), o, s=14, color="C0", gid="ols", label="OLS per group")
        ax.scatter(np.ones(len(b)), b, s=14, color="C3", gid="blup", label="BLUP (multilevel)")
        ax.axhline(pop[0], color="black", lw=2, gid="population", label="population")
        ax.set_xlim(-0.3, 1.3)
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["no pooling\n(OLS per group)", "partial pooling\n(BLUP)"])
        ax.set_ylabel(f"{kind}{term_label(names[0])}")
    else:
        xo, yo = part[f"ols:{names[0]}"].to_numpy(), part[f"ols:{names[1]}"].to_numpy()
        xb, yb = part[f"blup:{names[0]}"].to_numpy(), part[f"blup:{names[1]}"].to_numpy()
        from matplotlib.collections import LineCollection

        segs = [[(a, c), (b_, d)] for a, c, b_, d in zip(xo, yo, xb, yb, strict=True)]
        ax.add_collection(LineCollection(segs, colors="0.55", lw=0.7, gid="shrinkage"))
        ax.scatter(
            xo, yo, s=16, facecolors="none", edgecolors="C0", gid="ols", label="OLS per group"
        )
        ax.scatter(xb, yb, s=16, color="C3", gid="blup", label="BLUP (multilevel)")
        ax.scatter(
            [pop[0]],
            [pop[1]],
            marker="*",
            s=180,
            color="black",
            zorder=4,
            gid="population",
            label="population",
        )
        ax.set_xlabel(f"{kind}{term_label(names[0])}")
        ax.set_ylabel(f"{kind}{term_label(names[1])}")
        ax.autoscale_view()
    skipped = int((~ok).sum())
    extra = f"; {skipped} groups too small for OLS" if skipped else ""
    shown = (
        f"{len(part)} of {len(usable)} {g} estimates (random sample)"
        if len(part) < len(usable)
        else f"{len(part)} {g} estimates"
    )
    wrapped_title(ax, f"Shrinkage of {shown} toward the population{extra}")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
