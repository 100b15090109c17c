"""Group- and grand-mean centering, checked against the centred columns shipped with hsb."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel
from multilevel.errors import DataError
from multilevel.levels import center


def test_group_mean_centering_reproduces_hsb_cses_and_meanses():
    hsb = multilevel.datasets.hsb()
    out = center(hsb, "ses", group="school", how="group")
    np.testing.assert_allclose(out["ses"], hsb["cses"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["ses_mean"], hsb["meanses"], rtol=0, atol=1e-12)
    assert np.allclose(hsb["ses"], out["ses"] + out["ses_mean"])  # the input is untouched
    (rec, mean_rec) = out.attrs["centering"]
    assert rec["how"] == "group" and rec["group"] == "school" and rec["mean_column"] == "ses_mean"
    assert mean_rec["column"] == "ses_mean" and "school mean of ses" in mean_rec["note"]
    assert "centering" not in hsb.attrs


def test_grand_mean_centering_and_several_columns():
    hsb = multilevel.datasets.hsb()
    out = center(hsb, ["ses", "mathach"], how="grand")
    np.testing.assert_allclose(out[["ses", "mathach"]].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(out["ses"], hsb["ses"] - hsb["ses"].mean(), atol=1e-12)
    assert [r["how"] for r in out.attrs["centering"]] == ["grand", "grand"]
    assert "ses_mean" not in out.columns


def test_contextual_effect_from_group_means_matches_the_reference_model():
    """mathach ~ ses_c + ses_mean is hsb model (c) without catholic: same fit as cses + meanses."""
    hsb = multilevel.datasets.hsb()
    out = center(hsb, "ses", group="school")
    a = multilevel.fit("mathach ~ ses + ses_mean + (1 | school)", out)
    b = multilevel.fit("mathach ~ cses + meanses + (1 | school)", hsb)
    assert abs(a.loglik - b.loglik) < 1e-8
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-8)


def test_missing_values_and_errors():
    df = multilevel.datasets.hsb().head(50).copy()
    df.loc[0, "ses"] = np.nan
    out = center(df, "ses", group="school")
    assert np.isnan(out.loc[0, "ses"])
    school = df.loc[0, "school"]
    expected = df.loc[df["school"] == school, "ses"].mean()  # mean of the non-missing rows
    assert np.isclose(out.loc[1, "ses_mean"], expected)
    with pytest.raises(DataError, match="needs the grouping column"):
        center(df, "ses")
    with pytest.raises(DataError, match="how must be"):
        center(df, "ses", "school", how="cluster")
    with pytest.raises(DataError, match="'nope' is not in the data"):
        center(df, "nope", "school")
    df["label"] = "a"
    with pytest.raises(DataError, match="not numeric"):
        center(df, "label", "school")
