"""The comparison estimators for a binary outcome (``compare --family binomial``): logistic
GLM, GLM with cluster-robust SEs (sandwich::vcovCL, HC0 without and with the G/(G-1) cluster
adjustment), GEE with a binomial family (geepack::geeglm), one row per cluster, and the
multilevel GLMM.

GEE and the GLM estimate population-averaged (marginal) log-odds; the GLMM estimates
cluster-specific (conditional) log-odds. With a random-intercept variance tau00 the marginal
coefficients are smaller by about sqrt(1 + 0.346 tau00) (Zeger, Liang & Albert 1988): the
coefficients differ in size, not only in their standard errors (:func:`attenuation`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from multilevel.compare.data import ClusteredData
from multilevel.compare.protocol import EstimatorResult
from multilevel.errors import DataError

BINOMIAL_ESTIMATORS = (
    "glm",
    "glm_cluster_cr0",
    "glm_cluster_cr1",
    "gee_exchangeable",
    "gee_independence",
    "one_per_group",
    "multilevel",
)
#: (16 sqrt(3) / (15 pi))^2: the logistic-normal approximation of Zeger, Liang & Albert (1988)
ZLA = (16 * np.sqrt(3) / (15 * np.pi)) ** 2


def _check_binary(data: ClusteredData) -> None:
    bad = (data.y != 0) & (data.y != 1)
    if bad.any():
        raise DataError(
            f"compare --family binomial needs a 0/1 outcome; {int(bad.sum())} row(s) have other "
            f"values (e.g. {data.y[bad][0]:g})"
        )


def logistic_irls(
    y: np.ndarray, X: np.ndarray, tol: float = 1e-12
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood logistic regression: beta and the Fisher information X'WX."""
    beta = np.zeros(X.shape[1])
    for _ in range(100):
        mu = 1 / (1 + np.exp(-(X @ beta)))
        W = mu * (1 - mu)
        info = X.T @ (W[:, None] * X)
        step = np.linalg.solve(info, X.T @ (y - mu))
        beta = beta + step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            break
    else:
        raise DataError("the logistic regression did not converge (separation in the predictors?)")
    mu = 1 / (1 + np.exp(-(X @ beta)))
    return beta, X.T @ ((mu * (1 - mu))[:, None] * X)


def _result(
    name: str, label: str, data: ClusteredData, beta: np.ndarray, vcov: np.ndarray, **kw: Any
) -> EstimatorResult:
    return EstimatorResult(
        name=name,
        label=label,
        coef_names=data.names,
        estimates=beta,
        std_errors=np.sqrt(np.diag(vcov)),
        vcov=vcov,
        df=np.full(data.k, np.inf),
        n_obs=data.n,
        n_clusters=data.n_clusters,
        **kw,
    )


def glm(data: ClusteredData) -> EstimatorResult:
    """Logistic regression ignoring the clusters (R's glm(family = binomial))."""
    _check_binary(data)
    beta, info = logistic_irls(data.y, data.X)
    mu = 1 / (1 + np.exp(-(data.X @ beta)))
    ll = float(np.sum(data.y * np.log(mu) + (1 - data.y) * np.log1p(-mu)))
    return _result(
        "glm",
        "logistic regression (rows independent)",
        data,
        beta,
        np.linalg.inv(info),
        loglik=ll,
        notes=("model-based SEs: treats every row as independent",),
    )


