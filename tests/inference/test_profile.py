"""The profile machinery on closed forms: limits of a quadratic deviance, boundaries, a
non-monotone profile reported instead of a number, and the phi <-> theta map."""

import numpy as np
from refcases import fitted
from scipy import stats

from multilevel.inference.profile import PhiMap, _limit

TARGET = float(stats.chi2.ppf(0.95, 1))


def test_quadratic_deviance_limits_are_exact():
    """g(v) = ((v - 2) / 0.5)^2: a normal likelihood, limits 2 -/+ 1.96 * 0.5."""

    def g(v):
        return ((v - 2.0) / 0.5) ** 2

    lo = _limit(g, 2.0, 0.1, -1, None, TARGET)
    hi = _limit(g, 2.0, 0.1, 1, None, TARGET)
    z = stats.norm.ppf(0.975)
    assert np.isclose(lo.value, 2 - z * 0.5, atol=1e-6) and lo.note == ""
    assert np.isclose(hi.value, 2 + z * 0.5, atol=1e-6)


def test_boundary_reached_below_the_cut_off():
    """A flat profile towards a bound (an sd whose profile at 0 stays below the cut-off)."""
    lo = _limit(lambda v: 0.1 * (v - 1.0) ** 2, 1.0, 0.2, -1, 0.0, TARGET)
    assert lo.value == 0.0 and lo.note == ""


def test_non_monotone_profile_says_why():
    """Before reaching the cut-off the deviance falls again (a second optimum along the
    profile): no limit, a note instead."""

    def g(v):
        return 3 * np.sin(3 * (v - 1.0)) ** 2 + 0.3 * (v - 1.0) ** 2

    hi = _limit(g, 1.0, 0.2, 1, None, TARGET)
    assert np.isnan(hi.value) and "non-monotone" in hi.note


def test_phi_theta_round_trip():
    fit = fitted("sleepstudy")
    m = PhiMap(fit)
    phi = m.phi(np.asarray(fit.theta))
    assert np.allclose(m.theta(phi), fit.theta, rtol=1e-12)
    vc = fit.random_effects[0]
    assert np.allclose(phi[:2] * fit.sigma, vc.std_devs)
    assert np.isclose(phi[2], vc.correlation[1, 0])
    assert [p.name for p in m.params] == [
        "sd_(Intercept)|Subject",
        "cor_Days.(Intercept)|Subject",
        "sd_Days|Subject",
        "sigma",
    ]
