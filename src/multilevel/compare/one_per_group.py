"""Sample one row per cluster and fit OLS: independent rows, at the price of discarding data.

One draw keeps G of N rows, so its SEs are honest but large, and its estimate depends on which
rows were drawn. We draw R times (reproducibly, from ``seed``) and report the mean estimate over
draws, the root-mean-square per-draw SE (the SE one analyst with one draw would see), and the
spread of the estimates across draws (``extras["draw_sd"]``, 2.5% and 97.5% quantiles).
"""

from __future__ import annotations

import numpy as np

from multilevel.compare.data import ClusteredData
from multilevel.compare.ols import ols_fit
from multilevel.compare.protocol import EstimatorResult
from multilevel.design.fixed import aliased_columns
from multilevel.errors import DataError


def draw_one_per_cluster(cluster: np.ndarray, G: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices, one chosen uniformly at random in each cluster (sorted by cluster)."""
    keys = np.asarray(rng.random(cluster.shape[0]))
    order = np.lexsort((keys, cluster))
    first = np.searchsorted(cluster[order], np.arange(G))
    return order[first]


def one_per_group(
    data: ClusteredData, draws: int = 100, seed: int | np.random.SeedSequence | None = 0
) -> EstimatorResult:
    """OLS on one random row per cluster, ``draws`` times; mean estimate and spread."""
    if draws < 1:
        raise ValueError("draws must be at least 1")
    G, k = data.n_clusters, data.k
    if G <= k:
        raise DataError(
            f"one row per cluster gives {G} rows for {k} coefficients; OLS needs more rows"
        )
    rng = np.random.default_rng(seed)
    betas = np.full((draws, k), np.nan)
    vcovs = np.full((draws, k, k), np.nan)
    dropped_any: set[str] = set()
    for r in range(draws):
        rows = draw_one_per_cluster(data.cluster, G, rng)
        X, y = data.X[rows], data.y[rows]
        bad = set(aliased_columns(X))
        keep = [j for j in range(k) if j not in bad]
        dropped_any.update(data.names[j] for j in bad)
        f = ols_fit(y, X[:, keep])
        sigma2 = f.rss / (G - len(keep))
        betas[r, keep] = f.beta
        vcovs[r][np.ix_(keep, keep)] = sigma2 * f.bread
    with np.errstate(invalid="ignore"):
        estimates = np.nanmean(betas, axis=0)
        vcov = np.nanmean(vcovs, axis=0)
    std_errors = np.sqrt(np.diag(vcov))
    notes = [
        f"OLS on one random row per {data.cluster_name} ({G} of {data.n} rows), {draws} draws: "
        "estimate = mean over draws, SE = root mean per-draw variance",
    ]
    if dropped_any:
        notes.append("aliased in some draws (dropped there): " + ", ".join(sorted(dropped_any)))
    return EstimatorResult(
        name="one_per_group",
        label=f"One row per {data.cluster_name} (OLS, {draws} draws)",
        coef_names=data.names,
        estimates=estimates,
        std_errors=std_errors,
        vcov=vcov,
        df=np.full(k, float(G - k)),
        n_obs=G,
        n_clusters=G,
        loglik=None,
        notes=tuple(notes),
        extras={
            "draws": draws,
            "draw_sd": np.nanstd(betas, axis=0, ddof=1) if draws > 1 else np.full(k, np.nan),
            "draw_q025": np.nanquantile(betas, 0.025, axis=0),
            "draw_q975": np.nanquantile(betas, 0.975, axis=0),
        },
    )
