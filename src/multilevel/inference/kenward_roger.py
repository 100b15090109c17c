"""Kenward-Roger (1997) small-sample inference for fixed effects, as pbkrtest computes it.

The covariance parameters sigma_r are the variances and covariances of each random-effects
block and the residual variance, so that V = sum_r sigma_r G_r is linear in them. With
Phi = (X'V^-1 X)^-1, P_r = -X'V^-1 G_r V^-1 X, Q_rs = X'V^-1 G_r V^-1 G_s V^-1 X and W the inverse
of the REML expected information I_rs = tr(P G_r P G_s) / 2 (P the REML projection), the
adjusted covariance of beta_hat is Phi_A = Phi + 2 Phi [sum_rs W_rs (Q_rs - P_r Phi P_s)] Phi,
and a Wald F statistic for L beta gets a scale factor and denominator df (pbkrtest's
``vcovAdj`` and ``KRmodcomp``; lmerTest's ``ddf = "Kenward-Roger"`` uses the same).

No N x N matrix is built. With V = sigma^2 I + Z D Z', Woodbury's identity gives
V^-1 [Z X] = [Z X] T / sigma^2, where T is the identity minus K Z'[Z X] in its Z rows and
K = D (sigma^2 I + Z'Z D)^-1, so every quantity above is a function of the cross-products
[Z X]'[Z X]. With one grouping factor V is block diagonal and this is done for all groups at
once with (q + p) x (q + p) blocks; otherwise (crossed or nested factors) it is done once on all
random effects together, which limits it to MAX_JOINT_RANDOM_EFFECTS of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy import stats

from multilevel.design.weights import working_design
from multilevel.errors import MultilevelError
from multilevel.inference.fitted import FittedView, fitted_view

if TYPE_CHECKING:
    from multilevel.design.model import ModelDesign
    from multilevel.design.random import RandomTerm
    from multilevel.result.fit import LmmFit

MAX_JOINT_RANDOM_EFFECTS = 3000  # crossed/nested: O(q^3) time, a few (q + p)^2 arrays


@dataclass(frozen=True)
class KRTest:
    """Kenward-Roger F test of H0: L beta = rhs (pbkrtest's ``KRmodcomp``).

    ``F = scale * F_unscaled`` with ``F_unscaled = (L b - rhs)' (L Phi_A L')^-1 (L b - rhs) / ndf``,
    referred to F(ndf, ddf).
    """

    F: float
    ndf: int
    ddf: float
    scale: float
    p_value: float
    F_unscaled: float
    p_value_unscaled: float


@dataclass(frozen=True, eq=False)
class KenwardRoger:
    """Kenward-Roger adjusted covariance of beta_hat, per-coefficient df, and F tests.

    ``vcov`` is Phi_A, ``vcov_unadjusted`` is Phi = (X'V^-1X)^-1, ``P`` the k matrices P_r and
    ``W`` the k x k inverse expected REML information of the covariance parameters
    ``param_names`` (k = number of variances/covariances + 1 for the residual).
    """

    fixed_names: tuple[str, ...]
    beta: np.ndarray
    vcov: np.ndarray
    vcov_unadjusted: np.ndarray
    P: np.ndarray
    W: np.ndarray
    param_names: tuple[str, ...]
    df: np.ndarray
    # the same in the coordinates of the fit (inference/fitted.py): contrasts are tested there
    fitted: FittedView | None = field(default=None, repr=False)
    beta_fitted: np.ndarray | None = field(default=None, repr=False)
    vcov_fitted: np.ndarray | None = field(default=None, repr=False)
    Phi_fitted: np.ndarray | None = field(default=None, repr=False)
    P_fitted: np.ndarray | None = field(default=None, repr=False)

    @property
    def std_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vcov))

    def _in_fitted(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(L T, Phi~, P~, Phi_A~): a contrast of beta as one of beta~, and the matrices there."""
        if self.fitted is None or self.fitted.shift is None:
            return L, self.vcov_unadjusted, self.P, self.vcov
        assert self.Phi_fitted is not None and self.P_fitted is not None
        assert self.vcov_fitted is not None
        return self.fitted.contrast(L), self.Phi_fitted, self.P_fitted, self.vcov_fitted

    def contrast_df(self, L: np.ndarray) -> float:
        """Denominator df for the contrast(s) in the rows of L (pbkrtest's ``Lb_ddf``)."""
        Lf, Phi, P, _ = self._in_fitted(_as_contrast(L, self.beta.size))
        return _ddf_and_scale(Phi, P, self.W, Lf)[0]

    def contrast_vcov(self, L: np.ndarray) -> np.ndarray:
        """L Phi_A L' (computed about the fit's shift, where it keeps its digits)."""
        Lf, _, _, Phi_A = self._in_fitted(np.atleast_2d(np.asarray(L, float)))
        return np.asarray(Lf @ Phi_A @ Lf.T)

    def test(self, L: np.ndarray, rhs: np.ndarray | float = 0.0) -> KRTest:
        """F test of L beta = rhs for a full-row-rank contrast matrix L (rows x p)."""
        L = _as_contrast(L, self.beta.size)
        q = L.shape[0]
        Lf, Phi, P, Phi_A = self._in_fitted(L)
        if Lf is L:
            estimate = L @ self.beta
        else:  # L beta = L T beta~ + c_y L e_0
            assert self.fitted is not None and self.fitted.shift is not None
            shift = self.fitted.shift
            estimate = Lf @ self.beta_fitted + L[:, shift.intercept] * shift.y
        diff = estimate - np.broadcast_to(np.asarray(rhs, float), (q,))
        wald = float(diff @ np.linalg.solve(Lf @ Phi_A @ Lf.T, diff))
        ddf, scale = _ddf_and_scale(Phi, P, self.W, Lf)
        F_unscaled = wald / q
        F = scale * F_unscaled
        return KRTest(
            F=F,
            ndf=q,
            ddf=ddf,
            scale=scale,
            p_value=float(stats.f.sf(F, q, ddf)),
            F_unscaled=F_unscaled,
            p_value_unscaled=float(stats.f.sf(F_unscaled, q, ddf)),
        )


def kenward_roger(fit: LmmFit) -> KenwardRoger:
    """Kenward-Roger inference for a REML fit (an ML fit raises: KR is defined for REML)."""
    if not fit.reml:
        raise MultilevelError(
            "Kenward-Roger inference is defined for REML fits only (as in pbkrtest and lmerTest); "
            "refit with reml=True, or use Satterthwaite df for this ML fit"
        )
    view = fitted_view(fit)  # far predictors and random slopes: X and Z as fitted
    written, fit = fit, view.fit
    design = working_design(fit.design)  # weights and offset applied to the rows
    if design.p == 0:
        raise MultilevelError("Kenward-Roger inference needs at least one fixed effect")
    blocks = (
        _single_factor_blocks(fit, design)
        if design.is_nested_single
        else _joint_blocks(fit, design)
    )
    Phi, P, Q, K = _kr_matrices(blocks, fit.sigma**2)
    Phi_A, W = _adjusted_vcov(Phi, P, Q, K)
    L = view.contrast(np.eye(design.p))  # e_j of beta as a contrast of beta~
    df = np.array([_ddf_and_scale(Phi, P, W, row[None])[0] for row in L])
    return KenwardRoger(
        fixed_names=tuple(written.fixed_names),
        beta=np.asarray(written.beta, float),
        vcov=view.back(Phi_A),
        vcov_unadjusted=view.back(Phi),
        P=view.back(P),
        W=W,
        param_names=blocks.param_names,
        df=df,
        fitted=view,
        beta_fitted=np.asarray(fit.beta, float),
        vcov_fitted=Phi_A,
        Phi_fitted=Phi,
        P_fitted=P,
    )


# ----------------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class _Blocks:
    """Cross-products of [Z X] per block of V (g blocks, q random effects each).

    Each random-effects parameter sigma_r enters D = Var(b) through dD/dsigma_r = E_r, a 0/1
    symmetric matrix kept as the index pairs (rows, cols) of its ones.
    """

    G: np.ndarray  # (g, q + p, q + p): [Z_j X_j]'[Z_j X_j]
    n: np.ndarray  # (g,) rows per block
    D: np.ndarray | sp.spmatrix  # (q, q) covariance of the random effects of one block
    E: list[tuple[np.ndarray, np.ndarray]]
    q: int
    param_names: tuple[str, ...]


def _component(fit: LmmFit, name: str) -> np.ndarray:
    for vc in fit.random_effects:
        if vc.group == name:
            return np.asarray(vc.covariance, float)
    raise MultilevelError(f"no variance component named {name!r} in the fit")


def _block_params(
    term: RandomTerm, offset: int, n_levels: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]]:
    """E_r for each variance/covariance of ``term`` (lower triangle, by column, as pbkrtest):
    ``n_levels`` consecutive q x q blocks starting at ``offset``."""
    E, names = [], []
    base = offset + term.q * np.arange(n_levels)
    for c in range(term.q):
        for r in range(c, term.q):
            if r == c:
                E.append((base + r, base + r))
                names.append(f"{term.name}.{term.term_names[r]}")
            else:
                E.append((np.r_[base + r, base + c], np.r_[base + c, base + r]))
                names.append(f"{term.name}.{term.term_names[r]}.{term.term_names[c]}")
    return E, names


