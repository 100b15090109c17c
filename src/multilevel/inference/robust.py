"""Cluster-robust (sandwich) standard errors for the fixed effects of the multilevel model
itself, as HLM's "robust standard errors" and R's clubSandwich (``vcovCR``, ``coef_test(...,
test = "Satterthwaite")``) compute them for lmer fits.

With the model's marginal covariance V_j = sigma^2 (I + Z_j Lambda Lambda' Z_j') of cluster j
as working model and W_j = V_j^-1 (the GLS weights), M = (sum X_j'W_j X_j)^-1 and marginal
residuals e_j = y_j - X_j beta,

    Var_CR(beta) = sum_j E_j e_j e_j' E_j',   E_j = M X_j' W_j A_j,

with A_j = I (CR0), A_j = sqrt(J / (J - 1)) I (CR1), or Bell and McCaffrey's A_j (CR2):
A_j = R_j' G_j^-1/2 R_j, R_j the Cholesky factor of V_j, G_j = R_j (I - X_j M X_j'W_j) V_j R_j'.
Degrees of freedom are Pustejovsky and Tipton's (2018) Satterthwaite approximation under the
working model: df = (sum_j s_j's_j)^2 / sum_ij (s_i's_j)^2 for each coefficient. V is used up
to the factor sigma^2, to which every quantity here is invariant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.design.weights import working_design
from multilevel.errors import MultilevelError
from multilevel.inference.fitted import fitted_view

if TYPE_CHECKING:
    from multilevel.result.fit import LmmFit

TYPES = ("CR0", "CR1", "CR2")


def _cluster(fit: LmmFit, cluster: str | None) -> tuple[str, np.ndarray, int]:
    """The clustering factor (the model's grouping factor, or the one named), its codes, and
    a check that every random effect is nested within clusters (V block diagonal by cluster)."""
    terms = fit.design.terms
    factors = list(dict.fromkeys(t.grouping_factor for t in terms))
    if cluster is None:
        # the outermost factor: the one in which all others are nested (fewest levels first)
        by_size = sorted(
            factors, key=lambda f: next(t.n_levels for t in terms if t.grouping_factor == f)
        )
        cluster = by_size[0]
    term = next((t for t in terms if t.grouping_factor == cluster), None)
    if term is None:
        raise MultilevelError(
            f"cluster {cluster!r} is not a grouping factor of the model ({', '.join(factors)})"
        )
    codes = term.codes
    for t in terms:
        if t.grouping_factor == cluster:
            continue
        pairs = np.unique(np.stack([t.codes, codes]), axis=1)
        if len(np.unique(pairs[0])) != pairs.shape[1]:
            raise MultilevelError(
                f"cluster-robust standard errors need every random effect nested in the "
                f"clusters; {t.grouping_factor!r} is crossed with {cluster!r}"
            )
    return cluster, codes, term.n_levels


def _sym_power(G: np.ndarray, power: float, tol: float = 1e-12) -> np.ndarray:
    values, vectors = np.linalg.eigh(G)
    scaled = np.where(values > tol, np.abs(values) ** power, 0.0)
    return (vectors * scaled) @ vectors.T


def robust_vcov(
    fit: LmmFit, type: str = "CR2", cluster: str | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """(Var_CR(beta), Satterthwaite df per coefficient, the cluster factor)."""
    kind = str(type).upper()
    if kind not in TYPES:
        raise MultilevelError(f"vcov must be 'model' or one of {', '.join(TYPES)}, not {type!r}")
    name, codes, J = _cluster(fit, cluster)
    view = fitted_view(fit)  # far predictors and random slopes: X and Z as fitted
    fit = view.fit
    design = working_design(fit.design)
    X = design.X
    y = design.y
    p = X.shape[1]
    e = y - X @ fit.beta
    Lams = [t.Lambda(th) for t, th in zip(design.terms, design.split_theta(fit.theta), strict=True)]
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(J + 1))
    rows = [order[bounds[j] : bounds[j + 1]] for j in range(J)]
    V, W, Lc = [], [], []
    for idx in rows:
        Vj = np.eye(idx.size)
        for t, Lam in zip(design.terms, Lams, strict=True):
            ZL = t.Z[idx] @ Lam
            block = ZL @ ZL.T
            if t.grouping_factor != name:
                c = t.codes[idx]
                block = block * (c[:, None] == c[None, :])
            Vj += block
        L = np.linalg.cholesky(Vj)
        V.append(Vj)
        Lc.append(L)
        W.append(np.linalg.inv(Vj))
    XW = [X[idx].T @ Wj for idx, Wj in zip(rows, W, strict=True)]
    M = np.linalg.inv(sum(xw @ X[idx] for xw, idx in zip(XW, rows, strict=True)))
    E = []
    for idx, xw, Vj, L in zip(rows, XW, V, Lc, strict=True):
        Ej = M @ xw
        if kind == "CR2":
            R = L.T
            IH = np.eye(idx.size) - X[idx] @ M @ xw
            G = R @ IH @ Vj @ R.T
            Ej = Ej @ (R.T @ _sym_power((G + G.T) / 2, -0.5) @ R)
        elif kind == "CR1":
            Ej = Ej * np.sqrt(J / (J - 1))
        E.append(Ej)
    U = np.column_stack([Ej @ e[idx] for Ej, idx in zip(E, rows, strict=True)])  # (p, J)
    vcov = view.back(U @ U.T)
    T = view.T  # the df of coefficient k (of beta) are those of row k of T E_j (of beta~)
    if T is not None:
        E = [T @ Ej for Ej in E]
    # Satterthwaite df: s_jk = (row k of E_j) (rows of I - H in cluster j) Theta^1/2, with
    # H = X M X'W and Theta^1/2 block diagonal (L_i, columns in cluster order)
    n = X.shape[0]
    Q = np.zeros((p, n))  # M X_i'W_i L_i, cluster by cluster
    start = np.concatenate([[0], np.cumsum([idx.size for idx in rows])])
    for i, (xw, L) in enumerate(zip(XW, Lc, strict=True)):
        Q[:, start[i] : start[i + 1]] = M @ xw @ L
    df = np.empty(p)
    for k in range(p):
        S = np.zeros((J, n))
        for j, (Ej, idx, L) in enumerate(zip(E, rows, Lc, strict=True)):
            a = Ej[k] @ X[idx]  # (p,)
            S[j] = -a @ Q
            S[j, start[j] : start[j + 1]] += Ej[k] @ L
        gram = S @ S.T
        df[k] = np.trace(gram) ** 2 / np.sum(gram**2)
    return vcov, df, name


def robust_table(fit: LmmFit, type: str = "CR2", cluster: str | None = None) -> pd.DataFrame:
    """estimate, std_error, t_value, df, p_value with cluster-robust SEs (clubSandwich)."""
    vcov, df, name = robust_vcov(fit, type, cluster)
    se = np.sqrt(np.diag(vcov))
    t = fit.beta / se
    out = pd.DataFrame(
        {
            "estimate": fit.beta,
            "std_error": se,
            "t_value": t,
            "df": df,
            "p_value": 2 * stats.t.sf(np.abs(t), df),
        },
        index=pd.Index(fit.fixed_names, name="term"),
    )
    out.attrs["vcov"] = f"{str(type).upper()} cluster-robust by {name!r}"
    return out
