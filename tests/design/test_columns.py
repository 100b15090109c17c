"""ModelColumns computes from the data in place what numpy computes from the built matrix."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import multilevel.design.columns as mc
from multilevel.design.columns import ModelColumns, SparseColumns
from multilevel.design.fixed import encode_columns


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    n = 20_011  # not a multiple of any block size
    return {
        "a": rng.standard_normal(n),
        "b": rng.uniform(-3, 5, n),
        "c": rng.integers(-4, 9, n).astype(float),
    }


def recipe(data, factors):
    return ModelColumns(len(data["a"]), factors, data)


def built(data, factors):
    n = len(data["a"])
    return np.column_stack(
        [np.prod([data[f] for f in fs], axis=0) if fs else np.ones(n) for fs in factors]
    )


FACTORS = [
    ((), ("a",), ("b",), ("a", "b")),  # intercept, columns, a product
    (("c",), (), ("a", "b", "c")),  # intercept not first, three-way product
    (("a",), ("b",)),  # plain columns only: Gram by dot products
]


@pytest.mark.parametrize("factors", FACTORS)
def test_matrix_products_match_the_built_matrix(data, factors):
    M = built(data, factors)
    cols = recipe(data, factors)
    v = np.linspace(-1, 2, cols.n)
    coef = np.arange(1.0, cols.k + 1)
    np.testing.assert_array_equal(cols.array, M)
    assert cols.array.flags.f_contiguous
    np.testing.assert_allclose(cols.gram(), M.T @ M, rtol=1e-12)
    W = np.column_stack([M, v])
    np.testing.assert_allclose(cols.gram(extra=v), W.T @ W, rtol=1e-12)
    np.testing.assert_allclose(cols.tdot(v), M.T @ v, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(cols.dot(coef), M @ coef, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cols.max_abs(), np.abs(M).max(axis=0))


def test_block_size_does_not_change_the_gram(data, monkeypatch):
    factors = ((), ("a",), ("a", "b"))
    M = built(data, factors)
    for rows in (1, 7, 4096, 10**6):
        monkeypatch.setattr(mc, "BLOCK_ROWS", rows)
        np.testing.assert_allclose(recipe(data, factors).gram(), M.T @ M, rtol=1e-12)


def test_rowdot_is_z_times_group_coefficients(data):
    factors = ((), ("b",), ("a", "c"))
    Z = built(data, factors)
    codes = np.arange(len(data["a"])) % 13
    b = np.random.default_rng(1).standard_normal((13, 3))
    expected = np.einsum("ij,ij->i", Z, b[codes])
    np.testing.assert_allclose(recipe(data, factors).rowdot(b, codes), expected, rtol=1e-12)


def test_select_and_wrapping_a_built_matrix(data):
    factors = ((), ("a",), ("b",), ("a", "b"))
    M = built(data, factors)
    sub = recipe(data, factors).select([0, 3])
    np.testing.assert_array_equal(sub.array, M[:, [0, 3]])
    wrapped = ModelColumns.of(M)
    assert wrapped.is_intercept(0) and not wrapped.is_intercept(1)
    np.testing.assert_array_equal(wrapped.array, M)
    assert wrapped.factors[0] == () and wrapped.factors[1] != wrapped.factors[2]
    np.testing.assert_allclose(wrapped.gram(), M.T @ M)
    np.testing.assert_array_equal(wrapped.select([1, 2]).array, M[:, [1, 2]])


def test_max_abs_reports_nan_columns():
    x = np.array([1.0, np.nan, -5.0])
    cols = ModelColumns(3, (("x",), ()), {"x": x})
    out = cols.max_abs()
    assert np.isnan(out[0]) and out[1] == 1.0


def test_encode_reads_numeric_columns_in_place():
    rng = np.random.default_rng(3)
    n = 12_000  # above the size where the sample-based encoding is used
    df = pd.DataFrame({"x": rng.standard_normal(n), "z": rng.standard_normal(n)})
    cols, names, _ = encode_columns("1 + x + x:z", df, "X")
    assert names == ["Intercept", "x", "x:z"]
    assert np.shares_memory(cols.column(1), df["x"].to_numpy())
    np.testing.assert_allclose(cols.array[:, 2], df["x"] * df["z"])


def test_encode_refuses_a_product_too_large_to_square():
    n = 12_000
    df = pd.DataFrame({"x": np.full(n, 1e60), "z": np.linspace(1, 1e50, n)})
    from multilevel.errors import DataError

    with pytest.raises(DataError, match="x:z"):
        encode_columns("x:z", df, "fixed-effects model matrix")


# ------------------------------------------------ sparse columns (a factor with many levels)
def _wide_data(n=12_000, levels=400, seed=8):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, levels, n)
    g, h = rng.integers(0, 60, n), rng.integers(0, 25, n)
    y = 0.002 * f + rng.normal(size=60)[g] + 0.5 * rng.normal(size=25)[h] + rng.normal(size=n)
    return pd.DataFrame(
        {
            "y": y,
            "x": rng.normal(size=n),
            "f": pd.Categorical([f"L{k:03d}" for k in f]),
            "g": g,
            "h": h,
        }
    )


def test_sparse_columns_equal_their_dense_matrix():
    """Every operation of SparseColumns gives what the dense matrix gives."""
    rng = np.random.default_rng(2)
    dense = np.zeros((50, 6))
    dense[:, 0] = 1.0
    dense[:, 1] = rng.normal(size=50)
    dense[np.arange(50), 2 + rng.integers(0, 4, 50)] = rng.normal(size=50)
    S = SparseColumns.of_sparse(sp.csc_matrix(dense))
    v, coef = rng.normal(size=50), rng.normal(size=6)
    assert S.factors[0] == () and S.is_intercept(0)
    np.testing.assert_allclose(S.gram(), dense.T @ dense, rtol=1e-14)
    full = np.column_stack([dense, v])
    np.testing.assert_allclose(S.gram(extra=v), full.T @ full, rtol=1e-14)
    np.testing.assert_allclose(S.tdot(v), dense.T @ v, rtol=1e-14)
    np.testing.assert_allclose(S.dot(coef), dense @ coef, rtol=1e-14)
    np.testing.assert_array_equal(S.array, dense)
    np.testing.assert_array_equal(S.column(3), dense[:, 3])
    np.testing.assert_array_equal(S.select([1, 4]).array, dense[:, [1, 4]])
    np.testing.assert_array_equal(S.max_abs(), np.abs(dense).max(axis=0))
    codes = rng.integers(0, 5, 50)
    z = [np.ones(50), v]
    want = np.stack([[np.bincount(codes, zr * dense[:, j], 5) for j in range(6)] for zr in z])
    np.testing.assert_allclose(S.group_cross(codes, 5, z), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("formula", ["y ~ x + f + (1 | g)", "y ~ x + f + (1 | g) + (1 | h)"])
@pytest.mark.parametrize("reml", [True, False])
def test_wide_factor_kept_sparse_gives_the_dense_fit(formula, reml, monkeypatch):
    """Issue 11 item 8: a 400-level fixed factor on 12k rows is kept sparse (no dense n x 401
    matrix); estimates, SEs and loglik equal those of the dense path."""
    import multilevel
    from multilevel.design import fixed

    data = _wide_data()
    sparse_fit = multilevel.fit(formula, data, reml=reml, warn=False)
    assert isinstance(sparse_fit.design.fixed.columns, SparseColumns)
    monkeypatch.setattr(fixed, "SPARSE_MIN_CELLS", 10**12)
    dense_fit = multilevel.fit(formula, data, reml=reml, warn=False)
    assert not isinstance(dense_fit.design.fixed.columns, SparseColumns)
    assert sparse_fit.fixed_names == dense_fit.fixed_names
    assert sparse_fit.loglik == pytest.approx(dense_fit.loglik, rel=1e-12)
    np.testing.assert_allclose(sparse_fit.beta, dense_fit.beta, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(sparse_fit.theta, dense_fit.theta, rtol=1e-6)
    np.testing.assert_allclose(
        np.sqrt(np.diag(sparse_fit.vcov_beta)), np.sqrt(np.diag(dense_fit.vcov_beta)), rtol=1e-6
    )
    np.testing.assert_allclose(sparse_fit.fitted, dense_fit.fitted, rtol=1e-6, atol=1e-6)
