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
        "slopes_as_outcomes",
    ]
    assert [m["formula"] for m in out["models"]] == [
        "mathach ~ 1 + (1 | school)",
        "mathach ~ cses + (1 | school)",
        "mathach ~ cses + meanses + (1 | school)",
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
    assert out["tests"][2]["p_value_mixture"] < out["tests"][2]["p_value"]


def test_reference_ladder_with_two_level2(capsys):
    assert main([*HSB, "--level2", "meanses,catholic", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for got, ref in zip(out["tests"], reference("hsb")["ladder_tests"][:3], strict=True):
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
    assert "ML fits" in text and "51.891" in text and "slopes_as_outcomes" in text
    assert main([*argv, "--format", "markdown"]) == 0
    assert "| null | random_intercept | 1 | 395.398 |" in capsys.readouterr().out


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
    assert out["center"] == "group" and out["level2"] == ["ses_mean", "catholic"]
    for got, ref in zip(out["tests"], reference("hsb")["ladder_tests"][:3], strict=True):
        assert close(got["chisq"], ref["chisq"], atol=1e-4)
