"""ANOVA tables against lmerTest (cake split plot and sleepstudy; types 1, 2, 3, both ddf
methods, treatment and sum coding)."""

import numpy as np
import pandas as pd
import pytest
from refcases import close, fitted, model

import multilevel

TABLES = [
    (case, block["coding"], t["type"], t["ddf"])
    for case in ("cake", "sleepstudy")
    for block in model(case)["anova"]
    for t in block["tables"]
]


@pytest.mark.parametrize("case, coding, type_, ddf", TABLES)
def test_anova_as_lmertest(case, coding, type_, ddf):
    block = next(b for b in model(case)["anova"] if b["coding"] == coding)
    ref = pd.DataFrame(
        next(t for t in block["tables"] if t["type"] == type_ and t["ddf"] == ddf)["rows"]
    )
    fit = fitted(case, coding="treatment" if coding == "none" else coding)
    got = fit.anova(type=type_, ddf=ddf)
    assert list(got.columns[:1]) == ["term"]
    assert list(got.term) == list(ref.term)
    assert list(got.num_df) == list(ref.num_df)
    assert close(got.f_value, ref.f_value, rtol=1e-4)
    assert close(got.sum_sq, ref.sum_sq, rtol=1e-4)
    assert close(got.den_df, ref.den_df, rtol=1e-3)
    assert close(got.p_value, ref.p_value, rtol=1e-3, atol=1e-12)


def test_type3_does_not_depend_on_the_coding():
    tables = [fitted("cake", coding=c).anova(type=3) for c in ("treatment", "sum", "helmert")]
    for t in tables[1:]:
        assert np.allclose(t.f_value, tables[0].f_value, rtol=1e-6)
        assert np.allclose(t.den_df, tables[0].den_df, rtol=1e-4)


def test_unbalanced_type3_is_coding_invariant_and_type1_is_sequential():
    """Drop rows so the design is unbalanced: type III still agrees across codings, type I of
    the first term differs from type III (sequential vs adjusted), and for the last term of a
    main-effects model types I, II and III agree (it is adjusted for everything in each)."""
    from refcases import data

    d = data("cake").iloc[::1].drop(index=list(range(0, 270, 7))).reset_index(drop=True)
    f = "angle ~ recipe * temperature + (1 | recipe:replicate)"
    a = multilevel.fit(f, d).anova(type=3)
    b = multilevel.fit(f, d, contrasts={"recipe": "sum", "temperature": "poly"}).anova(type=3)
    assert np.allclose(a.f_value, b.f_value, rtol=1e-6)
    main = multilevel.fit("angle ~ recipe + temperature + (1 | recipe:replicate)", d)
    t1, t2, t3 = (main.anova(type=k) for k in (1, 2, 3))
    assert np.isclose(t1.f_value.iloc[-1], t3.f_value.iloc[-1], rtol=1e-8)
    assert np.allclose(t2.f_value, t3.f_value, rtol=1e-8)  # no interactions: II == III


def test_bad_arguments_are_refused():
    fit = fitted("sleepstudy")
    with pytest.raises(multilevel.errors.MultilevelError, match="type"):
        fit.anova(type=4)
    with pytest.raises(multilevel.errors.MultilevelError, match="ddf"):
        fit.anova(ddf="containment")


def _unbalanced():
    import json
    from pathlib import Path

    from refcases import data

    ref = json.loads((Path(__file__).parent / "extra" / "unbalanced.json").read_text())
    d = data("cake").drop(index=list(range(0, 270, 7))).reset_index(drop=True)
    return ref, d


UNBALANCED = [
    (mid, t["coding"], t["type"], t["ddf"])
    for mid, m in _unbalanced()[0]["models"].items()
    for t in m["anova"]
]


@pytest.mark.parametrize("mid, coding, type_, ddf", UNBALANCED)
def test_unbalanced_with_covariate_as_lmertest(mid, coding, type_, ddf):
    """An unbalanced design (every 7th row dropped) and a factor x covariate interaction, where
    types 1, 2 and 3 differ (extra/make_unbalanced_reference.R)."""
    ref, d = _unbalanced()
    m = ref["models"][mid]
    t = next(
        t for t in m["anova"] if t["coding"] == coding and t["type"] == type_ and t["ddf"] == ddf
    )
    contrasts = None
    if coding == "sum":
        contrasts = {"recipe": "sum"} | ({"temperature": "sum"} if mid == "factorial" else {})
    got = multilevel.fit(m["formula"], d, contrasts=contrasts, warn=False).anova(type_, ddf)
    r = pd.DataFrame(t["rows"])
    assert list(got.term) == list(r.term)
    assert close(got.f_value, r.f_value, rtol=1e-4)
    assert close(got.den_df, r.den_df, rtol=1e-3)
    assert close(got.p_value, r.p_value, rtol=1e-3, atol=1e-12)


@pytest.mark.parametrize("mid", ["factorial", "covariate"])
def test_unbalanced_emmeans_as_emmeans(mid):
    ref, d = _unbalanced()
    m = ref["models"][mid]
    em = multilevel.fit(m["formula"], d, warn=False).emmeans("recipe")
    r = pd.DataFrame(m["emmeans"]["estimates"])
    got = em.table()
    assert close(got.emmean, r.emmean, rtol=1e-6, atol=1e-6 * r.se.min())
    assert close(got.se, r.se, rtol=1e-4) and close(got.df, r.df, rtol=1e-3)
    pairs = em.pairs("holm")
    rp = pd.DataFrame(m["emmeans"]["pairs_holm"])
    assert list(pairs.contrast) == list(rp.contrast)
    assert close(pairs.p_value, rp.p_value, rtol=1e-3, atol=1e-12)
