"""optimize_theta on a function with two minima: the second start's better optimum is kept."""

from dataclasses import replace

import numpy as np
import pytest

from multilevel.optimize import optimize_theta, optimizer


class _DoubleWell:
    """f(t) = (t^2 - 1)^2 + 0.2 t: a local minimum near t = 0.97, the global one near -1.02."""

    has_gradient = True

    class xp:  # noqa: N801 - stands in for the cross-products (only n is read)
        n = 1

    def value_and_gradient(self, theta):
        t = float(theta[0])
        return (t * t - 1) ** 2 + 0.2 * t, np.array([4 * t * (t * t - 1) + 0.2])

    def __call__(self, theta):
        return self.value_and_gradient(theta)[0]


def test_the_second_start_wins_when_it_finds_a_lower_optimum():
    lower = np.array([-np.inf])
    alone = optimize_theta(_DoubleWell(), np.array([1.2]), lower)
    assert alone.theta_final[0] == pytest.approx(0.974, abs=1e-3)
    both = optimize_theta(_DoubleWell(), np.array([1.2]), lower, also_from=np.array([-2.0]))
    assert both.theta_final[0] == pytest.approx(-1.024, abs=1e-3)
    assert both.fmin < alone.fmin - 0.3
    assert "lme4's start (Lambda = I) reached a deviance 0.3999 lower" in both.notes[0]
    assert both.n_evaluations > alone.n_evaluations


def test_scaled_gradient_is_lme4s_measure():
    """lme4 1.1-31 checkConv: max(pmin(abs(solve(chol(H), g)), abs(g))); chol(H) is upper."""
    H = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
    g = np.array([0.004, -0.01, 0.0005])
    R = np.linalg.cholesky(H).T  # R'R = H, as R's chol()
    expected = np.max(np.minimum(np.abs(np.linalg.solve(R, g)), np.abs(g)))
    free = np.ones(3, bool)
    assert optimizer.scaled_gradient(g, H, free) == pytest.approx(expected, rel=1e-14)
    # a parameter held at its bound with the gradient pointing outward is not checked
    lower = np.array([0.0, -np.inf, -np.inf])
    held = optimizer.free_parameters(np.array([0.0, 1.0, 2.0]), np.array([0.3, 0.0, 0.0]), lower)
    assert held.tolist() == [False, True, True]
    assert optimizer.scaled_gradient(g, None, free) == pytest.approx(0.01)  # raw, no Hessian
    assert optimizer.scaled_gradient(g, -H, free) is None  # not positive definite


def test_singular_note_names_the_zero_variances():
    names = ["school.(Intercept)", "school.x.(Intercept)", "school.x"]
    lower = np.array([0.0, -np.inf, 0.0])
    note = optimizer.singular_note(names, np.array([0.8, 0.3, 1e-6]), lower)
    assert note is not None and "of school.x is" in note and "Intercept" not in note
    assert optimizer.singular_note(names, np.array([0.8, 0.0, 0.4]), lower) is None


def test_an_indefinite_hessian_is_not_converged_unless_the_fit_is_singular():
    """lme4 warns when the Hessian is not positive definite; on a singular fit it skips the
    gradient check, and we judge the raw gradient there."""
    H = np.array([[2.0, 0.0], [0.0, -1.0]])
    g = np.array([1e-4, 2e-4])
    record = optimizer.OptSummary(
        "x", [1.0, 1.0], [0.5, 0.3], [0.0, 0.0], 10.0, 5, 5, {}, "ok", [], 0.0, True
    )
    lower = np.array([0.0, 0.0])
    out = optimizer.check_convergence(record, g, H, lower)
    assert not out.converged and "not positive definite" in out.notes[-1]
    assert out.to_dict()["scaled_gradient_max"] is None  # JSON has no infinity
    boundary = replace(record, theta_final=[0.5, 0.0])  # a zero variance: singular
    inward = np.array([1e-4, -2e-4])  # the zero variance stays free: it would grow
    out = optimizer.check_convergence(boundary, inward, H, lower)
    assert out.converged and out.scaled_gradient_max == pytest.approx(2e-4)
