"""Prediction standard errors and intervals against lmerTest / R (population level), and the
random-term choice (lme4's re.form)."""

import numpy as np
import pandas as pd
import pytest
from refcases import close, data, fitted, model

import multilevel

METHODS = [
    ("satterthwaite", "se_fit", "df_satterthwaite", "satterthwaite"),
    ("kenward-roger", "se_kenward_roger", "df_kenward_roger", "kenward_roger"),
    ("normal", "se_fit", None, "z"),
]


@pytest.mark.parametrize("case", ["cake", "sleepstudy"])
@pytest.mark.parametrize("ddf, se, df, suffix", METHODS)
def test_population_confidence_intervals(case, ddf, se, df, suffix):
    block = model(case)["predict_intervals"]
    ref = pd.DataFrame(block["rows"])
    got = fitted(case).predict(
        ref[block["newdata_columns"]], random=False, interval="confidence", ddf=ddf
    )
    assert close(got.fit, ref.fit, rtol=1e-6, atol=1e-6 * ref[se].min())
    assert close(got.se_fit, ref[se], rtol=1e-4)
    if df is not None:
        assert close(got.df, ref[df], rtol=1e-3)
    assert close(got.lower, ref[f"lower_{suffix}"], rtol=1e-4)
    assert close(got.upper, ref[f"upper_{suffix}"], rtol=1e-4)


def test_prediction_interval_adds_the_variances():
    fit = fitted("sleepstudy")
    new = pd.DataFrame({"Days": [0.0, 5.0], "Subject": ["308", "new subject"]})
    conf = fit.predict(new, random=False, interval="confidence", ddf="normal")
    pred = fit.predict(new, random=False, interval="prediction", ddf="normal")
    Z = np.array([[1.0, 0.0], [1.0, 5.0]])
    D = fit.random_effects[0].covariance
    expected = conf.se_fit**2 + np.einsum("ij,jk,ik->i", Z, D, Z) + fit.sigma**2
    assert np.allclose(pred.se_fit**2, expected, rtol=1e-12)
    # conditional on subject 308: its mode and conditional variance; a new subject gets b = 0
    cond = fit.predict(new, random=True, interval="prediction", ddf="normal")
    b = fit.ranef()["Subject"].loc["308"].to_numpy()
    assert np.isclose(cond.fit[0], conf.fit[0] + Z[0] @ b)
    assert np.isclose(cond.fit[1], conf.fit[1]) and np.isclose(cond.se_fit[1], pred.se_fit[1])
    assert cond.se_fit[0] < pred.se_fit[0]


def test_random_term_choice_as_re_form():
    fit = multilevel.fit(
        "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", data("sleepstudy")
    )
    d = data("sleepstudy").head(20)
    full = fit.predict(d)
    none = fit.predict(d, random=False)
    first = fit.predict(d, random="~ (1 | Subject)")
    second = fit.predict(d, random=["(0 + Days | Subject)"])
    assert np.allclose(first + second - none, full)
    assert np.allclose(fit.predict(d, random="~0"), none)
    with pytest.raises(multilevel.errors.MultilevelError, match="not in the model"):
        fit.predict(d, random=["(1 | School)"])
