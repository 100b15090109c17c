"""Inverses and log-determinants of many small symmetric positive definite matrices, stored
"structure of arrays" (d, d, N): a Cholesky factorization written as d^3/6 vector operations over
N, far faster than LAPACK called once per 2 x 2 or 3 x 3 matrix.
"""

from __future__ import annotations

import numpy as np


def inv_logdet(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse (d, d, ...) and log-determinant (...) of every M[:, :, i]; NaN log-determinant
    (and garbage inverse) where a matrix is not positive definite."""
    d = M.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        if d == 1:
            return 1.0 / M, np.log(M[0, 0])
        if d == 2:
            a, b, c = M[0, 0], M[1, 0], M[1, 1]
            det = a * c - b * b
            out = np.empty_like(M)
            out[0, 0] = c / det
            out[1, 1] = a / det
            out[0, 1] = out[1, 0] = -b / det
            return out, np.where((a > 0) & (det > 0), np.log(det), np.nan)
        L = np.zeros_like(M)
        for j in range(d):
            s = M[j, j] - np.sum(L[j, :j] ** 2, axis=0)
            L[j, j] = np.sqrt(s)
            for i in range(j + 1, d):
                L[i, j] = (M[i, j] - np.sum(L[i, :j] * L[j, :j], axis=0)) / L[j, j]
        logdet = 2.0 * np.sum(np.log(np.einsum("ii...->i...", L)), axis=0)
        # W = L^-1 (lower), then M^-1 = W'W
        W = np.zeros_like(M)
        for i in range(d):
            W[i, i] = 1.0 / L[i, i]
            for j in range(i):
                W[i, j] = -np.sum(L[i, j:i] * W[j:i, j], axis=0) / L[i, i]
        inv = np.einsum("ki...,kj...->ij...", W, W)
        return inv, logdet
