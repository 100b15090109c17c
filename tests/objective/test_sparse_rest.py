"""The sparse path for many levels outside the first factor gives the dense path's answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.objective import crossprod


@pytest.fixture
def force_sparse(monkeypatch):
    monkeypatch.setattr(crossprod, "DENSE_REST_LIMIT", 0)


@pytest.mark.parametrize(
    ("case", "formula"),
    [
        ("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
        ("pastes", "strength ~ 1 + (1 | batch/cask)"),
    ],
)
def test_sparse_equals_dense(case, formula, monkeypatch):
    data = multilevel.datasets.load(case)
    dense = multilevel.fit(formula, data)
    monkeypatch.setattr(crossprod, "DENSE_REST_LIMIT", 0)
    sparse = multilevel.fit(formula, data)
    assert sparse.loglik == pytest.approx(dense.loglik, abs=1e-8)
    np.testing.assert_allclose(sparse.theta, dense.theta, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sparse.std_errors, dense.std_errors, rtol=1e-5)
    a, b = sparse.ranef_table(), dense.ranef_table()
    np.testing.assert_allclose(a["condval"], b["condval"], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(a["condsd"], b["condsd"], rtol=1e-4)


def test_three_level_nested_with_many_schools():
    """Students in classes in 4000 schools: the school block is sparse (block diagonal)."""
    rng = np.random.default_rng(5)
    schools, classes, students = 4000, 3, 4
    school = np.repeat(np.arange(schools), classes * students)
    klass = np.repeat(np.arange(schools * classes), students)
    x = rng.normal(size=school.size)
    y = (
        1
        + 0.5 * x
        + rng.normal(0, 0.7, schools)[school]
        + rng.normal(0, 0.5, klass.max() + 1)[klass]
        + rng.normal(size=school.size)
    )
    df = pd.DataFrame({"y": y, "x": x, "school": school, "klass": klass % classes})
    fit = multilevel.fit("y ~ x + (1 | school/klass)", df)
    assert fit.n_groups == {"klass:school": schools * classes, "school": schools}
    sd = {vc.group: vc.std_devs[0] for vc in fit.random_effects}
    assert sd["school"] == pytest.approx(0.7, abs=0.05)
    assert sd["klass:school"] == pytest.approx(0.5, abs=0.06)
    assert fit.sigma == pytest.approx(1.0, abs=0.03)
    assert fit.converged
