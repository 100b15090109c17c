"""The fixed-effects model: a dummy (intercept) per cluster, i.e. the within estimator.

``y_ij = alpha_j + x_ij' beta + e_ij``. Demeaning y and X within clusters removes alpha_j, and
OLS on the demeaned data gives beta and its classical SE exactly as ``lm(y ~ x + factor(g))``
does (residual df N - G - K_w). Any predictor that is constant within every cluster (a level-2
predictor such as ``meanses`` or ``catholic``), or a combination of such predictors, is absorbed by
the dummies: it is reported as not estimable, never an error.
"""

from __future__ import annotations

import numpy as np

from multilevel.compare.data import ClusteredData
from multilevel.compare.ols import gaussian_loglik, ols_fit
from multilevel.compare.protocol import EstimatorResult
from multilevel.design.fixed import aliased_columns
from multilevel.errors import DataError


def fixed_effects(data: ClusteredData) -> EstimatorResult:
    """Within (LSDV) estimator with classical SEs; level-2 columns come back as ``nan``."""
    G, n, k = data.n_clusters, data.n, data.k
    Xw = data.within(data.X)
    yw = data.within(data.y)
    # a column is estimable if it keeps variation after demeaning and is not aliased with
    # earlier kept columns; the intercept is replaced by the cluster dummies
    norms = np.sqrt(np.einsum("ij,ij->j", data.X, data.X))
    wnorms = np.sqrt(np.einsum("ij,ij->j", Xw, Xw))
    varying = [j for j in range(k) if wnorms[j] > 1e-9 * max(norms[j], 1.0)]
    aliased = {varying[i] for i in aliased_columns(Xw[:, varying])} if varying else set()
    keep = [j for j in varying if j not in aliased]
    dropped = [data.names[j] for j in range(k) if j not in keep]

    estimates = np.full(k, np.nan)
    std_errors = np.full(k, np.nan)
    vcov = np.full((k, k), np.nan)
    df_res = n - G - len(keep)
    if df_res <= 0:
        raise DataError(
            f"the fixed-effects model has {G} cluster dummies and {len(keep)} slopes for {n} rows; "
            "no residual degrees of freedom are left"
        )
    if keep:
        f = ols_fit(yw, Xw[:, keep])
        rss = f.rss
        sigma2 = rss / df_res
        v = sigma2 * f.bread
        estimates[keep] = f.beta
        std_errors[keep] = np.sqrt(np.diag(v))
        vcov[np.ix_(keep, keep)] = v
    else:
        rss = float(yw @ yw)
        sigma2 = rss / df_res
    notes = [f"within estimator: one intercept per {data.cluster_name} ({G} dummies)"]
    level2 = [d for d in dropped if d != "(Intercept)"]
    if level2:
        notes.append(
            "not estimable (constant within every cluster, absorbed by the cluster dummies): "
            + ", ".join(level2)
        )
    return EstimatorResult(
        name="fixed_effects",
        label=f"Fixed effects (dummy per {data.cluster_name})",
        coef_names=data.names,
        estimates=estimates,
        std_errors=std_errors,
        vcov=vcov,
        df=np.full(k, float(df_res)),
        n_obs=n,
        n_clusters=G,
        loglik=gaussian_loglik(rss, n),
        notes=tuple(notes),
        extras={"sigma": float(np.sqrt(sigma2)), "df_residual": df_res, "not_estimable": dropped},
    )