def glm_cluster(data: ClusteredData, adjust: bool) -> EstimatorResult:
    """The GLM with the cluster sandwich: bread (X'WX)^-1, meat sum_g s_g s_g', s_g the
    cluster's score X_g'(y_g - mu_g); times G/(G-1) with ``adjust`` (vcovCL's cadjust)."""
    _check_binary(data)
    beta, info = logistic_irls(data.y, data.X)
    mu = 1 / (1 + np.exp(-(data.X @ beta)))
    G = data.n_clusters
    scores = np.stack(
        [
            np.bincount(data.cluster, weights=data.X[:, j] * (data.y - mu), minlength=G)
            for j in range(data.k)
        ],
        axis=1,
    )
    bread = np.linalg.inv(info)
    vcov = bread @ (scores.T @ scores) @ bread
    if adjust:
        vcov = vcov * G / (G - 1)
    name = "glm_cluster_cr1" if adjust else "glm_cluster_cr0"
    label = "logistic regression, cluster-robust SEs" + (" (G/(G-1))" if adjust else "")
    return _result(
        name,
        label,
        data,
        beta,
        vcov,
        notes=(
            f"sandwich SEs over {G} clusters (sandwich::vcovCL, HC0"
            + (", cadjust)" if adjust else ", no adjustment)"),
        ),
    )


