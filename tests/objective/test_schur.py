"""The dense Schur complement of crossed fits (objective/schur.py) against direct dense algebra."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import multilevel
from multilevel.design import build_design
from multilevel.objective import ProfiledDeviance, cross_products, schur
from multilevel.objective.schur import PatternUpdate, row_pairs


def _crossed(seed: int = 3, n: int = 600) -> pd.DataFrame:
    """Rows in 60 levels of g crossed with 9 levels of f, a slope x varying by either."""
    rng = np.random.default_rng(seed)
    g, f = rng.integers(0, 60, n), rng.integers(0, 9, n)
    x = rng.normal(size=n)
    y = 1 + 0.4 * x + rng.normal(size=60)[g] + (0.5 + 0.3 * rng.normal(size=9)[f]) * x
    y += rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g], "f": [f"f{i}" for i in f]})


def _dense_deviance(design, theta: np.ndarray, reml: bool) -> float:
    """The profiled deviance straight from its definition, with Z and Lambda built densely."""
    n, p = design.n, design.p
    Zs, Ls = [], []
    for t, th in zip(design.terms, design.split_theta(theta), strict=True):
        Z = np.zeros((n, t.n_levels * t.q))
        for k in range(t.q):
            Z[np.arange(n), t.codes * t.q + k] = t.Z[:, k]
        Zs.append(Z)
        Ls.append(np.kron(np.eye(t.n_levels), t.Lambda(th)))
    ZL = np.hstack(Zs) @ sp.block_diag(Ls).toarray()
    q = ZL.shape[1]
    A = np.block([[ZL, design.X], [np.eye(q), np.zeros((q, p))]])
    rhs = np.concatenate([design.y, np.zeros(q)])
    sol, *_ = np.linalg.lstsq(A, rhs, rcond=None)
    r2 = float(np.sum((rhs - A @ sol) ** 2))
    ldL2 = np.linalg.slogdet(ZL.T @ ZL + np.eye(q))[1]
    if not reml:
        return ldL2 + n * (1 + np.log(2 * np.pi * r2 / n))
    XtVinvX = design.X.T @ design.X - design.X.T @ ZL @ np.linalg.solve(
        ZL.T @ ZL + np.eye(q), ZL.T @ design.X
    )
    ldRX2 = np.linalg.slogdet(XtVinvX)[1]
    return ldL2 + ldRX2 + (n - p) * (1 + np.log(2 * np.pi * r2 / (n - p)))


@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize(
    ("formula", "path"),
    [
        ("y ~ x + (1 | g) + (1 | f)", "pattern"),  # scalar terms: the precomputed pattern
        ("y ~ x + (1 | g) + (1 + x | f)", "pairs"),  # Lambda_rest not diagonal
        ("y ~ x + (1 + x | g) + (1 | f)", "product"),  # two effects per level of g
    ],
)
def test_deviance_equals_direct_dense_computation(formula, path, reml):
    design = build_design(formula, _crossed())
    dev = ProfiledDeviance(cross_products(design), reml=reml)
    schur = dev.schur
    assert schur is not None
    used = {"pattern": schur.pattern, "pairs": schur.full_pairs}
    assert [k for k, v in used.items() if v is not None] == ([] if path == "product" else [path])
    rng = np.random.default_rng(2)
    for _ in range(3):
        theta = design.theta_start() * rng.uniform(0.3, 1.6, design.n_theta)
        theta += np.where(design.theta_lower() == 0, 0, rng.normal(0, 0.3, design.n_theta))
        assert dev(theta) == pytest.approx(_dense_deviance(design, theta, reml), rel=1e-11)


def test_factor_of_an_earlier_evaluation_survives_later_ones():
    """Evaluations share one buffer; an earlier evaluation's R is still its own factor."""
    data = multilevel.datasets.load("penicillin")
    design = build_design("diameter ~ 1 + (1 | plate) + (1 | sample)", data)
    xp = cross_products(design)
    dev = ProfiledDeviance(xp, reml=False)
    first = dev.evaluate(np.array([0.7, 1.9]))
    dev.evaluate(np.array([1.2, 0.4]))  # overwrites the buffer
    fresh = ProfiledDeviance(xp, reml=False).evaluate(np.array([0.7, 1.9]))
    np.testing.assert_allclose(first.R, fresh.R, rtol=1e-13, atol=1e-13)
    S = fresh.R @ fresh.R.T  # the factor is lower triangular with zeros above
    np.testing.assert_allclose(np.triu(fresh.R, 1), 0.0)
    assert np.all(np.linalg.eigvalsh(S) > 0)


def test_row_pairs_and_row_forms_against_dense_products():
    rng = np.random.default_rng(4)
    B = sp.random(40, 12, density=0.3, random_state=5, format="csr")
    B.data = rng.normal(size=B.nnz)
    i, l, value, indptr = row_pairs(B)
    dense = B.toarray()
    for j in range(B.shape[0]):
        got = np.zeros((12, 12))
        np.add.at(got, (i[indptr[j] : indptr[j + 1]], l[indptr[j] : indptr[j + 1]]), 1.0)
        np.testing.assert_array_equal(got, np.outer(dense[j] != 0, dense[j] != 0))
        np.testing.assert_allclose(
            np.sum(value[indptr[j] : indptr[j + 1]]), np.sum(np.outer(dense[j], dense[j]))
        )
    design = build_design("y ~ x + (1 | g) + (1 | f)", _crossed())
    xp = cross_products(design)
    pattern = PatternUpdate(xp, xp.n_rest + xp.p + 1, np.zeros(xp.n_rest, int))
    A = rng.normal(size=(xp.n_rest, xp.n_rest))
    A = A + A.T
    Br = xp.B_rest.toarray()
    np.testing.assert_allclose(pattern.row_forms(A), np.einsum("ja,ab,jb->j", Br, A, Br))


