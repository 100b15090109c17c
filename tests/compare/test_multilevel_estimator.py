"""The multilevel estimator reproduces lme4's REML fit of hsb model (c)."""

from __future__ import annotations

import multilevel
from multilevel.compare.data import clustered_data
from multilevel.compare.multilevel_estimator import multilevel_model
from refdata import close, reference

MODEL = next(
    m for m in reference("hsb")["models"] if m["model_id"] == "hsb_c_intercepts_as_outcomes"
)


def test_matches_lme4_reml():
    d = clustered_data(multilevel.datasets.hsb(), MODEL["formula"])
    res = multilevel_model(d)
    ref = MODEL["fits"]["reml"]
    for b, se, df, c in zip(
        res.estimates, res.std_errors, res.df, ref["fixed_effects"], strict=True
    ):
        assert close(b, c["estimate"], rtol=1e-4, atol=1e-3 * c["std_error"])
        assert close(se, c["std_error"], rtol=1e-4)
        assert close(df, c["df_satterthwaite"], rtol=1e-3)
    assert close(res.loglik, ref["loglik"], atol=1e-5)
    tau00 = ref["random_effects"][0]["variances"][0]
    assert close(res.extras["icc"], tau00 / (tau00 + ref["residual_variance"]), rtol=1e-4)
    assert res.n_clusters == 160 and res.n_obs == 7185


def test_ml_fit():
    d = clustered_data(multilevel.datasets.hsb(), MODEL["formula"])
    res = multilevel_model(d, reml=False)
    assert close(res.loglik, MODEL["fits"]["ml"]["loglik"], atol=1e-5)
    assert res.extras["reml"] is False
