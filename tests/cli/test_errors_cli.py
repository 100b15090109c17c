"""One-line errors with exit status 2 (130 for Ctrl-C) where a traceback used to appear, and the
help texts of issue 14 item 10."""

from __future__ import annotations

import pytest

import multilevel
from multilevel.cli import main


def one_line_error(capsys, argv: list[str], expect: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert expect in err, err
    return err


def test_plot_unknown_extension_and_dpi(capsys, tmp_path):
    base = ["plot", "sleepstudy", "Reaction ~ Days + (1 | Subject)", "--kind", "caterpillar"]
    one_line_error(capsys, [*base, "-o", str(tmp_path / "p.xyz")], "'.xyz'")
    one_line_error(capsys, [*base, "-o", str(tmp_path / "p.png"), "--dpi", "0"], "--dpi")
    one_line_error(capsys, [*base, "-o", str(tmp_path / "no" / "p.png")], "does not exist")
    assert not list(tmp_path.iterdir())


def test_simulate_too_many_groups(capsys):
    one_line_error(
        capsys, ["simulate", "--groups", "100000000", "--reps", "1", "--jobs", "1"], "at most"
    )


def test_formula_errors_are_not_data_file_errors(capsys, tmp_path):
    path = tmp_path / "sleep.csv"
    multilevel.datasets.sleepstudy().to_csv(path, index=False)
    err = one_line_error(
        capsys, ["fit", str(path), "Reaction ~ os.system(1) + (1 | Subject)"], "os.system"
    )
    assert "cannot read data file" not in err


def test_ctrl_c_is_one_line_and_130(capsys, monkeypatch):
    import multilevel.cli.fit as fit_cmd

    def interrupted(*_, **__):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_cmd, "resolve_data", interrupted)
    assert main(["fit", "sleepstudy", "Reaction ~ Days + (1 | Subject)"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err


def test_ladder_accepts_backtick_names(capsys, tmp_path):
    path = tmp_path / "sleep.csv"
    data = multilevel.datasets.sleepstudy().rename(
        columns={"Reaction": "reaction time", "Days": "days of sleep deprivation"}
    )
    data.to_csv(path, index=False)
    argv = ["ladder", str(path), "--outcome", "`reaction time`", "--group", "Subject"]
    assert main([*argv, "--level1", "`days of sleep deprivation`", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["models"][-1]["formula"] == (
        "`reaction time` ~ `days of sleep deprivation` + "
        "(1 + `days of sleep deprivation` | Subject)"
    )
    ref = multilevel.fit("Reaction ~ Days + (1 + Days | Subject)", multilevel.datasets.sleepstudy())
    assert out["models"][-1]["loglik"] == pytest.approx(ref.loglik, abs=1e-8)


def test_help_texts(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = capsys.readouterr().out
    assert "95% CIs" in out and "95%%" not in out
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--ddf {satterthwaite,kenward-roger} denominator degrees of freedom" in out


def test_empty_lrt_header_is_not_shown(capsys):
    assert main(["ladder", "sleepstudy", "--outcome", "Reaction", "--group", "Subject"]) == 0
    out = capsys.readouterr().out
    assert "χ²" not in out and "Likelihood-ratio" not in out and "null" in out
