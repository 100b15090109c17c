"""Fixed effects (dummy per school) against R's lm(mathach ~ cses + factor(school))."""

from __future__ import annotations

import numpy as np
import pandas as pd

import multilevel
from multilevel.compare.data import clustered_data
from multilevel.compare.fixed_effects import fixed_effects
from refdata import close, reference

REF = reference("hsb")["alternative_estimators"]["fixed_effects_lm"]


def test_within_estimator_matches_lm_with_dummies():
    d = clustered_data(
        multilevel.datasets.hsb(), "mathach ~ cses + meanses + catholic + (1 | school)"
    )
    res = fixed_effects(d)
    assert close(res.estimate("cses"), REF["estimate"], rtol=1e-8)
    assert close(res.std_error("cses"), REF["std_error"], rtol=1e-8)
    assert res.extras["df_residual"] == REF["df_residual"]


def test_level2_predictors_are_reported_not_estimable():
    d = clustered_data(
        multilevel.datasets.hsb(), "mathach ~ cses + meanses + catholic + (1 | school)"
    )
    res = fixed_effects(d)
    assert np.isnan(res.estimate("meanses")) and np.isnan(res.std_error("catholic"))
    assert res.estimable.tolist() == [False, True, False, False]
    assert any("not estimable" in n and "meanses, catholic" in n for n in res.notes)


def test_only_level2_predictors_does_not_crash():
    d = clustered_data(multilevel.datasets.hsb(), "mathach ~ meanses + (1 | school)")
    res = fixed_effects(d)
    assert not res.estimable.any()
    y = d.y
    means = pd.Series(y).groupby(d.cluster).transform("mean").to_numpy()
    rss = float(np.sum((y - means) ** 2))
    assert close(res.extras["sigma"], np.sqrt(rss / (d.n - d.n_clusters)), rtol=1e-12)


def test_predictor_aliased_with_dummies_is_dropped():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(6), 5)
    x = rng.normal(size=30)
    df = pd.DataFrame({"y": rng.normal(size=30), "x": x, "z": 2 * x + g, "g": g})
    res = fixed_effects(clustered_data(df, "y ~ x + z + (1 | g)"))
    assert res.estimable.tolist() == [False, True, False]
