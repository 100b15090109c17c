"""``multilevel icc``, ``multilevel lrt`` and ``multilevel ladder --json`` on data with missing
values against lme4 (tests/cli/make_cli_reference.R -> cli_reference.json). hsb was used while
developing; exam is held out (its values were checked only once the code was written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import multilevel
from multilevel.cli import main
from refdata import close

REF = json.loads((Path(__file__).parent / "cli_reference.json").read_text())

#: the missing-value rules of make_cli_reference.R (1-based row numbers)
RULES = {
    "hsb": {"mathach": 97, "cses": 89, "meanses": 501},
    "exam": {"normexam": 53, "standLRT": 61},
}


def with_missing(name: str, tmp_path: Path) -> Path:
    d = multilevel.datasets.load(name).copy()
    row = np.arange(1, len(d) + 1)
    for col, k in RULES[name].items():
        d.loc[row % k == 0, col] = np.nan
    path = tmp_path / f"{name}_missing.csv"
    d.to_csv(path, index=False)
    return path


def run_json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("case", "name", "outcome", "ml"),
    [
        ("hsb_reml", "hsb", "mathach", False),
        ("hsb_ml", "hsb", "mathach", True),
        ("exam_reml", "exam", "normexam", False),
    ],
)
def test_icc_agrees_with_lme4(capsys, tmp_path, case, name, outcome, ml):
    ref = REF["icc"][case]
    path = with_missing(name, tmp_path)
    argv = ["icc", str(path), "--outcome", outcome, "--group", "school", "--json"]
    out = run_json(capsys, argv + (["--ml"] if ml else []))
    assert {"icc", "ci_lower", "ci_upper", "design_effect", "effective_n", "method"} <= set(out)
    assert out["n_obs"] == ref["n_obs"] and out["n_groups"] == ref["n_groups"]
    assert out["n_dropped"] == len(multilevel.datasets.load(name)) - ref["n_obs"]
    assert close(out["icc"], ref["icc"], rtol=1e-5)
    assert close(out["ci_lower"], ref["ci_lower"], rtol=1e-4)
    assert close(out["ci_upper"], ref["ci_upper"], rtol=1e-4)
    assert close(out["design_effect"], ref["design_effect"], rtol=1e-5)
    assert close(out["effective_n"], ref["effective_n"], rtol=1e-5)
    assert out["method"] == "profile" and out["fit_method"] == ("ML" if ml else "REML")


def test_icc_text_explains_design_effects(capsys):
    assert main(["icc", "hsb", "--outcome", "mathach", "--group", "school"]) == 0
    text = capsys.readouterr().out
    assert "ICC = 0.1804  95% CI [0.1472, 0.2210]" in text
    assert "Design effect 1 + (m - 1) ICC = 8.919" in text and "m_w" in text


def test_icc_errors_are_one_line(capsys):
    assert main(["icc", "hsb", "--outcome", "nope", "--group", "school"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'nope'" in err
    assert main(["icc", "hsb", "--outcome", "mathach", "--group", "school", "--level", "95"]) == 2
    assert "--level" in capsys.readouterr().err


def test_lrt_grouping_factors_compared_by_what_they_are(capsys):
    """(1 | batch:cask) is nested in (1 | batch/cask) = (1 | batch) + (1 | cask:batch)."""
    ref = REF["lrt"]["pastes_ml"]
    out = run_json(
        capsys,
        ["lrt", "pastes", ref["formula0"], ref["formula1"], "--ml", "--json"],
    )
    assert [out["npar_reduced"], out["npar_full"]] == ref["npar"]
    assert close(out["loglik_reduced"], ref["loglik"][0], atol=1e-5)
    assert close(out["loglik_full"], ref["loglik"][1], atol=1e-5)
    assert close(out["chisq"], ref["chisq"], atol=1e-4) and out["df"] == ref["df"] == 1
    assert round(out["p_value"], 4) == 0.5234 == round(ref["p_value"], 4)
    assert out["fits_used"] == "ML (REML=FALSE)" and not out["refitted"]
    assert close(out["p_value_mixture"], ref["p_value"] / 2, rtol=1e-6)


def test_lrt_random_slope_with_missing_values(capsys, tmp_path):
    ref = REF["lrt"]["hsb_slope"]
    path = with_missing("hsb", tmp_path)
    out = run_json(capsys, ["lrt", str(path), ref["formula0"], ref["formula1"], "--json"])
    assert close(out["loglik_full"], ref["loglik"][1], atol=1e-5)
    assert close(out["chisq"], ref["chisq"], atol=1e-4) and out["df"] == ref["df"] == 2
    assert close(out["p_value"], ref["p_value"], rtol=1e-4)
    assert out["refitted"] and out["mixture_df"] == [1, 2]
    assert out["n_dropped"] == 7185 - out["n_obs"]


def test_lrt_text_and_errors(capsys):
    argv = ["lrt", "pastes", "strength ~ 1 + (1 | batch)", "strength ~ 1 + (1 | cask)"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "same number of parameters" in err
    assert main(["lrt", "hsb", "mathach ~ cses + (1|school)", "mathach ~ 1 + (1|school)"]) == 0
    text = capsys.readouterr().out
    assert "Chisq = " in text and "df = 1" in text and "ML (REML=FALSE)" in text
    assert "reduced     3" in text  # ordered by parameter count, whatever the order given


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("hsb", ["--outcome", "mathach", "--level1", "cses", "--level2", "meanses"]),
        ("exam", ["--outcome", "normexam", "--level1", "standLRT", "--level2", "schavg"]),
    ],
)
def test_ladder_json_with_missing_values_agrees_with_lme4(capsys, tmp_path, name, args):
    ref = REF["ladder"][name]
    path = with_missing(name, tmp_path)
    argv = ["ladder", str(path), "--group", "school", *args, "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert f"{ref['n_dropped']} of {ref['n_rows']} rows dropped" in captured.err
    assert out["n_dropped"] == ref["n_dropped"] > 0 and out["n_obs"] == ref["n_obs"]
    steps = [m["step"] for m in out["models"]]
    assert steps == list(ref["formulas"])
    for m in out["models"]:
        r = ref["reml"][m["step"]]
        assert m["n_obs"] == r["n_obs"] and m["n_dropped"] == ref["n_dropped"]
        assert close(m["loglik"], r["loglik"], atol=2e-5), m["step"]
        assert close(m["ml"]["loglik"], ref["ml_loglik"][m["step"]], atol=2e-5), m["step"]
        got = {f["name"]: (f["estimate"], f["std_error"]) for f in m["fixed_effects"]}
        for term, b in r["fixef"].items():
            assert close(got[term][0], b, rtol=1e-4, atol=1e-5), (m["step"], term)
            assert close(got[term][1], r["se"][term], rtol=1e-3), (m["step"], term)
    for t, r in zip(out["tests"], ref["tests"], strict=True):
        assert (t["model_reduced"], t["model_full"]) == (r["reduced"], r["full"])
        assert t["df"] == r["df"]
        assert close(t["chisq"], r["chisq"], atol=2e-4)
        assert close(t["p_value"], r["p_value"], rtol=1e-3)