def _single_factor_blocks(fit: LmmFit, design: ModelDesign | None = None) -> _Blocks:
    """One block per level of the single grouping factor; Z_j joins all its terms' columns."""
    design = design or working_design(fit.design)
    terms = design.terms
    codes = terms[0].codes
    g = terms[0].n_levels
    q = sum(t.q for t in terms)
    D = np.zeros((q, q))
    E: list[tuple[np.ndarray, np.ndarray]] = []
    names: list[str] = []
    off = 0
    for t in terms:
        D[off : off + t.q, off : off + t.q] = _component(fit, t.name)
        e, nm = _block_params(t, off, 1)
        E += e
        names += nm
        off += t.q
    Wm = np.hstack([t.Z for t in terms] + [design.X])
    m = Wm.shape[1]
    G = np.empty((g, m, m))
    for a in range(m):
        for b in range(a, m):
            G[:, a, b] = G[:, b, a] = np.bincount(codes, weights=Wm[:, a] * Wm[:, b], minlength=g)
    n = np.bincount(codes, minlength=g).astype(float)
    return _Blocks(G, n, D, E, q, tuple(names) + ("Residual",))


def _joint_blocks(fit: LmmFit, design: ModelDesign | None = None) -> _Blocks:
    """All random effects of crossed or nested factors in one block (sparse Z, dense Z'Z)."""
    design = design or working_design(fit.design)
    q_total = sum(t.q * t.n_levels for t in design.terms)
    if q_total > MAX_JOINT_RANDOM_EFFECTS:
        raise MultilevelError(
            f"Kenward-Roger is not available for this model: it has {q_total} random effects on "
            f"crossed or nested grouping factors (limit {MAX_JOINT_RANDOM_EFFECTS}); "
            "use Satterthwaite df instead"
        )
    n = design.n
    rows, cols, vals = [], [], []
    D: list[sp.spmatrix] = []
    E: list[tuple[np.ndarray, np.ndarray]] = []
    names: list[str] = []
    off = 0
    for t in design.terms:
        size = t.q * t.n_levels
        for c in range(t.q):
            rows.append(np.arange(n))
            cols.append(off + t.codes * t.q + c)
            vals.append(t.Z[:, c])
        D.append(sp.kron(sp.identity(t.n_levels), _component(fit, t.name)))
        e, nm = _block_params(t, off, t.n_levels)
        E += e
        names += nm
        off += size
    Z = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, q_total)
    )
    X = design.X
    ZX = np.asarray(Z.T @ X)
    G = np.block([[(Z.T @ Z).toarray(), ZX], [ZX.T, X.T @ X]])[None]
    Dj = sp.block_diag(D, format="csr")
    return _Blocks(G, np.array([float(n)]), Dj, E, q_total, tuple(names) + ("Residual",))


