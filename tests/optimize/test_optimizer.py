"""optimize_theta on a function with two minima: the second start's better optimum is kept."""

import numpy as np
import pytest

from multilevel.optimize import optimize_theta


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
