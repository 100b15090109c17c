"""Estimated marginal means and pairs against R's emmeans (cake; both df methods)."""

import pandas as pd
import pytest
from refcases import close, fitted, model

import multilevel

BLOCKS = [(e["specs"], e["lmer_df"]) for e in model("cake")["emmeans"]]


def _block(specs, ddf):
    return next(e for e in model("cake")["emmeans"] if e["specs"] == specs and e["lmer_df"] == ddf)


@pytest.mark.parametrize("specs, ddf", BLOCKS)
@pytest.mark.parametrize("coding", ["treatment", "sum"])
def test_table_as_emmeans(specs, ddf, coding):
    e = _block(specs, ddf)
    ref = pd.DataFrame(e["estimates"])
    got = fitted("cake", coding=coding).emmeans(specs, ddf=ddf).table()
    factors = [c for c in ref.columns if c not in ("emmean", "se", "df", "lower_cl", "upper_cl")]
    assert list(got.columns) == factors + ["emmean", "se", "df", "lower_cl", "upper_cl"]
    assert (got[factors].astype(str).to_numpy() == ref[factors].to_numpy()).all()
    assert close(got.emmean, ref.emmean, rtol=1e-6, atol=1e-6 * ref.se.min())
    assert close(got.se, ref.se, rtol=1e-4)
    assert close(got.df, ref.df, rtol=1e-3)
    assert close(got.lower_cl, ref.lower_cl, rtol=1e-4)
    assert close(got.upper_cl, ref.upper_cl, rtol=1e-4)


@pytest.mark.parametrize("specs, ddf", BLOCKS)
@pytest.mark.parametrize("adjust", ["tukey", "holm"])
def test_pairs_as_emmeans(specs, ddf, adjust):
    e = _block(specs, ddf)
    ref = pd.DataFrame(next(p for p in e["pairs"] if p["adjust"] == adjust)["rows"])
    got = fitted("cake").emmeans(specs, ddf=ddf).pairs(adjust=adjust)
    assert list(got.contrast) == list(ref.contrast)
    for by in e["by"]:
        assert list(got[by]) == list(ref[by])
    assert close(got.estimate, ref.estimate, rtol=1e-6, atol=1e-6 * ref.se.min())
    assert close(got.se, ref.se, rtol=1e-4)
    assert close(got.df, ref.df, rtol=1e-3)
    assert close(got.t_ratio, ref.t_ratio, rtol=1e-4)
    assert close(got.p_value, ref.p_value, rtol=1e-3, atol=1e-12)


def test_by_argument_and_other_adjustments():
    fit = fitted("cake")
    a = fit.emmeans("temperature", by="recipe").pairs("none")
    b = fit.emmeans("~ temperature | recipe").pairs("none")
    pd.testing.assert_frame_equal(a, b)
    bonf = fit.emmeans("temperature", by="recipe").pairs("bonferroni")
    assert close(bonf.p_value, (a.p_value * 15).clip(upper=1.0), rtol=1e-12)


def test_unknown_factor_and_adjustment_are_refused():
    fit = fitted("cake")
    with pytest.raises(multilevel.errors.MultilevelError, match="not a factor"):
        fit.emmeans("temp")
    with pytest.raises(multilevel.errors.MultilevelError, match="adjust"):
        fit.emmeans("recipe").pairs("scheffe")
