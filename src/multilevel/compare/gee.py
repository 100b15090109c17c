"""Generalized estimating equations (Gaussian, identity link) with robust SEs, via statsmodels.

GEE estimates the population-averaged (marginal) mean model with a working correlation inside
each cluster (exchangeable: corr(e_gj, e_gk) = alpha; or independence) and sandwich SEs that are
valid even if that working correlation is wrong.

Conventions, matching R's ``geepack::geeglm``: the moment estimators use no degrees-of-freedom
correction, ``scale = sum r^2 / N`` and ``alpha = sum_g sum_{j<k} r_gj r_gk /
(scale * sum_g n_g (n_g - 1) / 2)``. statsmodels' default divides by N - p (``ddof_scale = p``);
we pass ``ddof_scale=0`` so the iterations use geepack's estimators, and report scale and alpha
recomputed from the residuals at the final beta (statsmodels' ``dep_params`` is from the last
update, one iteration earlier). Robust SEs are the plain sandwich (geepack ``san.se``).
"""

from __future__ import annotations

import warnings

import numpy as np

from multilevel.compare.data import ClusteredData
from multilevel.compare.protocol import EstimatorResult
from multilevel.errors import DataError

CORSTRS = ("exchangeable", "independence")


def geepack_moments(resid: np.ndarray, cluster: np.ndarray, G: int) -> tuple[float, float]:
    """(scale, alpha) by geepack's moment estimators from residuals r (Gaussian, phi = 1)."""
    n = resid.shape[0]
    scale = float(resid @ resid) / n
    sums = np.bincount(cluster, weights=resid, minlength=G)
    squares = np.bincount(cluster, weights=resid**2, minlength=G)
    sizes = np.bincount(cluster, minlength=G).astype(float)
    pair_products = float(np.sum((sums**2 - squares) / 2))
    n_pairs = float(np.sum(sizes * (sizes - 1) / 2))
    alpha = pair_products / (scale * n_pairs) if n_pairs > 0 else float("nan")
    return scale, alpha


def gee(
    data: ClusteredData, corstr: str = "exchangeable", *, tol: float = 1e-10, maxiter: int = 200
) -> EstimatorResult:
    """Gaussian GEE with working correlation ``corstr`` and sandwich SEs."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    if corstr not in CORSTRS:
        raise ValueError(f"corstr must be one of {CORSTRS}, not {corstr!r}")
    G = data.n_clusters
    cov_struct = (
        sm.cov_struct.Exchangeable() if corstr == "exchangeable" else sm.cov_struct.Independence()
    )
    model = sm.GEE(
        data.y, data.X, groups=data.cluster, family=sm.families.Gaussian(), cov_struct=cov_struct
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            res = model.fit(maxiter=maxiter, ctol=tol, ddof_scale=0, cov_type="robust")
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise DataError(f"GEE ({corstr}) failed: {exc}") from None
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    beta = np.asarray(res.params, dtype=float)
    vcov = np.asarray(res.cov_robust, dtype=float)
    scale, alpha = geepack_moments(data.y - data.X @ beta, data.cluster, G)
    notes = [
        f"robust (sandwich) SEs over {G} clusters, normal reference",
        "marginal (population-averaged) coefficients; no likelihood",
    ]
    if not converged:
        notes.append(f"GEE did not converge in {maxiter} iterations")
    extras = {
        "scale": scale,
        "std_error_naive": np.sqrt(np.diag(np.asarray(res.cov_naive))),
        "converged": converged,
        "corstr": corstr,
    }
    if corstr == "exchangeable":
        extras["alpha"] = alpha
    return EstimatorResult(
        name=f"gee_{corstr}",
        label=f"GEE, {corstr} working correlation",
        coef_names=data.names,
        estimates=beta,
        std_errors=np.sqrt(np.diag(vcov)),
        vcov=vcov,
        df=np.full(data.k, np.inf),
        n_obs=data.n,
        n_clusters=G,
        loglik=None,
        notes=tuple(notes),
        extras=extras,
    )
