"""Why the estimators disagree, in words: the level of each predictor, its within- and
between-cluster slopes, and what that means for OLS and its standard error.

A level-2 predictor (constant within clusters) has only a between-cluster slope; naive OLS
treats its n rows as independent although it varies over only J clusters, so its SE is too
small (the lecture's point). A level-1 predictor that varies within clusters has a within slope
(b_W, from the cluster-demeaned data, as the fixed-effects estimator) and a between slope (b_B,
from the cluster means). OLS weights every row alike and mixes b_W and b_B; the multilevel
estimate is a precision-weighted mix that moves toward b_W as the ICC and the cluster size grow
(Raudenbush & Bryk 2002, ch. 5). For such a predictor the naive SE need not be too small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from multilevel.compare.data import ClusteredData
    from multilevel.compare.protocol import EstimatorResult


def predictor_levels(data: ClusteredData) -> dict[str, str]:
    """Term -> "level 1" (varies within some cluster) or "level 2" (constant within all)."""
    out = {}
    W = data.within(data.X)
    scale = np.maximum(np.abs(data.X).max(axis=0), 1.0)
    for j, name in enumerate(data.names):
        if name == "(Intercept)":
            continue
        out[name] = "level 1" if np.abs(W[:, j]).max() > 1e-10 * scale[j] else "level 2"
    return out


def within_between_slopes(data: ClusteredData) -> dict[str, tuple[float, float]]:
    """Level-1 term -> (within slope b_W, between slope b_B), each from its own regression on
    all level-1 (within) or all (cluster means) columns; NaN where not estimable."""
    levels = predictor_levels(data)
    l1 = [j for j, n in enumerate(data.names) if levels.get(n) == "level 1"]
    if not l1:
        return {}
    W = data.within(data.X[:, l1])
    yw = data.within(data.y)
    bw = np.linalg.lstsq(W, yw, rcond=None)[0]
    sizes = data.cluster_sizes.astype(float)
    means = np.zeros((data.n_clusters, data.k))
    np.add.at(means, data.cluster, data.X)
    means /= sizes[:, None]
    ymeans = np.bincount(data.cluster, weights=data.y, minlength=data.n_clusters) / sizes
    bb = np.full(data.k, np.nan)
    if data.n_clusters > data.k:
        bb = np.linalg.lstsq(means, ymeans, rcond=None)[0]
    return {data.names[j]: (float(bw[i]), float(bb[j])) for i, j in enumerate(l1)}


def explanation(data: ClusteredData, results: tuple[EstimatorResult, ...]) -> tuple[str, ...]:
    """Plain-language notes: per predictor its level, and why OLS and the multilevel model
    differ in estimate and SE."""
    by = {r.name: r for r in results}
    ols, ml = by.get("ols"), by.get("multilevel")
    if ols is None or ml is None:
        return ()
    g = data.cluster_name
    slopes = within_between_slopes(data)
    out = []
    for term, level in predictor_levels(data).items():
        if term not in ols.coef_names or term not in ml.coef_names:
            continue
        b0, b1 = ols.estimate(term), ml.estimate(term)
        ratio = ols.std_error(term) / ml.std_error(term)
        if level == "level 2":
            out.append(
                f"{term} is a level-2 predictor (constant within each {g}): it varies over "
                f"{data.n_clusters} clusters, not {data.n} independent rows, so the naive OLS "
                f"SE is too small (here {ratio:.2f} times the multilevel SE)."
            )
            continue
        bw, bb = slopes.get(term, (np.nan, np.nan))
        text = (
            f"{term} is a level-1 predictor (it varies within {g}): its within-{g} slope is "
            f"{bw:.3g} and its between-{g} slope (of the {g} means) {bb:.3g}. OLS ({b0:.3g}) "
            "weights every row alike and mixes the two; the multilevel estimate "
            f"({b1:.3g}) weights the {g}s by their precision and lies closer to the within "
            "slope when the ICC and the clusters are large. "
        )
        text += (
            f"For a level-1 predictor the naive OLS SE need not be too small: here it is "
            f"{ratio:.2f} times the multilevel SE."
        )
        out.append(text)
    return tuple(out)
