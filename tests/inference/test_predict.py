"""Prediction standard errors and intervals against lmerTest / R (population level), and the
random-term choice (lme4's re.form)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from refcases import close, data, fitted, model

import multilevel
from multilevel.errors import DataError

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


# ---------------------------------------------------------------------- offsets (issue 17)
OFFSET_DIR = Path(__file__).parent / "offset_reference"
OFFSET_REF = json.loads((OFFSET_DIR / "offset_reference.json").read_text())["fits"]


def _offset_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_csv(OFFSET_DIR / "offset.csv"), pd.read_csv(OFFSET_DIR / "offset_newdata.csv")


@pytest.mark.parametrize(
    "formula, offset, ref",
    [
        ("y ~ x + offset(log(t)) + (1 | g)", None, "formula"),
        ("y ~ x + (1 | g)", "log(t)", "argument"),
        ("y ~ x + offset(2 * x) + (1 | g)", "log(t)", "both"),
    ],
)
def test_predictions_on_new_data_include_the_offset(formula, offset, ref):
    """lme4 1.1-31 predict.merMod (offset_reference/make_offset_reference.R): the formula's
    offset evaluated on the new rows, conditional on the groups (an unseen group: b = 0) and at
    population level. An ``offset=`` column is evaluated too, as predict.lm does; lme4 drops it
    on new data (issue 447), so the reference there is lme4's fit with the offset in the formula
    (the same model: same loglik and beta)."""
    d, new = _offset_data()
    case = OFFSET_REF[ref]
    fit = multilevel.fit(formula, d, offset=offset)
    assert fit.loglik == pytest.approx(case["loglik"], abs=1e-6)
    np.testing.assert_allclose(fit.beta, case["beta"], rtol=1e-5)
    np.testing.assert_allclose(fit.fitted[:5], case["fitted"], rtol=1e-6)
    want = OFFSET_REF["formula"] if ref != "both" else case
    if ref == "both":  # lme4 dropped log(t) on the new rows: add it back
        want = {k: np.add(case[k], np.log(new["t"])) for k in ("conditional", "population")}
    np.testing.assert_allclose(fit.predict(new), want["conditional"], rtol=1e-6)
    np.testing.assert_allclose(fit.predict(new, random=False), want["population"], rtol=1e-6)
    frame = fit.predict(new, random=False, interval="confidence")
    np.testing.assert_allclose(frame["fit"], want["population"], rtol=1e-6)
    np.testing.assert_allclose(fit.predict(d.head(5)), case["fitted"], rtol=1e-6)


def test_lme4_drops_the_offset_argument_on_new_data():
    """What the reference shows (so the test above compares with the right numbers): lme4's
    prediction for offset = log(t) is that of the formula offset minus log(t) of the new rows."""
    _, new = _offset_data()
    for block in ("conditional", "population"):
        np.testing.assert_allclose(
            np.add(OFFSET_REF["argument"][block], np.log(new["t"])),
            OFFSET_REF["formula"][block],
            rtol=1e-9,
        )


def test_an_offset_array_cannot_predict_new_rows():
    d, new = _offset_data()
    fit = multilevel.fit("y ~ x + (1 | g)", d, offset=np.log(d["t"]).to_numpy())
    np.testing.assert_allclose(fit.predict(), fit.fitted)  # the fitted rows keep theirs
    np.testing.assert_allclose(fit.fitted[:5], OFFSET_REF["argument"]["fitted"], rtol=1e-6)
    with pytest.raises(DataError, match="offset was given as an array"):
        fit.predict(new)
    fit = multilevel.fit("y ~ x + offset(log(t)) + (1 | g)", d)
    with pytest.raises(DataError, match="offset 'log[(]t[)]'"):
        fit.predict(new.drop(columns="t"))
    got = fit.predict(new.assign(t=[1.0, np.nan, 10.0, 0.7, 15.0, 4.0]), random=False)
    assert np.isnan(got[1]) and np.isfinite(np.delete(got, 1)).all()  # as predict.lm: NA
