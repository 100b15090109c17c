"""Random terms: lme4's order (most levels first), names (g, g.1), levels and theta layout."""

from __future__ import annotations

import numpy as np

import multilevel
from multilevel.design import build_design


def test_order_and_names():
    d = build_design("strength ~ 1 + (1 | batch/cask)", multilevel.datasets.pastes())
    assert [t.name for t in d.terms] == ["cask:batch", "batch"]
    assert d.n_groups == {"cask:batch": 30, "batch": 10}
    assert d.terms[0].levels[0].count(":") == 1


def test_uncorrelated_terms_named_with_suffix():
    d = build_design("mathach ~ cses + (1 + cses || school)", multilevel.datasets.hsb())
    assert [t.name for t in d.terms] == ["school", "school.1"]
    assert [t.grouping_factor for t in d.terms] == ["school", "school"]


def test_theta_layout_is_lme4s():
    d = build_design("Reaction ~ Days + (Days | Subject)", multilevel.datasets.sleepstudy())
    t = d.terms[0]
    np.testing.assert_array_equal(t.theta_start, [1, 0, 1])
    np.testing.assert_array_equal(t.theta_lower, [0, -np.inf, 0])
    np.testing.assert_array_equal(t.Lambda(np.array([1.0, 2.0, 3.0])), [[1, 0], [2, 3]])
    assert t.theta_names == ["Subject.(Intercept)", "Subject.Days.(Intercept)", "Subject.Days"]
