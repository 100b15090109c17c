"""Which Laplace engine a design gets, and the pieces both need: Z and Lambda's layout, and a
GLM start for beta."""

from __future__ import annotations

import numpy as np

from multilevel.glmm.design import GlmmDesign
from multilevel.glmm.general import GeneralLaplace
from multilevel.glmm.grouped import GroupedLaplace


def make_engine(gd: GlmmDesign) -> GroupedLaplace | GeneralLaplace:
    """Per-group vectorised engine for one grouping factor, sparse engine otherwise."""
    d = gd.base
    X = np.ascontiguousarray(d.X, dtype=float)
    if d.is_nested_single:
        Z = np.column_stack([t.Z for t in d.terms]).astype(float)
        rows: list[int] = []
        cols: list[int] = []
        off = 0
        for t in d.terms:
            r, c = t.tril
            rows.extend(r + off)
            cols.extend(c + off)
            off += t.q
        t0 = d.terms[0]
        return GroupedLaplace(
            X,
            Z,
            t0.codes,
            t0.n_levels,
            gd.y,
            gd.weights,
            gd.offset,
            gd.family,
            np.array(rows),
            np.array(cols),
        )
    idx: list[np.ndarray] = []
    val: list[np.ndarray] = []
    term_cols: list[tuple[int, int]] = []
    theta_pos: list[tuple[int, int, int]] = []
    off, col = 0, 0
    for ti, t in enumerate(d.terms):
        Zt = np.asarray(t.Z, dtype=float)
        for k in range(t.q):
            idx.append(off + t.codes * t.q + k)
            val.append(Zt[:, k])
        term_cols.append((col, col + t.q))
        r, c = t.tril
        theta_pos.extend((ti, int(ri), int(ci)) for ri, ci in zip(r, c, strict=True))
        off += t.n_levels * t.q
        col += t.q
    return GeneralLaplace(
        X,
        np.stack(idx, axis=1),
        np.stack(val, axis=1),
        off,
        term_cols,
        theta_pos,
        gd.y,
        gd.weights,
        gd.offset,
        gd.family,
    )


def glm_start(gd: GlmmDesign, max_iter: int = 30) -> np.ndarray:
    """beta of the GLM without random effects (IRLS), the usual start for a GLMM."""
    X = np.asarray(gd.base.X, dtype=float)
    fam, y, w = gd.family, gd.y, gd.weights
    mu0 = (w * y + 0.5) / (w + 1.0) if fam.name == "binomial" else y + 0.1
    eta = fam.linkfun(mu0)
    beta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        rt = fam.rows(eta, y, w)
        b = np.maximum(rt.b, 1e-12)
        z = eta - gd.offset - rt.a / b
        XtW = X.T * b
        new = np.linalg.solve(XtW @ X, XtW @ z)
        eta = gd.offset + X @ new
        done = np.max(np.abs(new - beta)) < 1e-8 * (1 + np.max(np.abs(new)))
        beta = new
        if done:
            break
    return beta
