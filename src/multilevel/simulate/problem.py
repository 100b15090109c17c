"""What a refit needs that does not change with the response: the design's cross-products and
the model matrices, so a new response y costs only X'y, Z_j'y_j and y'y.

For a linear mixed model only y changes between refits of a simulation or a bootstrap. The
cross-products A_j = Z_j'Z_j, X'X, Z_rest'Z_rest, Z_1'Z_rest are kept from the design; for a new
y the columns Z_1'y (per group), X'y, Z_rest'y and y'y are computed, for many responses at once
as sparse and dense matrix products, and put in place of the old ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from multilevel.design.model import ModelDesign
from multilevel.design.shift import Shift
from multilevel.errors import MultilevelError
from multilevel.objective.crossprod import CrossProducts, cross_products, first_block, rest_matrix


@dataclass(frozen=True, eq=False)
class RefitProblem:
    """The fixed part of every refit of one design: template cross-products and the matrices
    that give the response's cross-products (all numpy/scipy arrays: cheap to send to workers).

    ``Z1`` (n x G*Q) is the first block's Z with columns ordered group by group (j*Q + k);
    ``Zr`` the other terms' Z; ``Z`` all random effects in the order of the design's terms and
    ``Lambda_rows/cols/index`` where theta goes in the block-diagonal Lambda of that Z.
    """

    xp: CrossProducts
    X: np.ndarray
    Z1: sp.csr_matrix
    Zr: sp.csr_matrix | None
    Z: sp.csr_matrix
    lambda_rows: np.ndarray
    lambda_cols: np.ndarray
    lambda_index: np.ndarray
    theta_lower: np.ndarray
    theta_start: np.ndarray
    # X (and y) about a shift when a column lies far from zero (design/shift.py): X holds
    # X~ = X T, responses enter as y - c_y, refits come back as beta = T beta~ + c_y e_0
    shift: Shift | None = None

    @property
    def n(self) -> int:
        return self.xp.n

    @property
    def p(self) -> int:
        return self.xp.p

    @property
    def n_random(self) -> int:
        return int(self.Z.shape[1])

    def Lambda(self, theta: np.ndarray) -> sp.csr_matrix:
        """The block-diagonal relative covariance factor of all random effects (columns of Z)."""
        q = self.n_random
        return sp.csr_matrix(
            (np.asarray(theta, float)[self.lambda_index], (self.lambda_rows, self.lambda_cols)),
            shape=(q, q),
        )

    def mean(self, beta: np.ndarray) -> np.ndarray:
        """X beta, computed as X~ beta~ + c_y (X~ = X T keeps the digits X loses far from 0)."""
        beta = np.asarray(beta, float)
        if self.shift is None:
            return self.X @ beta
        s = self.shift
        fitted = beta.copy()  # beta~ = T^-1 (beta - c_y e_0), T^-1 = I + e_0 x'
        fitted[s.intercept] += float(s.x @ beta) - s.y
        return self.X @ fitted + s.y

    def written(self, beta: np.ndarray, vcov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Refits' beta~ (rows) and Var(beta~) (stack) as beta = T beta~ + c_y e_0, T V T'."""
        if self.shift is None:
            return beta, vcov
        T = self.shift.T
        beta = beta @ T.T
        beta[..., self.shift.intercept] += self.shift.y
        return beta, np.matmul(np.matmul(T, vcov), T.T)

    def response_products(self, Y: np.ndarray) -> ResponseProducts:
        """X'y, Z_1'y, Z_rest'y and y'y for each column y of Y (n x k), y about c_y."""
        Y = np.asarray(Y, float)
        if Y.ndim == 1:
            Y = Y[:, None]
        if self.shift is not None and self.shift.y:
            Y = Y - self.shift.y
        xp = self.xp
        Zy = np.asarray(self.Z1.T @ Y)  # (G*Q, k)
        Zy = Zy.reshape(xp.G, xp.Q, Y.shape[1]).transpose(1, 0, 2)  # (Q, G, k)
        Zry = None if self.Zr is None else np.asarray(self.Zr.T @ Y)
        return ResponseProducts(Xy=self.X.T @ Y, Z1y=Zy, Zry=Zry, yy=np.einsum("ik,ik->k", Y, Y))

    def cross_products_for(self, rp: ResponseProducts, k: int) -> CrossProducts:
        """The cross-products of the design with the k-th response of ``rp``."""
        xp, p = self.xp, self.p
        B = xp.B.copy()
        B[:, p, :] = rp.Z1y[:, :, k]
        C = xp.C.copy()
        C[:p, p] = C[p, :p] = rp.Xy[:, k]
        C[p, p] = rp.yy[k]
        changes: dict = dict(B=B, C=C, yy=float(rp.yy[k]))
        if rp.Zry is not None:
            assert xp.C_rw is not None
            C_rw = xp.C_rw.copy()
            C_rw[:, -1] = rp.Zry[:, k]
            changes["C_rw"] = C_rw
        return replace(xp, **changes)