def gee_binomial(data: ClusteredData, corstr: str) -> EstimatorResult:
    """Binomial GEE (logit) with sandwich SEs, geepack's moment estimators (no df correction)."""
    import statsmodels.api as sm

    _check_binary(data)
    cov = sm.cov_struct.Exchangeable() if corstr == "exchangeable" else sm.cov_struct.Independence()
    model = sm.GEE(
        data.y, data.X, groups=data.cluster, family=sm.families.Binomial(), cov_struct=cov
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(maxiter=200, ctol=1e-10, ddof_scale=0, cov_type="robust")
    vcov = np.asarray(res.cov_robust, dtype=float)
    extras: dict[str, Any] = {"corstr": corstr}
    if corstr == "exchangeable":
        extras["alpha"] = float(np.asarray(cov.dep_params))
    return _result(
        f"gee_{corstr}",
        f"GEE (logit), {corstr} working correlation",
        data,
        np.asarray(res.params, dtype=float),
        vcov,
        extras=extras,
        notes=("population-averaged (marginal) log-odds; robust SEs; no likelihood",),
    )


def one_per_group_binomial(data: ClusteredData, draws: int = 100, seed: Any = 0) -> EstimatorResult:
    """Logistic regression on one random row per cluster, averaged over ``draws`` draws
    (estimates: mean; SEs: root mean model-based variance)."""
    _check_binary(data)
    rng = np.random.default_rng(seed)
    order = np.argsort(data.cluster, kind="stable")
    starts = np.concatenate([[0], np.cumsum(data.cluster_sizes)[:-1]])
    betas, variances = [], []
    for _ in range(draws):
        pick = order[starts + rng.integers(0, data.cluster_sizes)]
        try:
            b, info = logistic_irls(data.y[pick], data.X[pick])
        except (DataError, np.linalg.LinAlgError):
            continue
        betas.append(b)
        variances.append(np.diag(np.linalg.inv(info)))
    if not betas:
        raise DataError("one row per cluster: no draw gave a logistic fit (too few clusters?)")
    vcov = np.diag(np.mean(variances, axis=0))
    return _result(
        "one_per_group",
        "logistic regression, one random row per cluster",
        data,
        np.mean(betas, axis=0),
        vcov,
        notes=(f"mean over {len(betas)} draws of one row per cluster ({data.n_clusters} rows)",),
    )


def multilevel_binomial(data: ClusteredData) -> EstimatorResult:
    """The random-intercept logistic GLMM (Laplace): cluster-specific log-odds."""
    import pandas as pd

    from multilevel.glmm.fit import fit_glmm

    _check_binary(data)
    cols = {f"x{j}": data.X[:, j] for j in range(data.k)}
    df = pd.DataFrame({"y": data.y, "cl": data.cluster.astype(str), **cols})
    fixed = " + ".join(["0", *cols])
    m = fit_glmm(f"y ~ {fixed} + (1 | cl)", df, "binomial", warn=False)
    tau00 = float(m.random_effects[0].variances[0])
    return _result(
        "multilevel",
        "multilevel logistic (random intercept, Laplace)",
        data,
        m.beta,
        m.vcov_beta,
        loglik=m.loglik,
        notes=(
            "cluster-specific (conditional) log-odds: larger than the marginal ones of GEE "
            f"and the GLM by about sqrt(1 + 0.346 tau00) = {np.sqrt(1 + ZLA * tau00):.3f}",
        ),
        extras={"tau00": tau00, "icc": tau00 / (tau00 + np.pi**2 / 3)},
    )


def binomial_estimators(
    draws: int = 100, seed: Any = 0
) -> dict[str, Callable[[ClusteredData], EstimatorResult]]:
    return {
        "glm": glm,
        "glm_cluster_cr0": partial(glm_cluster, adjust=False),
        "glm_cluster_cr1": partial(glm_cluster, adjust=True),
        "gee_exchangeable": partial(gee_binomial, corstr="exchangeable"),
        "gee_independence": partial(gee_binomial, corstr="independence"),
        "one_per_group": partial(one_per_group_binomial, draws=draws, seed=seed),
        "multilevel": multilevel_binomial,
    }


def attenuation(tau00: float) -> float:
    """Marginal / conditional log-odds ratio for a random-intercept logistic model:
    1 / sqrt(1 + 0.346 tau00) (Zeger, Liang & Albert 1988)."""
    return float(1 / np.sqrt(1 + ZLA * tau00))


def compare_binomial(
    data: Any,
    formula: str,
    group: str | None,
    estimators: Any,
    draws: int,
    seed: Any,
    level: float,
) -> Any:
    """``compare_estimators(..., family="binomial")``: the binary-outcome estimators."""
    from multilevel.compare.compare import DEFAULT_ESTIMATORS, Comparison
    from multilevel.compare.data import clustered_data
    from multilevel.compare.table import comparison_table

    names = BINOMIAL_ESTIMATORS if estimators is DEFAULT_ESTIMATORS else tuple(estimators)
    unknown = [n for n in names if n not in BINOMIAL_ESTIMATORS]
    if unknown:
        raise ValueError(
            f"unknown estimator(s) {unknown} for a binomial outcome; choose from "
            f"{list(BINOMIAL_ESTIMATORS)}"
        )
    data_ = clustered_data(data, formula, group)
    funcs = binomial_estimators(draws=draws, seed=seed)
    results = tuple(funcs[n](data_) for n in names)
    formula_text = data_.design.formula.text if data_.design is not None else formula
    return Comparison(
        formula=formula_text,
        cluster=data_.cluster_name,
        n_obs=data_.n,
        n_clusters=data_.n_clusters,
        results=results,
        table=comparison_table(results, level=level),
        level=level,
        kish_design_effect=None,
    )


def attenuation_plot(comparison: Any, marginal: str = "gee_exchangeable") -> Any:
    """Why GEE's and the multilevel model's coefficients differ in size: per coefficient, the
    GLMM's conditional log-odds, the marginal log-odds they imply (times
    1 / sqrt(1 + 0.346 tau00)) and the ``marginal`` estimator's. Returns a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ml, pa = comparison["multilevel"], comparison[marginal]
    factor = attenuation(float(ml.extras["tau00"]))
    names = [n for n in ml.coef_names if n != "(Intercept)"]
    y = np.arange(len(names))
    cond = np.array([ml.estimate(n) for n in names])
    marg = np.array([pa.estimate(n) for n in names])
    fig, ax = plt.subplots(figsize=(9.5, 1.4 + 0.6 * len(names)))
    ax.scatter(cond, y + 0.15, color="tab:red", label="multilevel (cluster-specific)")
    ax.scatter(
        cond * factor,
        y,
        marker="x",
        color="tab:red",
        label=f"multilevel x {factor:.3f} (implied marginal)",
    )
    ax.scatter(marg, y - 0.15, color="tab:blue", label=f"{marginal} (population-averaged)")
    ax.axvline(0, color="0.8", lw=0.8)
    ax.set_yticks(y, names)
    ax.set_xlabel("log-odds")
    ax.set_title(
        f"Attenuation: marginal = conditional / sqrt(1 + 0.346 tau00), tau00 = "
        f"{ml.extras['tau00']:.3f}",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig
