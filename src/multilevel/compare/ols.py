"""Ordinary least squares, naive and with cluster-robust ("sandwich") standard errors.

beta = (X'X)^-1 X'y for every variant; only the covariance differs:

* naive: sigma^2 (X'X)^-1 with sigma^2 = e'e / (N - K), which assumes independent errors;
* CR0:   B M B with B = (X'X)^-1 and meat M = sum_g X_g' e_g e_g' X_g (sandwich ``cadjust=FALSE``);
* HC0:   CR0 x G/(G-1) (sandwich ``vcovCL(type="HC0")``);
* CR1:   CR0 x G/(G-1) (N-1)/(N-K) (sandwich ``type="HC1"``, Stata's ``vce(cluster)``);
* CR2:   Bell-McCaffrey, e_g replaced by (I - H_gg)^(-1/2) e_g (clubSandwich ``"CR2"``).

Cluster-robust intervals and tests use G - 1 degrees of freedom, as Stata does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.compare.data import ClusteredData
from multilevel.compare.protocol import EstimatorResult
from multilevel.errors import DataError

CLUSTER_TYPES = ("CR0", "HC0", "CR1", "CR2")
NAMES = {
    "CR0": "ols_cluster_cr0",
    "HC0": "ols_cluster_hc0",
    "CR1": "ols_cluster_cr1",
    "CR2": "ols_cluster_cr2",
}


@dataclass(frozen=True)
class OlsFit:
    """The pieces every OLS covariance needs: beta, residuals e, bread B = (X'X)^-1."""

    beta: np.ndarray
    resid: np.ndarray
    bread: np.ndarray
    rss: float
    n: int
    k: int


def ols_fit(y: np.ndarray, X: np.ndarray) -> OlsFit:
    """Least squares by QR (numerically stable); X must have full column rank."""
    n, k = X.shape
    if n <= k:
        raise DataError(f"OLS needs more rows ({n}) than coefficients ({k})")
    Q, R = np.linalg.qr(X)
    if np.min(np.abs(np.diag(R))) <= 1e-10 * np.max(np.abs(np.diag(R))):
        raise DataError("the OLS design matrix is rank deficient")
    beta = np.linalg.solve(R, Q.T @ y)
    resid = y - X @ beta
    Rinv = np.linalg.solve(R, np.eye(k))
    return OlsFit(beta, resid, Rinv @ Rinv.T, float(resid @ resid), n, k)


def gaussian_loglik(rss: float, n: int) -> float:
    """Maximised Gaussian log-likelihood of a linear model (R's ``logLik.lm``)."""
    return -0.5 * n * (np.log(2 * np.pi) + np.log(rss / n) + 1.0)


def ols(data: ClusteredData) -> EstimatorResult:
    """Naive OLS: classical SEs that treat all N rows as independent."""
    f = ols_fit(data.y, data.X)
    df = f.n - f.k
    sigma2 = f.rss / df
    vcov = sigma2 * f.bread
    return EstimatorResult(
        name="ols",
        label="OLS (naive)",
        coef_names=data.names,
        estimates=f.beta,
        std_errors=np.sqrt(np.diag(vcov)),
        vcov=vcov,
        df=np.full(f.k, float(df)),
        n_obs=f.n,
        n_clusters=data.n_clusters,
        loglik=gaussian_loglik(f.rss, f.n),
        notes=("classical SEs assume independent rows; they ignore the clustering",),
        extras={"sigma": float(np.sqrt(sigma2)), "df_residual": df},
    )


def cluster_meat(X: np.ndarray, e: np.ndarray, cluster: np.ndarray, G: int) -> np.ndarray:
    """M = sum_g (X_g' e_g)(X_g' e_g)'."""
    scores = np.zeros((G, X.shape[1]))
    np.add.at(scores, cluster, X * e[:, None])
    return scores.T @ scores


def cr2_residuals(f: OlsFit, X: np.ndarray, cluster: np.ndarray, G: int) -> np.ndarray:
    """Bell-McCaffrey adjusted residuals (I - H_gg)^(-1/2) e_g, cluster by cluster."""
    out = np.empty_like(f.resid)
    order = np.argsort(cluster, kind="stable")
    bounds = np.searchsorted(cluster[order], np.arange(G + 1))
    for g in range(G):
        idx = order[bounds[g] : bounds[g + 1]]
        Xg = X[idx]
        M = np.eye(len(idx)) - Xg @ f.bread @ Xg.T
        w, V = np.linalg.eigh(M)
        if np.min(w) <= 1e-12:
            raise DataError(
                "CR2 is undefined: a cluster's rows are perfectly fitted (I - H_gg is singular), "
                "e.g. a cluster-level dummy in X"
            )
        out[idx] = V @ ((V.T @ f.resid[idx]) / np.sqrt(w))
    return out


def ols_cluster(data: ClusteredData, kind: str = "CR1") -> EstimatorResult:
    """OLS with a cluster-robust covariance of type ``kind`` in CR0, HC0, CR1, CR2."""
    if kind not in CLUSTER_TYPES:
        raise ValueError(f"kind must be one of {CLUSTER_TYPES}, not {kind!r}")
    G = data.n_clusters
    if G < 2:
        raise DataError("cluster-robust SEs need at least 2 clusters")
    f = ols_fit(data.y, data.X)
    e = cr2_residuals(f, data.X, data.cluster, G) if kind == "CR2" else f.resid
    meat = cluster_meat(data.X, e, data.cluster, G)
    multiplier = {
        "CR0": 1.0,
        "HC0": G / (G - 1),
        "CR1": G / (G - 1) * (f.n - 1) / (f.n - f.k),
        "CR2": 1.0,
    }[kind]
    vcov = multiplier * (f.bread @ meat @ f.bread)
    labels = {
        "CR0": "OLS, cluster-robust CR0 (no adjustment)",
        "HC0": "OLS, cluster-robust HC0 (x G/(G-1))",
        "CR1": "OLS, cluster-robust CR1 (Stata)",
        "CR2": "OLS, cluster-robust CR2 (Bell-McCaffrey)",
    }
    return EstimatorResult(
        name=NAMES[kind],
        label=labels[kind],
        coef_names=data.names,
        estimates=f.beta,
        std_errors=np.sqrt(np.diag(vcov)),
        vcov=vcov,
        df=np.full(f.k, float(G - 1)),
        n_obs=f.n,
        n_clusters=G,
        loglik=None,
        notes=(f"sandwich covariance over {G} clusters; tests use G - 1 = {G - 1} df",),
        extras={"variance_multiplier": multiplier, "type": kind},
    )