@dataclass(frozen=True)
class ResponseProducts:
    """The cross-products that involve the response, one column per response."""

    Xy: np.ndarray  # (p, k)
    Z1y: np.ndarray  # (Q, G, k)
    Zry: np.ndarray | None  # (n_rest, k)
    yy: np.ndarray  # (k,)


def first_block_matrix(design: ModelDesign) -> sp.csr_matrix:
    """Z of the first block (n x G*Q), column j*Q + k for effect k of group j (as CrossProducts)."""
    first, _ = first_block(design)
    n = design.n
    Q = sum(t.q for t in first)
    G = first[0].n_levels
    Z1 = np.hstack([t.Z for t in first])
    rows = np.repeat(np.arange(n), Q)
    cols = (first[0].codes[:, None] * Q + np.arange(Q)[None, :]).ravel()
    return sp.csr_matrix((Z1.ravel(), (rows, cols)), shape=(n, G * Q))


def all_random_matrix(
    design: ModelDesign,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """Z of all terms (term by term, level by level) and where theta sits in its Lambda."""
    Z, offsets = rest_matrix(list(design.terms), design.n)
    rows, cols, index = [], [], []
    k = 0
    for t, off in zip(design.terms, offsets, strict=True):
        tr, tc = t.tril
        base = off + t.q * np.arange(t.n_levels)
        for r, c in zip(tr, tc, strict=True):
            rows.append(base + r)
            cols.append(base + c)
            index.append(np.full(t.n_levels, k))
            k += 1
    return (
        Z.tocsr(),
        np.concatenate(rows),
        np.concatenate(cols),
        np.concatenate(index),
    )


def check_supported(fit: object) -> None:
    """Refuse what simulation from the model does not cover yet, instead of wrong numbers:
    fits without their design (from chunks), GLMMs, residual structures, weights and offsets."""
    design = getattr(fit, "design", None)
    if not isinstance(design, ModelDesign):
        raise MultilevelError(
            "simulation needs a fit with its data in memory (multilevel.fit); a fit from "
            "chunks (fit_large) keeps only cross-products"
        )
    family = getattr(fit, "family", None)
    if family is not None and str(getattr(family, "name", family)).lower() != "gaussian":
        raise MultilevelError(
            f"simulation from a {family} model is not available yet: only linear mixed models"
        )
    if getattr(fit, "residual_structure", None) is not None:  # hook: multilevel.residual
        raise MultilevelError(
            "simulation from a model with a residual correlation or variance function is not "
            "available yet: refit without correlation=/variance= to simulate, bootstrap or "
            "estimate power"
        )
    if getattr(fit, "residual_structure", None) is not None:
        raise MultilevelError(
            "simulation from a model with a residual correlation or variance function "
            "(correlation=/variance=) is not available yet: only independent residuals"
        )
    for name in ("weights", "offset"):
        for owner in (fit, design):
            if getattr(owner, name, None) is not None:
                raise MultilevelError(
                    f"simulation from a model with {name} is not available yet: refit without "
                    f"{name} to simulate, bootstrap or estimate power"
                )


def refit_problem(design: ModelDesign) -> RefitProblem:
    """Everything about ``design`` a refit with a new response reuses."""
    xp = cross_products(design)
    X = design.fixed.shifted() if xp.shift is not None and design.fixed.shift is not None else None
    _, rest = first_block(design)
    Zr = rest_matrix(rest, design.n)[0].tocsr() if rest else None
    Z, rows, cols, index = all_random_matrix(design)
    return RefitProblem(
        xp=xp,
        X=np.ascontiguousarray(design.X if X is None else X.array),
        Z1=first_block_matrix(design),
        Zr=Zr,
        Z=Z,
        lambda_rows=rows,
        lambda_cols=cols,
        lambda_index=index,
        theta_lower=design.theta_lower(),
        theta_start=design.theta_start(),
        shift=xp.shift,
    )
