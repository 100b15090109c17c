"""Batched inverses and log-determinants of small SPD matrices against numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.simulate.spd import inv_logdet


@pytest.mark.parametrize("d", [1, 2, 3, 4, 6])
def test_inverse_and_logdet(d: int) -> None:
    rng = np.random.default_rng(d)
    A = rng.standard_normal((11, 5, d, d))
    M = A @ np.swapaxes(A, -1, -2) + 0.5 * np.eye(d)
    inv, logdet = inv_logdet(np.moveaxis(M, (-2, -1), (0, 1)))
    np.testing.assert_allclose(np.moveaxis(inv, (0, 1), (-2, -1)), np.linalg.inv(M), atol=1e-10)
    np.testing.assert_allclose(logdet, np.linalg.slogdet(M)[1], atol=1e-12)


def test_not_positive_definite_gives_nan() -> None:
    M = np.array([[1.0, 2.0], [2.0, 1.0]])[:, :, None]
    assert np.isnan(inv_logdet(M)[1][0])
    M3 = np.diag([1.0, -1.0, 2.0])[:, :, None]
    assert np.isnan(inv_logdet(M3)[1][0])
