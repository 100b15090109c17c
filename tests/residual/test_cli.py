"""``--correlation`` and ``--variance`` on the command line: fit, ladder and plot."""

from __future__ import annotations

import json

import numpy as np

import multilevel
from multilevel.cli import main
from residual_cases import HERE, data


def test_fit_json_has_the_structure(capsys):
    path = str(HERE / "orthodont.csv")
    args = ["fit", path, "distance ~ age * Sex + (1 | Subject)", "--variance", "ident:Sex"]
    assert main([*args, "--correlation", "ar1:occasion", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    fit = multilevel.fit(
        "distance ~ age * Sex + (1 | Subject)",
        data("orthodont"),
        correlation=multilevel.AR1(time="occasion"),
        variance=multilevel.VarIdent(by="Sex"),
        warn=False,
    )
    assert out["residual_correlation"]["structure"] == "AR1"
    np.testing.assert_allclose(out["residual_correlation"]["phi"], fit.residual_structure.phi)
    assert set(out["residual_variance_function"]["sd_ratios"]) == {"Female", "Male"}
    np.testing.assert_allclose(out["loglik"], fit.loglik)
    assert out["n_params"] == 4 + 1 + 1 + 2


def test_fit_text_shows_the_structure(capsys):
    path = str(HERE / "sleepstudy.csv")
    assert main(["fit", path, "Reaction ~ Days + (1 | Subject)", "--correlation", "ar1:Days"]) == 0
    out = capsys.readouterr().out
    assert "Residual structure" in out and "AR(1), ~Days | Subject" in out


def test_ladder_takes_the_structure(capsys):
    path = str(HERE / "sleepstudy.csv")
    args = ["ladder", path, "--outcome", "Reaction", "--group", "Subject", "--level1", "Days"]
    assert main([*args, "--correlation", "ar1:Days", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "phi" in json.dumps(out)


def test_bad_spec_is_one_line(capsys):
    path = str(HERE / "sleepstudy.csv")
    code = main(["fit", path, "Reaction ~ Days + (1 | Subject)", "--correlation", "arma"])
    assert code != 0
    assert "unknown correlation structure" in capsys.readouterr().err


def test_plot_acf(tmp_path, capsys):
    path = str(HERE / "sleepstudy.csv")
    out = tmp_path / "acf.png"
    args = ["plot", path, "Reaction ~ Days + (1 | Subject)", "--kind", "acf"]
    assert main([*args, "--correlation", "ar1:Days", "-o", str(out)]) == 0
    assert out.stat().st_size > 1000
