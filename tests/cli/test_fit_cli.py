"""``multilevel fit``: JSON with the reference field names, readable errors, exit codes."""

from __future__ import annotations

import json

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
