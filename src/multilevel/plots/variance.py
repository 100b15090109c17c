"""Variance partition: how the outcome's variance splits into parts, per fit or ladder step.

Three stacked parts (Nakagawa & Schielzeth 2013; Johnson 2014 for random slopes):
``fixed`` = Var(X beta), explained by the predictors; ``between`` = mean_i z_i' T z_i, the
random-effects (between-group) variance, tau00 in a random-intercept model; ``within`` =
sigma^2, the residual (within-group) variance. For the null model between / (between + within)
is the ICC. Along the ladder the bars show where the predictors take their variance from.
For a GLMM ``within`` is the family's level-1 variance on the latent scale (pi^2/3 for logit;
Poisson: from the null model), as ``performance::r2_nakagawa``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from multilevel.plots._common import new_figure, safe_text, wrapped_title

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PARTS = ("fixed", "between", "within")
LABELS = {
    "fixed": "explained by predictors (fixed)",
    "between": "between groups (random effects)",
    "within": "within groups (residual)",
}
COLORS = {"fixed": "C2", "between": "C1", "within": "C0"}


def variance_parts(fit: Any, null: Any = None) -> dict[str, float]:
    """{"fixed": Var(X beta), "between": mean z' T z summed over terms, "within": sigma^2}
    (a GLMM: its latent level-1 variance; a Poisson GLMM needs its ``null`` model)."""
    from multilevel.ladder.r2 import r2  # the same decomposition as the ladder's R^2

    try:
        parts = r2(fit, null)
    except ValueError:
        from multilevel.errors import DataError

        raise DataError(
            "no variance plot for a Poisson GLMM with predictors on its own: its level-1 "
            "variance comes from the null model; plot the null model or the ladder"
        ) from None
    return {"fixed": parts.var_fixed, "between": parts.var_random, "within": parts.var_residual}


def _models(obj: Any) -> list[tuple[str, Any]]:
    """(label, fit) pairs from a fit, a ladder (``.steps`` with ``.step``/``.fit``) or a list."""
    if hasattr(obj, "steps"):
        return [(s.step, s.fit) for s in obj.steps]
    if hasattr(obj, "design"):
        return [("model", obj)]
    return [(str(label), f) for label, f in obj]


def variance_partition_plot(obj: Any, proportions: bool = False, **_: Any) -> Figure:
    """Stacked bars of the variance parts, one bar per model (each rectangle has gid ``<part>``).

    ``obj`` is a fit, a ladder, or a list of (label, fit). Each segment is labelled with its
    share of the model's total; ``proportions=True`` draws the shares instead of variances.
    """
    models = _models(obj)
    null = obj["null"].fit if hasattr(obj, "steps") else None
    parts = np.array([[variance_parts(f, null)[p] for p in PARTS] for _, f in models])
    totals = parts.sum(axis=1)
    heights = parts / totals[:, None] if proportions else parts
    fig = new_figure(max(4.0, 1.5 * len(models) + 2.5), 4.4)
    ax = fig.subplots()
    x = np.arange(len(models))
    bottom = np.zeros(len(models))
    for k, p in enumerate(PARTS):
        if not np.any(parts[:, k] > 0):
            continue
        label = LABELS[p]
        if p == "within" and models[0][1].is_glmm:
            label = "within groups (level 1, latent scale: fixed by the family)"
        bars = ax.bar(x, heights[:, k], bottom=bottom, color=COLORS[p], label=label, width=0.6)
        for patch in bars.patches:
            patch.set_gid(p)
        for xi, b, h, share in zip(x, bottom, heights[:, k], parts[:, k] / totals, strict=True):
            if share >= 0.04:
                ax.text(
                    float(xi),
                    b + h / 2,
                    f"{100 * share:.1f}%",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white",
                    fontweight="bold",
                )
        bottom = bottom + heights[:, k]
    ax.set_xticks(x)
    ax.set_xticklabels(
        [safe_text(label.replace("_", " ")) for label, _ in models],
        fontsize=8,
        rotation=15 if len(models) > 2 else 0,
    )
    ax.set_ylabel("share of the total variance" if proportions else "variance")
    wrapped_title(ax, f"Variance partition of {safe_text(models[0][1].response)}", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=1, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
