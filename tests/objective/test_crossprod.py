"""The cross-products equal the sums written out from the built matrices, group by group."""

import numpy as np
import pandas as pd
import pytest

from multilevel.design import build_design
from multilevel.objective import cross_products
from multilevel.objective.crossprod import group_cross


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(11)
    n, G = 150_001, 97  # several blocks of the chunked products, uneven last block
    return pd.DataFrame(
        {
            "y": rng.standard_normal(n),
            "x1": rng.standard_normal(n),
            "x2": rng.uniform(0, 4, n),
            "g": rng.integers(0, G, n),
        }
    )


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ x1 + x2 + (1 + x1 | g)",
        "y ~ x1 * x2 + (1 + x1:x2 | g)",  # a product column in Z and in X
        "y ~ 0 + x1 + (0 + x2 | g) + (1 | g)",  # no intercept in X; two terms on one factor
    ],
)
def test_cross_products_equal_the_explicit_sums(frame, formula):
    design = build_design(formula, frame)
    xp = cross_products(design)
    first = [t for t in design.terms if t.grouping_factor == design.terms[0].grouping_factor]
    Z = np.hstack([t.Z for t in first])
    W = np.column_stack([design.X, design.y])
    codes = first[0].codes
    for j in (0, 13, xp.G - 1):
        rows = codes == j
        np.testing.assert_allclose(xp.A[:, :, j], Z[rows].T @ Z[rows], rtol=1e-11, atol=1e-9)
        np.testing.assert_allclose(xp.B[:, :, j], Z[rows].T @ W[rows], rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(xp.C, W.T @ W, rtol=1e-11, atol=1e-6)
    assert xp.yy == pytest.approx(design.y @ design.y, rel=1e-13)


def test_group_cross_sums_each_product_once():
    codes = np.array([0, 1, 0, 2, 1])
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    b = np.array([2.0, 0.5, -1.0, 3.0, 1.0])
    seen = []

    def value(name):
        seen.append(name)
        return {"a": a, "b": b}[name]

    A, B = group_cross(codes, 3, [(), ("a",)], [(), ("a",), ("b",)], value)
    np.testing.assert_allclose(A[0, 0], [2, 2, 1])
    np.testing.assert_allclose(A[1, 1], [1 + 9, 4 + 25, 16])
    np.testing.assert_allclose(B[1, 2], [1 * 2 + 3 * -1, 2 * 0.5 + 5 * 1, 4 * 3])
    np.testing.assert_allclose(B[0, 1], A[0, 1])
    assert seen.count("b") == 2  # once alone, once in the product a*b
