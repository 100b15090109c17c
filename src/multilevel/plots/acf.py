"""Residual autocorrelation by lag within groups, before and after a residual correlation
structure: how a user sees that AR(1) was needed (large positive autocorrelations of the
residuals) and that it is enough (the normalized residuals' near 0).

ACF(k) = [sum over pairs k apart in a group of r_i r_(i+k) / pairs] / [sum r_i^2 / n], with rows
ordered by time within groups (nlme's ``ACF``); the band is +-1.96 / sqrt(pairs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from multilevel.plots._common import new_figure, refuse_glmm

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def residual_acf(
    r: np.ndarray, groups: np.ndarray, order: np.ndarray | None = None, max_lag: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """(ACF at lags 0..max_lag, number of pairs at each lag); ``order`` sorts the rows by group
    and time (default: by group, keeping the rows' order within groups)."""
    if order is None:
        order = np.argsort(groups, kind="stable")
    rs, gs = np.asarray(r, dtype=float)[order], np.asarray(groups)[order]
    denom = float(rs @ rs) / rs.size
    acf, pairs = np.ones(max_lag + 1), np.zeros(max_lag + 1, dtype=np.int64)
    pairs[0] = rs.size
    for k in range(1, max_lag + 1):
        same = gs[k:] == gs[:-k]
        pairs[k] = int(same.sum())
        acf[k] = float(rs[k:][same] @ rs[:-k][same]) / pairs[k] / denom if pairs[k] else np.nan
    return acf, pairs


def _groups_and_order(fit: Any, time: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    r = getattr(fit, "residual_structure", None)
    if r is not None and r.model.correlation is not None:
        return r.model.correlation.group_codes, r.model.correlation.order
    codes = fit.design.terms[0].codes
    if time is None:
        return codes, None
    if time not in fit.design.frame.data.columns:
        from multilevel.errors import DataError

        raise DataError(f"acf: time column {time!r} is not among the model's columns")
    t = fit.design.frame.data[time].to_numpy(dtype=float)
    return codes, np.lexsort((t, codes))


def acf_plot(
    fit: Any, before: Any = None, max_lag: int | None = None, time: str | None = None, **_: Any
) -> Figure:
    """Bars of the residual ACF by lag: ``before`` (gid ``acf:before``) from a fit without the
    structure (default: this fit's standardized residuals, not whitened) and ``after``
    (``acf:after``) from this fit's normalized residuals, when it has a correlation structure."""
    refuse_glmm(
        fit,
        "acf",
        "residual correlation structures are for linear mixed models (a GLMM's level-1 "
        "variance is fixed by its family)",
    )
    groups, order = _groups_and_order(fit, time)
    sizes = np.bincount(groups)
    lag = int(max_lag or min(10, max(1, int(np.median(sizes)) - 1)))
    series = []
    base = before if before is not None else fit
    series.append(("before", "residuals without the structure", base.scaled_residuals()))
    if getattr(fit, "residual_structure", None) is not None:
        series.append(("after", "normalized residuals of the fit", fit.normalized_residuals()))
    fig = new_figure(6.5, 3.6)
    ax = fig.subplots()
    width = 0.8 / len(series)
    pairs = None
    for k, (gid, label, r) in enumerate(series):
        acf, pairs = residual_acf(r, groups, order, lag)
        x = np.arange(1, lag + 1) + (k - (len(series) - 1) / 2) * width
        ax.bar(x, acf[1:], width=width, label=label, gid=f"acf:{gid}", color=f"C{k}")
    assert pairs is not None
    band = 1.96 / np.sqrt(np.maximum(pairs[1:], 1))
    ax.plot(np.arange(1, lag + 1), band, color="grey", ls="--", lw=1, gid="acf:band")
    ax.plot(np.arange(1, lag + 1), -band, color="grey", ls="--", lw=1)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xlabel("lag (occasions apart within a group)")
    ax.set_ylabel("autocorrelation")
    ax.set_title("Residual autocorrelation by lag", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
