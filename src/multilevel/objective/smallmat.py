"""Batches of small matrices stored "structure of arrays": shape (q, r, G), one q x r matrix per
group, the group index last and contiguous. With q <= 3 or so every operation is a handful of
vector operations over G, far faster than numpy's stacked (G, q, r) linear algebra."""

from __future__ import annotations

import numpy as np


def mm(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """X_g @ Y_g for every g."""
    return np.einsum("ikg,kjg->ijg", X, Y)


def left(L: np.ndarray, X: np.ndarray) -> np.ndarray:
    """L @ X_g for a constant matrix L."""
    return np.einsum("ik,kjg->ijg", L, X)


def right(X: np.ndarray, L: np.ndarray) -> np.ndarray:
    """X_g @ L for a constant matrix L."""
    return np.einsum("ikg,kj->ijg", X, L)


def mv(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """X_g @ v_g: (q, r, G) x (r, G) -> (q, G)."""
    return np.einsum("ijg,jg->ig", X, v)


def mtv(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """X_g' @ v_g."""
    return np.einsum("jig,jg->ig", X, v)


def to_stacked(X: np.ndarray) -> np.ndarray:
    """(q, r, G) -> (G, q, r), contiguous."""
    return np.ascontiguousarray(np.moveaxis(X, 2, 0))


def inv_logdet(T: np.ndarray) -> tuple[np.ndarray, float]:
    """Inverse of every symmetric positive definite T_g and sum_g log det T_g.

    Raises numpy.linalg.LinAlgError if some T_g is not positive definite.
    """
    q = T.shape[0]
    if q == 1:
        t = T[0, 0]
        if np.any(t <= 0):
            raise np.linalg.LinAlgError("matrix not positive definite")
        return (1.0 / t)[None, None, :], float(np.sum(np.log(t)))
    if q == 2:
        a, b, c = T[0, 0], T[1, 0], T[1, 1]
        det = a * c - b * b
        if np.any(det <= 0) or np.any(a <= 0):
            raise np.linalg.LinAlgError("matrix not positive definite")
        K = np.empty_like(T)
        K[0, 0] = c / det
        K[1, 1] = a / det
        K[0, 1] = K[1, 0] = -b / det
        return K, float(np.sum(np.log(det)))
    S = to_stacked(T)
    Lc = np.linalg.cholesky(S)
    logdet = float(2.0 * np.sum(np.log(np.diagonal(Lc, axis1=1, axis2=2))))
    eye = np.broadcast_to(np.eye(q), S.shape)
    Linv = np.linalg.solve(Lc, eye)
    K = np.matmul(np.transpose(Linv, (0, 2, 1)), Linv)
    return np.ascontiguousarray(np.moveaxis(K, 0, 2)), logdet
