"""Why the estimators differ: predictor levels, within and between slopes, the notes."""

import numpy as np
import pytest

import multilevel
from multilevel.compare import compare_estimators
from multilevel.compare.data import clustered_data
from multilevel.compare.explain import predictor_levels, within_between_slopes

FORMULA = "mathach ~ cses + meanses + catholic + (1 | school)"


@pytest.fixture(scope="module")
def hsb():
    return multilevel.datasets.hsb()


def test_levels_of_predictors(hsb):
    data = clustered_data(hsb, FORMULA)
    assert predictor_levels(data) == {
        "cses": "level 1",
        "meanses": "level 2",
        "catholic": "level 2",
    }


def test_within_and_between_slopes_are_the_textbook_regressions(hsb):
    data = clustered_data(hsb, "mathach ~ ses + (1 | school)")
    bw, bb = within_between_slopes(data)["ses"]
    # within: the fixed-effects (dummy) estimator; between: OLS of school means on school means
    c = compare_estimators(hsb, "mathach ~ ses + (1 | school)", estimators=["fixed_effects"])
    assert bw == pytest.approx(c["fixed_effects"].estimate("ses"), rel=1e-10)
    means = hsb.groupby("school")[["mathach", "ses"]].mean()
    slope = np.polyfit(means["ses"], means["mathach"], 1)[0]
    assert bb == pytest.approx(slope, rel=1e-10)
    assert bb > bw  # hsb: the between-school slope of ses is steeper (contextual effect)


def test_notes_say_why_ols_and_multilevel_differ(hsb):
    c = compare_estimators(hsb, "mathach ~ ses + meanses + (1 | school)")
    assert c.predictor_levels == {"ses": "level 1", "meanses": "level 2"}
    ses, meanses = c.explanation
    ratio = c["ols"].std_error("meanses") / c["multilevel"].std_error("meanses")
    assert ratio < 1 and f"{ratio:.2f} times the multilevel SE" in meanses
    assert "level-2 predictor" in meanses and "160 clusters, not 7185" in meanses
    assert "level-1 predictor" in ses and "need not be too small" in ses
    assert f"OLS ({c['ols'].estimate('ses'):.3g})" in ses
    text = c.to_text()
    assert "Why the estimates and SEs differ:" in text and "multilevel icc" in text
    assert c.to_dict()["predictor_levels"] == c.predictor_levels