# ----------------------------------------------------------------------------- the algebra
def _kr_matrices(blocks: _Blocks, s2: float) -> tuple[np.ndarray, ...]:
    """Phi, P (k, p, p), Q (k, k, p, p) and Ktrace_rs = tr(V^-1 G_r V^-1 G_s) (k, k).

    With G_r = Z E_r Z' per block: P_r = -C'E_r C, Q_rs = C'E_r S E_s C, Q_r,res = C'E_r F,
    tr(V^-1G_rV^-1G_s) = tr(S E_r S E_s) and tr(V^-1G_rV^-1) = tr(E_r Z'V^-2Z), where
    S = Z'V^-1Z, C = Z'V^-1X, F = Z'V^-2X, summed over blocks.
    """
    G, q, D = blocks.G, blocks.q, blocks.D
    g, m, _ = G.shape
    DA = _times_D(D, G[:, :q, :q])
    SC = np.linalg.solve(s2 * np.eye(q) + DA.transpose(0, 2, 1), G[:, :q, :])  # Z'V^-1 [Z X]
    KG = _times_D(D, SC)  # K Z'[Z X], K = D (s2 I + Z'Z D)^-1
    T = np.broadcast_to(np.eye(m), (g, m, m)).copy()  # V^-1 [Z X] = [Z X] T / s2
    T[:, :q, :] -= KG
    H1 = np.concatenate([SC, (G[:, q:, :] - G[:, q:, :q] @ KG) / s2], axis=1)  # [Z X]'V^-1[Z X]
    H1 = (H1 + H1.transpose(0, 2, 1)) / 2
    Tt = T.transpose(0, 2, 1)
    H1x = H1[:, :, q:]
    S, C = H1[:, :q, :q], H1[:, :q, q:]
    F = Tt[:, :q, :q] @ C / s2  # Z' V^-2 X
    XV2X = (Tt[:, q:, :] @ H1x).sum(0) / s2
    XV3X = (Tt[:, q:, :] @ H1 @ T[:, :, q:]).sum(0) / s2**2
    KA = KG[:, :, :q]
    trV2 = (blocks.n - 2 * np.trace(KA, axis1=1, axis2=2) + np.einsum("gab,gba->g", KA, KA)) / s2**2

    Phi = np.linalg.inv(H1[:, q:, q:].sum(0))
    Phi = (Phi + Phi.T) / 2
    nr = len(blocks.E)
    k, p = nr + 1, Phi.shape[0]
    P = np.empty((k, p, p))
    Q = np.empty((k, k, p, p))
    K = np.empty((k, k))
    for r, (ri, ci) in enumerate(blocks.E):
        ECr = C[:, ci, :]  # the rows ri of E_r C
        P[r] = -(C[:, ri, :].transpose(0, 2, 1) @ ECr).sum(0)
        for s, (rj, cj) in enumerate(blocks.E):
            Srs = S[:, ri[:, None], rj[None, :]]
            Q[r, s] = (ECr.transpose(0, 2, 1) @ Srs @ C[:, cj, :]).sum(0)
            K[r, s] = np.sum(S[:, cj[:, None], ri[None, :]] * S[:, rj[:, None], ci[None, :]])
        Q[r, nr] = (ECr.transpose(0, 2, 1) @ F[:, ri, :]).sum(0)
        Q[nr, r] = Q[r, nr].T
        # tr(E_r Z'V^-2 Z) = sum over the ones (i, j) of E_r of (T'H1)[j, i] / s2
        K[r, nr] = K[nr, r] = np.sum(T[:, :, ci] * H1[:, :, ri]) / s2
    P[nr] = -XV2X
    Q[nr, nr] = XV3X
    K[nr, nr] = trV2.sum()
    P = (P + P.transpose(0, 2, 1)) / 2
    return Phi, P, Q, K


