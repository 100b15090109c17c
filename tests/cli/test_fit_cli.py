"""``multilevel fit``: JSON with the reference field names, readable errors, exit codes."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from multilevel.cli import main
from refdata import reference


def test_fit_json(capsys):
    assert main(["fit", "hsb", "mathach ~ 1 + (1 | school)", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = reference("hsb")["models"][0]["fits"]["reml"]
    assert out["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    assert out["n_obs"] == 7185 and out["n_groups"] == {"school": 160}


def test_fit_ml_text(capsys, tmp_path):
    from multilevel.datasets import sleepstudy

    path = tmp_path / "sleep.csv"
    sleepstudy().to_csv(path, index=False)
    assert main(["fit", str(path), "Reaction ~ Days + (Days | Subject)", "--ml"]) == 0
    out = capsys.readouterr().out
    assert "maximum likelihood" in out and "Days" in out


def test_error_is_one_line_exit_2(capsys):
    assert main(["fit", "hsb", "mathach ~ sex + (1 | school)"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: column 'sex'") and "Traceback" not in err


def test_missing_file(capsys):
    assert main(["fit", "/no/such/file.csv", "y ~ 1 + (1 | g)"]) == 2
    assert "not found" in capsys.readouterr().err


def test_fit_in_chunks_gives_the_in_memory_fit(capsys, tmp_path):
    """--chunk-rows reads the file in bounded pieces (fit_large) and prints the same tables."""
    from multilevel.datasets import hsb

    path = tmp_path / "hsb.parquet"
    hsb().to_parquet(path)
    formula = "mathach ~ cses + meanses + (1 + cses | school)"
    assert main(["fit", str(path), formula, "--json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert main(["fit", str(path), formula, "--json", "--chunk-rows", "1000"]) == 0
    chunked = json.loads(capsys.readouterr().out)
    assert chunked["loglik"] == pytest.approx(whole["loglik"], abs=1e-6)
    for a, b in zip(chunked["fixed_effects"], whole["fixed_effects"], strict=True):
        assert a["name"] == b["name"]
        assert a["estimate"] == pytest.approx(b["estimate"], rel=1e-6)
        assert a["df_satterthwaite"] == pytest.approx(b["df_satterthwaite"], rel=1e-5)
    assert main(["fit", str(path), formula, "--chunk-rows", "1000"]) == 0
    text = capsys.readouterr().out
    assert "Fixed effects" in text and "scaled residuals: not shown" in text
    assert main(["fit", str(path), formula, "--chunk-rows", "1000", "--format", "csv"]) == 0
    long = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(dict.fromkeys(long["table"])) == ["data_summary", "fixed_effects", "random_effects"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--chunk-rows", "0"], "--chunk-rows must be a positive number"),
        (["--chunk-rows", "500", "--ddf", "kenward-roger"], "kenward-roger needs all rows"),
    ],
)
def test_fit_in_chunks_refuses_what_it_cannot_do(capsys, extra, message):
    assert main(["fit", "hsb", "mathach ~ 1 + (1 | school)", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("chunk_rows", [None, "37"])
def test_fit_weights_and_contrasts_on_the_command_line_as_lme4(capsys, tmp_path, chunk_rows):
    """--weights, in memory and from chunks: lme4's weighted sleepstudy fit (weights 1/(1 +
    Days)); --contrasts sum codes a factor as R's contr.sum, without changing the fit."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "inference"))
    from refcases import data, model

    v = next(x for x in model("sleepstudy")["variants"] if x["variant_id"] == "weights")
    ref = v["fits"]["reml"]
    path = tmp_path / "sleep.csv"
    d = data("sleepstudy").assign(w=lambda d: 1 / (1 + d["Days"]))
    d.to_csv(path, index=False)
    chunks = [] if chunk_rows is None else ["--chunk-rows", chunk_rows]
    assert main(["fit", str(path), v["formula"], "--weights", "w", "--json", *chunks]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    for a, b in zip(got["fixed_effects"], ref["fixed_effects"], strict=True):
        assert a["estimate"] == pytest.approx(b["estimate"], rel=1e-6)
    half = d.assign(half=(d["Days"] % 2).map({0: "even", 1: "odd"}))
    half.to_csv(path, index=False)
    formula = "Reaction ~ Days + half + (1 | Subject)"
    # by ML: the REML criterion moves by log|det A| when X becomes X A (here log 2), as lme4's
    sum_coded = ["--contrasts", "half=sum", "--ml", "--json"]
    assert main(["fit", str(path), formula, *sum_coded, *chunks]) == 0
    summed = json.loads(capsys.readouterr().out)
    assert main(["fit", str(path), formula, "--ml", "--json", *chunks]) == 0
    treated = json.loads(capsys.readouterr().out)
    names = [f["name"] for f in summed["fixed_effects"]]
    assert names == ["(Intercept)", "Days", "half1"]
    assert summed["loglik"] == pytest.approx(treated["loglik"], abs=1e-8)
    # sum coding: half1 = (even - odd) / 2 = -halfodd / 2 under treatment coding
    assert summed["fixed_effects"][2]["estimate"] == pytest.approx(
        -treated["fixed_effects"][2]["estimate"] / 2, rel=1e-6
    )
