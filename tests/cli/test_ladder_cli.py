"""``multilevel ladder``: JSON structure and lme4's LRT numbers on hsb, text/markdown output,
data from a file, errors and warnings on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from multilevel.cli import main
from refdata import close, reference

R_REF = json.loads((Path(__file__).parents[1] / "ladder" / "r_reference.json").read_text())
HSB = ["ladder", "hsb", "--outcome", "mathach", "--group", "school", "--level1", "cses"]


def test_json_structure_and_lrts(capsys):
    assert main([*HSB, "--level2", "meanses", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"models", "tests"}
    assert [m["step"] for m in out["models"]] == [
        "null",
        "random_intercept",
        "intercepts_as_outcomes",
        "random_slopes",
        "slopes_as_outcomes",
    ]
    assert [m["formula"] for m in out["models"]] == [
        "mathach ~ 1 + (1 | school)",
        "mathach ~ cses + (1 | school)",
        "mathach ~ cses + meanses + (1 | school)",
        "mathach ~ cses + meanses + (1 + cses | school)",
        "mathach ~ cses * meanses + (1 + cses | school)",
    ]
    assert all(m["method"] == "REML" for m in out["models"])
    ref_keys = set(reference("hsb")["ladder_tests"][0])
    assert all(ref_keys <= set(t) for t in out["tests"])
    # lme4::anova on the ML fits (tests/ladder/make_r_reference.R -> r_reference.json)
    for got, ref in zip(out["tests"], R_REF["ladder_meanses"], strict=True):
        assert got["df"] == ref["df"]
        assert [got["npar_reduced"], got["npar_full"]] == ref["npar"]
        assert close(got["chisq"], ref["chisq"], atol=1e-4)
        assert close(got["p_value"], ref["p_value"], rtol=1e-3)
        assert close(got["loglik_full"], ref["loglik"][1], atol=1e-5)
        assert got["fits_used"] == "ML (REML=FALSE)"
    # the random slope alone (variance + covariance: df 2, boundary mixture of chi2(1), chi2(2))
    assert out["tests"][2]["df"] == 2 and out["tests"][2]["mixture_df"] == [1, 2]
    assert out["tests"][2]["p_value_mixture"] < out["tests"][2]["p_value"]
    assert out["tests"][3]["df"] == 1 and out["tests"][3]["p_value_mixture"] is None
    # every model reports the ML likelihood the tests used
    for m, t in zip(out["models"][1:], out["tests"], strict=True):
        assert close(m["ml"]["loglik"], t["loglik_full"], atol=1e-9)


def test_reference_ladder_with_two_level2(capsys):
    assert main([*HSB, "--level2", "meanses,catholic", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    refs = reference("hsb")["ladder_tests"][:2] + R_REF["ladder_two_level2"]
    for got, ref in zip(out["tests"], refs, strict=True):
        assert got["df"] == ref["df"]
        assert close(got["chisq"], ref["chisq"], atol=1e-4)
        assert close(got["p_value"], ref["p_value"], rtol=1e-3)


def test_ml_text_and_markdown(capsys, tmp_path):
    from multilevel.datasets import hsb

    path = tmp_path / "hsb.csv"
    hsb().to_csv(path, index=False)
    argv = [
        "ladder",
        str(path),
        "--outcome",
        "mathach",
        "--group",
        "school",
        "--level1",
        "cses",
        "--level2",
        "meanses",
        "catholic",
        "--ml",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "ML fits" in text and "slopes_as_outcomes" in text
    assert "random_intercept         4  -23360.21" in text and "395.40   1  < .001" in text
    assert main([*argv, "--format", "markdown"]) == 0
    assert "| random_intercept | 4 | -23360.21 |" in capsys.readouterr().out


def test_errors_and_warnings(capsys):
    assert main([*HSB, "--level2", "ses"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: level-2 predictor 'ses' varies within school")
    assert (
        main(["ladder", "hsb", "--outcome", "mathach", "--group", "school", "--level1", "catholic"])
        == 0
    )
    assert "warning: level-1 predictor 'catholic' never varies" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["ladder", "hsb", "--group", "school"])  # --outcome is required


def test_center_group(capsys):
    pytest.importorskip("multilevel.levels.centering")
    assert (
        main(
            [
                "ladder",
                "hsb",
                "--outcome",
                "mathach",
                "--group",
                "school",
                "--level1",
                "ses",
                "--level2",
                "catholic",
                "--center",
                "group",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["center"] == "group" and out["level1"] == ["ses_cwc"]
    assert out["level2"] == ["catholic", "ses_mean"]
    # the group mean is a level-2 predictor of the intercept, not in a silent interaction
    assert out["models"][-1]["formula"] == (
        "mathach ~ ses_cwc + catholic + ses_mean + ses_cwc:catholic + (1 + ses_cwc | school)"
    )
    assert any("ses -> ses_cwc" in n for n in out["notes"])
    assert any("ses_mean added as level-2 predictors of the intercept" in n for n in out["notes"])
    for got, ref in zip(out["tests"][:2], reference("hsb")["ladder_tests"][:2], strict=True):
        assert close(got["chisq"], ref["chisq"], atol=1e-4)


def test_glmm_ladder_with_family_and_nagq(capsys, tmp_path):
    """--family binomial --nagq 10: lme4's glmer (nAGQ = 10) and anova() on a binary hsb
    outcome (tests/ladder/make_glmm_reference.R)."""
    import multilevel

    ref = json.loads((Path(__file__).parents[1] / "ladder" / "glmm_reference.json").read_text())
    agq = next(r for r in ref["ladders"] if r["id"] == "hsb_binary_agq")
    path = tmp_path / "hsb_binary.csv"
    hsb = multilevel.datasets.hsb()
    hsb.assign(high=(hsb.mathach > 15).astype(int)).to_csv(path, index=False)
    args = ["ladder", str(path), "--outcome", "high", "--group", "school", "--level1", "cses"]
    args += ["--level2", "meanses", "catholic", "--family", "binomial", "--nagq", "10"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["family"] == "binomial(logit)" and out["nagq"] == 10
    for got, want in zip(out["models"], agq["models"], strict=False):
        assert got["nagq"] == want["nagq"] == 10
        assert got["loglik_lme4"] == pytest.approx(want["loglik"], abs=2e-3)
        assert got["sigma2"] is None
    for got, want in zip(out["tests"], agq["tests"], strict=False):
        assert got["chisq"] == pytest.approx(want["chisq"], abs=5e-3)
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "adaptive Gauss-Hermite, 10 points" in text and "logit(P(high = 1))" in text
    assert main(["ladder", str(path), "--outcome", "high", "--group", "school", "--nagq", "5"]) == 2
    assert "--nagq is for GLMMs" in capsys.readouterr().err