def _times_D(D: np.ndarray | sp.spmatrix, M: np.ndarray) -> np.ndarray:
    """D @ M_j for each block j (D sparse only for the one-block crossed/nested case)."""
    if sp.issparse(D):
        return np.stack([np.asarray(D @ Mj) for Mj in M])
    return D @ M


def _adjusted_vcov(
    Phi: np.ndarray, P: np.ndarray, Q: np.ndarray, K: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Phi_A and W = 2 IE2^-1, where IE2_rs = 2 I_rs = tr(P G_r P G_s) is
    tr(V^-1 G_r V^-1 G_s) - 2 tr(Phi Q_rs) + tr(Phi P_r Phi P_s)."""
    PhiP = Phi @ P  # (k, p, p)
    IE2 = K - 2 * np.einsum("ab,rsba->rs", Phi, Q) + np.einsum("rab,sba->rs", PhiP, PhiP)
    IE2 = (IE2 + IE2.T) / 2
    if np.min(np.abs(np.linalg.eigvalsh(IE2))) > 1e-10:
        W = 2 * np.linalg.inv(IE2)
    else:  # singular information (e.g. a boundary fit): pbkrtest uses a generalized inverse
        W = 2 * np.linalg.pinv(IE2)
    W = (W + W.T) / 2
    U = np.einsum("rs,rsab->ab", W, Q) - np.einsum("rs,rab,sbc->ac", W, P @ Phi, P)
    U = (U + U.T) / 2
    Phi_A = Phi + 2 * Phi @ U @ Phi
    return (Phi_A + Phi_A.T) / 2, W


def _as_contrast(L: np.ndarray, p: int) -> np.ndarray:
    L = np.atleast_2d(np.asarray(L, float))
    if L.shape[1] != p:
        raise MultilevelError(f"the contrast matrix has {L.shape[1]} columns for {p} fixed effects")
    if np.linalg.matrix_rank(L) < L.shape[0]:
        raise MultilevelError(
            f"the contrast matrix ({L.shape[0]} rows) is not of full row rank; drop redundant rows"
        )
    return L


def _ddf_and_scale(
    Phi: np.ndarray, P: np.ndarray, W: np.ndarray, L: np.ndarray
) -> tuple[float, float]:
    """Kenward-Roger denominator df and F scale for H0: L beta = 0 (L of full row rank q)."""
    q = L.shape[0]
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    U = Theta @ Phi @ P @ Phi  # (k, p, p)
    tr = np.trace(U, axis1=1, axis2=2)
    A1 = float(tr @ W @ tr)
    A2 = float(np.einsum("rs,rab,sba->", W, U, U))
    B = (A1 + 6 * A2) / (2 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    denom = 3 * q + 2 * (1 - g)
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2 - g) / denom
    V0, V1, V2 = 1 + c1 * B, 1 - c2 * B, 1 - c3 * B
    V0 = 0.0 if abs(V0) < 1e-10 else V0
    ratio = 1.0 if abs(1 - A2 / q) < 1e-14 and abs(V1) < 1e-14 else (1 - A2 / q) / V1
    rho = ratio**2 * V0 / (q * V2)
    ddf = 4 + (q + 2) / (q * rho - 1)
    scale = 1.0 if abs(ddf - 2) < 0.01 else ddf * (1 - A2 / q) / (ddf - 2)
    return float(ddf), float(scale)
