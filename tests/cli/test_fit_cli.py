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
