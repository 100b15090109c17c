"""Conditional modes and their conditional variances, made on first use."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import multilevel
from multilevel.objective.modes import TermModes

FORMULA = "diameter ~ 1 + (1 | plate) + (1 | sample)"


def _fit():
    return multilevel.fit(FORMULA, multilevel.datasets.load("penicillin"))


def test_pickled_and_copied_fits_carry_the_conditional_variances():
    """A fit's lazy covariances are made when it is pickled or copied, and equal those read
    directly (of a separate fit of the same model)."""
    direct = {k: m.cond_var for k, m in _fit().modes.items()}
    for clone in (pickle.loads(pickle.dumps(_fit())), copy.deepcopy(_fit())):
        for name, m in clone.modes.items():
            np.testing.assert_allclose(m.cond_var, direct[name], rtol=1e-12, atol=1e-15)


def test_variances_read_late_are_the_fits_own():
    """Reading the covariances after other fits reused memory gives the same numbers: the
    factor they need was copied when the modes were solved."""
    fit = _fit()
    for _ in range(3):  # other fits of the same size in between
        multilevel.fit(FORMULA, multilevel.datasets.load("penicillin"), reml=False)
    late = fit.modes["plate"].cond_var
    np.testing.assert_allclose(late, _fit().modes["plate"].cond_var, rtol=1e-12)
    # lme4's condVar scale: Var(b_j | y) below the variance of the random effect itself
    tau = fit.random_effects[[vc.group for vc in fit.random_effects].index("plate")].variances
    assert np.all(late[:, 0, 0] > 0) and np.all(late[:, 0, 0] < tau[0])


def test_term_modes_need_variances_or_a_way_to_make_them():
    with pytest.raises(ValueError, match="cond_var"):
        TermModes(np.zeros((2, 1)))
    made = []
    m = TermModes(np.zeros((2, 1)), make_cond_var=lambda: made.append(1) or np.ones((2, 1, 1)))
    assert m.cond_var.shape == (2, 1, 1) and m.cond_var is m.cond_var and made == [1]
