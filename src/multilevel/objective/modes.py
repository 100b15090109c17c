"""Conditional modes of the random effects (BLUPs) and their conditional variances.

In spherical coordinates u (b = Lambda u) the modes solve (Lambda'Z'Z Lambda + I) u = Lambda'Z'(y - X beta)
and Var(u | y) = sigma^2 (Lambda'Z'Z Lambda + I)^-1, whose diagonal blocks (mapped back by Lambda)
are lme4's ``condVar``. The first block is eliminated per group, the rest through the dense Schur
complement already factored for the deviance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from multilevel.design.model import ModelDesign
from multilevel.objective import smallmat as sm
from multilevel.objective.crossprod import first_block
from multilevel.objective.deviance import Evaluation, ProfiledDeviance


@dataclass(frozen=True)
class TermModes:
    """Conditional modes ``b`` (levels x q) and conditional covariances (levels x q x q)."""

    b: np.ndarray
    cond_var: np.ndarray


def conditional_modes(
    design: ModelDesign, dev: ProfiledDeviance, ev: Evaluation, sigma2: float
) -> dict[str, TermModes]:
    """Modes and conditional covariances per random term, keyed by the term's lme4 name."""
    xp = dev.xp
    p, G, Q, nr = xp.p, xp.G, xp.Q, xp.n_rest
    beta = ev.beta
    L1 = ev.Lambda1
    # Lambda1' Z_j'(y - X beta) per group
    B = sm.to_stacked(xp.B)  # (G, Q, p + 1)
    K = sm.to_stacked(ev.K)  # (G, Q, Q)
    resid_cross = B[:, :, p] - B[:, :, :p] @ beta
    rhs1 = resid_cross @ L1  # (G, Q): rows are (Lambda1' r_j)'
    if nr == 0:
        u1 = np.einsum("gij,gj->gi", K, rhs1)
        var_u1 = K
        u_r = np.zeros(0)
        var_ur_full = np.zeros((0, 0))
    else:
        assert xp.B_rest is not None and ev.Lambda_rest is not None
        Lr = ev.Lambda_rest
        Lbd1 = sp.block_diag([L1.T] * G, format="csr")
        P1r = (Lbd1 @ xp.B_rest @ Lr).tocsr()  # (G*Q, nr)
        rhs_r = Lr.T @ (xp.C[:nr, -1] - xp.C[:nr, nr : nr + p] @ beta)
        Kbsr = sp.bsr_matrix((K, np.arange(G), np.arange(G + 1)), shape=(G * Q, G * Q))
        Krhs1 = (Kbsr @ rhs1.ravel())
        Rrr = ev.R[:nr, :nr]
        Rinv = sla.solve_triangular(Rrr, np.eye(nr), lower=True)
        Srr_inv = Rinv.T @ Rinv
        u_r = Srr_inv @ (rhs_r - P1r.T @ Krhs1)
        u1 = (Kbsr @ (rhs1.ravel() - P1r @ u_r)).reshape(G, Q)
        KP = np.asarray((Kbsr @ P1r).todense()) if nr * G * Q < 5e7 else None
        if KP is not None:
            W = KP @ Srr_inv  # (G*Q, nr)
            extra = np.einsum("ia,ia->i", W, KP) if Q == 1 else None
            if Q == 1:
                var_u1 = K + extra.reshape(G, 1, 1)
            else:
                W3 = W.reshape(G, Q, nr)
                KP3 = KP.reshape(G, Q, nr)
                var_u1 = K + np.einsum("gia,gja->gij", W3, KP3)
        else:  # too large to form densely: conditional on the other factors
            var_u1 = K
        var_ur_full = Srr_inv

    out: dict[str, TermModes] = {}
    first, rest = first_block(design)
    off = 0
    b1 = np.einsum("ij,gj->gi", L1, u1)
    V1 = sigma2 * np.matmul(np.matmul(L1, var_u1), L1.T)
    for t in first:
        sl = slice(off, off + t.q)
        out[t.name] = TermModes(b=b1[:, sl], cond_var=V1[:, sl, sl])
        off += t.q
    off = 0
    for t in rest:
        size = t.n_levels * t.q
        Lt = t.Lambda(dev_theta_slice(design, ev.theta, t.name))
        ut = u_r[off : off + size].reshape(t.n_levels, t.q)
        Vu = np.stack(
            [var_ur_full[off + j * t.q : off + (j + 1) * t.q, off + j * t.q : off + (j + 1) * t.q]
             for j in range(t.n_levels)]
        )
        out[t.name] = TermModes(b=ut @ Lt.T, cond_var=sigma2 * np.matmul(np.matmul(Lt, Vu), Lt.T))
        off += size
    return out


def dev_theta_slice(design: ModelDesign, theta: np.ndarray, name: str) -> np.ndarray:
    """The theta elements of the term called ``name``."""
    for t, th in zip(design.terms, design.split_theta(theta), strict=True):
        if t.name == name:
            return th
    raise KeyError(name)