@pytest.mark.parametrize("block_pairs", [250_000, 40])  # all classes in one product; many
@pytest.mark.parametrize("aggregate", [True, False])  # rows of equal A_j summed first, or not
def test_pattern_update_equals_the_dense_product(monkeypatch, block_pairs, aggregate):
    """On its pattern, update(theta, m) is Lambda (C_rr - B' diag(m) B) Lambda + I, however the
    rows are grouped (by equal A_j or one by one) and however many classes each product takes;
    every other entry of that lower triangle is zero."""
    monkeypatch.setattr(schur, "CLASS_BLOCK_PAIRS", block_pairs)
    monkeypatch.setattr(schur, "AGGREGATE_BELOW", 4 if aggregate else 10**9)
    design = build_design("y ~ x + (1 | g) + (1 | f)", _crossed(n=900))
    xp = cross_products(design)
    nr = xp.n_rest
    # two scales on the columns, interleaved; theta[0] is the first factor's, as in a fit
    lam_index = np.where(np.arange(nr) % 3 == 0, 2, 1)
    pattern = PatternUpdate(xp, nr + xp.p + 1, lam_index)
    assert (pattern.pick is not None) == aggregate
    rng = np.random.default_rng(8)
    m = rng.uniform(0.1, 1.0, xp.G)
    m = m[np.unique(xp.A[0, 0], return_inverse=True)[1].ravel()]  # m_j depends on A_j alone
    B = xp.B_rest.toarray()
    C = xp.C_rr.toarray() if sp.issparse(xp.C_rr) else np.asarray(xp.C_rr)
    # the second theta keeps m: the unscaled values are reused, the scales are not
    for theta in (np.array([0.4, 0.7, 1.3]), np.array([0.4, 1.1, 0.2])):
        lam = theta[lam_index]
        want = np.tril(lam[:, None] * (C - B.T @ (m[:, None] * B)) * lam[None, :] + np.eye(nr))
        got = np.zeros((nr, nr))
        got[pattern.rows, pattern.cols] = pattern.update(theta, m)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert len(pattern._unscaled) == 1
    assert np.all(pattern.rows >= pattern.cols)
    assert len(set(pattern.flat)) == pattern.flat.size  # each entry once


def test_row_forms_a_few_rows_at_a_time(monkeypatch):
    monkeypatch.setattr(schur, "FORM_ENTRIES", 50)  # blocks of a few rows
    design = build_design("y ~ x + (1 | g) + (1 | f)", _crossed())
    xp = cross_products(design)
    pattern = PatternUpdate(xp, xp.n_rest + xp.p + 1, np.zeros(xp.n_rest, int))
    A = np.random.default_rng(1).normal(size=(xp.n_rest, xp.n_rest))
    A = A + A.T
    Br = xp.B_rest.toarray()
    np.testing.assert_allclose(pattern.row_forms(A), np.einsum("ja,ab,jb->j", Br, A, Br))


def test_stencil_evaluated_two_at_a_time_equals_one_at_a_time():
    """A twin with its own buffer evaluates every other point of a stencil in a second thread:
    each evaluation equals the serial one exactly, and each keeps its own factor."""
    data = multilevel.datasets.load("penicillin")
    design = build_design("diameter ~ 1 + (1 | plate) + (1 | sample)", data)
    xp = cross_products(design)
    rng = np.random.default_rng(5)
    points = [np.array([0.7, 1.9]) + 0.05 * rng.normal(size=2) for _ in range(7)]
    serial = ProfiledDeviance(xp, reml=True)
    paired = ProfiledDeviance(xp, reml=True)
    paired.workers = 2
    one, two = serial.evaluate_many(points), paired.evaluate_many(points)
    assert paired.evaluations == len(points)
    for a, b, theta in zip(one, two, points, strict=True):
        np.testing.assert_array_equal(b.theta, theta)
        assert (a.ldL2, a.ldRX2, a.r2) == (b.ldL2, b.ldRX2, b.r2)
        np.testing.assert_array_equal(a.beta, b.beta)
        np.testing.assert_array_equal(a.R, b.R)  # the twin's factor, rebuilt if overwritten


def test_hessian_with_two_workers_equals_the_serial_one():
    """The convergence check's Hessian and the Satterthwaite df do not depend on the workers."""
    from multilevel.inference.satterthwaite import varpar_info

    data = multilevel.datasets.load("penicillin")
    design = build_design("diameter ~ 1 + (1 | plate) + (1 | sample)", data)
    fit = multilevel.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", data)
    infos = []
    for workers in (1, 2):
        dev = ProfiledDeviance(cross_products(design), reml=True)
        dev.workers = workers
        infos.append(varpar_info(dev, fit.theta, fit.sigma))
    np.testing.assert_array_equal(infos[0].hessian, infos[1].hessian)
    np.testing.assert_array_equal(infos[0].jacobian, infos[1].jacobian)


def test_twin_keeps_its_own_cache_of_pattern_values():
    """The stencil's second thread gets its own pattern cache (a shared dict would be changed
    by both threads at once)."""
    design = build_design("y ~ x + (1 | g) + (1 | f)", _crossed())
    dev = ProfiledDeviance(cross_products(design), reml=True)
    assert dev.schur is not None and dev.schur.pattern is not None
    dev(design.theta_start())
    twin = dev.schur.twin()
    assert twin.pattern is not None and twin.pattern is not dev.schur.pattern
    assert twin.pattern._unscaled == {} and len(dev.schur.pattern._unscaled) == 1
    assert twin.pattern.W_update is dev.schur.pattern.W_update  # the large parts are shared
