"""Residual diagnostics at both levels of the model.

Level 1: the residuals r_ij = y - X beta - Z b (scaled by sigma) in a normal QQ plot and against
the fitted values (look for curvature or a funnel). Level 2: a normal QQ plot of each random
effect's conditional modes b_j (scaled by their SD), which should be roughly normal too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from multilevel.plots._common import new_figure, refuse_glmm, safe_text, term_label, wrapped_title

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def normal_qq(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(theoretical, sample) quantiles; theoretical at Blom-type positions (i - 0.5) / n."""
    v = np.sort(np.asarray(values, dtype=float))
    n = v.size
    return stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n), v


def _qq(ax: Axes, values: np.ndarray, title: str, gid: str) -> None:
    q, v = normal_qq(values)
    ax.scatter(q, v, s=8, alpha=0.6, gid=gid)
    lim = [min(q.min(), v.min()), max(q.max(), v.max())] if v.size else [-1, 1]
    ax.plot(lim, lim, color="C3", lw=1, gid=f"{gid}:reference")
    ax.set_xlabel("normal quantiles")
    ax.set_ylabel("standardized sample quantiles")
    wrapped_title(ax, title)
    ax.grid(alpha=0.3)


def residual_plot(fit: Any, **_: Any) -> Figure:
    """Panels: level-1 QQ (gid ``qq:residuals``), residuals vs fitted (``resid_fitted``), and a
    level-2 QQ per random term (``qq:<group>:<term>``), each of b_j / SD(b_j)."""
    refuse_glmm(
        fit,
        "residual",
        "its level-1 residuals (0/1 outcomes or counts) are not normal and there is no sigma; "
        "plot the modes with kind='caterpillar'",
    )
    level2 = [(t, k, name) for t in fit.design.terms for k, name in enumerate(t.term_names)]
    n = 2 + len(level2)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig = new_figure(4.0 * cols, 3.6 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    r = fit.residuals / fit.sigma
    _qq(axes[0], r, "Level 1: normal QQ of residuals / sigma", "qq:residuals")
    ax = axes[1]
    ax.scatter(fit.fitted, r, s=6, alpha=0.4, gid="resid_fitted")
    ax.axhline(0.0, color="C3", lw=1)
    ax.set_xlabel("fitted values (X beta + Z b)")
    ax.set_ylabel("residual / sigma")
    ax.set_title("Level 1: residuals vs fitted", fontsize=9)
    ax.grid(alpha=0.3)
    for ax, (t, k, name) in zip(axes[2:], level2, strict=False):
        b = fit.modes[t.name].b[:, k]
        sd = np.std(b, ddof=1) if b.size > 1 else 1.0
        _qq(
            ax,
            b / (sd if sd > 0 else 1.0),
            f"Level 2: QQ of {safe_text(t.name)} modes ({term_label(name)})",
            f"qq:{t.name}:{name}",
        )
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
