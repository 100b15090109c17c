"""``multilevel report`` and ``multilevel plot`` from the command line."""

import argparse
import re

import pandas as pd
import pytest

from multilevel.cli import main


def test_fit_report_with_csv_and_latex(tmp_path, capsys):
    out = tmp_path / "r.html"
    rc = main(
        [
            "report",
            "sleepstudy",
            "Reaction ~ Days + (Days | Subject)",
            "-o",
            str(out),
            "--csv",
            str(tmp_path / "csv"),
            "--format",
            "latex",
            "--title",
            "Sleep",
        ]
    )
    assert rc == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<title>Sleep</title>" in text
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == 5
    stdout = capsys.readouterr().out
    assert stdout.count(r"\begin{table}") == 3 and r"\toprule" in stdout
    fe = pd.read_csv(tmp_path / "csv" / "fixed_effects.csv")
    assert fe["term"].tolist() == ["(Intercept)", "Days"]
    assert fe["estimate"].iloc[1] == pytest.approx(10.467286, abs=1e-5)  # lme4: 10.467286


def test_ladder_report(tmp_path):
    pytest.importorskip("multilevel.ladder")
    out = tmp_path / "ladder.html"
    rc = main(
        [
            "report",
            "hsb",
            "--ladder",
            "--outcome",
            "mathach",
            "--group",
            "school",
            "--level1",
            "cses",
            "--level2",
            "meanses",
            "-o",
            str(out),
            "--csv",
            str(tmp_path / "t"),
        ]
    )
    assert rc == 0
    text = out.read_text(encoding="utf-8")
    assert 'id="lrt"' in text and "random_intercept" in text
    names = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert "model_comparison.csv" in names and "null_fixed_effects.csv" in names


def test_compare_report_markdown(tmp_path, capsys):
    out = tmp_path / "c.html"
    rc = main(
        [
            "report",
            "hsb",
            "mathach ~ cses + (1 | school)",
            "--compare",
            "-o",
            str(out),
            "--format",
            "markdown",
        ]
    )
    assert rc == 0
    assert "**Estimators compared" in capsys.readouterr().out
    assert 'id="fig-forest"' in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report", "hsb", "mathach ~ cses + (1 | school)"], "nothing to write"),
        (["report", "hsb", "--ladder", "--format", "csv"], "--outcome and --group"),
        (["report", "hsb", "--format", "csv"], "a formula is needed"),
        (["report", "hsb", "mathach ~ nope + (1 | school)", "--format", "csv"], "nope"),
    ],
)
def test_errors_are_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def _plot_args(argv):
    from multilevel.cli import plot

    parser = argparse.ArgumentParser(prog="multilevel")
    plot.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


@pytest.mark.parametrize("kind", ["caterpillar", "spaghetti", "residuals", "shrinkage", "variance"])
def test_plot_writes_an_image(kind, tmp_path):
    out = tmp_path / f"{kind}.png"
    args = _plot_args(
        [
            "plot",
            "sleepstudy",
            "Reaction ~ Days + (Days | Subject)",
            "--kind",
            kind,
            "-o",
            str(out),
            "--dpi",
            "50",
        ]
    )
    assert args.run(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_svg_and_help_examples(tmp_path, capsys):
    out = tmp_path / "c.svg"
    args = _plot_args(
        ["plot", "hsb", "mathach ~ cses + (1 | school)", "--kind", "caterpillar", "-o", str(out)]
    )
    args.run(args)
    assert out.read_text().lstrip().startswith("<?xml")
    with pytest.raises(SystemExit):
        _plot_args(["plot", "--help"])
    assert "examples:" in capsys.readouterr().out


def test_ladder_rows_dropped_are_noted_in_the_report(tmp_path, capsys):
    pytest.importorskip("multilevel.ladder")
    from multilevel.datasets import hsb

    data = hsb()
    data.loc[[0, 5, 9], "cses"] = None
    csv_in = tmp_path / "hsb.csv"
    data.to_csv(csv_in, index=False)
    out = tmp_path / "ladder.html"
    rc = main(
        [
            "report",
            str(csv_in),
            "--ladder",
            "--outcome",
            "mathach",
            "--group",
            "school",
            "--level1",
            "cses",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    assert "3 of 7185 rows dropped" in capsys.readouterr().err
    notes = re.search(r'<section id="notes">(.*?)</section>', out.read_text(), re.S).group(1)
    assert "3 rows had missing values in the ladder&#x27;s variables (cses: 3)" in notes
    assert "Message from the ladder" not in notes  # said once, not twice


def test_glmm_report_and_plots_with_family(tmp_path, capsys):
    """--family/--nagq reach the fit: lme4's cbpp numbers (nAGQ = 10) in the CSV tables, no
    residual row; a caterpillar is drawn, a residual plot refused with its reason."""
    import json
    from pathlib import Path

    ref_dir = Path(__file__).parents[1] / "glmm" / "reference"
    model = json.loads((ref_dir / "cbpp.json").read_text())["models"][0]
    agq = model["fits"]["agq10"]
    data = str(ref_dir / "cbpp.csv")
    formula = model["formula"]
    glmm = ["--family", "binomial", "--nagq", "10"]
    out = tmp_path / "r.html"
    rc = main(["report", data, formula, *glmm, "-o", str(out), "--csv", str(tmp_path / "csv")])
    assert rc == 0
    fe = pd.read_csv(tmp_path / "csv" / "fixed_effects.csv")
    assert list(fe.columns) == [
        "term",
        "estimate",
        "std_error",
        "ci_lower",
        "ci_upper",
        "z_value",
        "p_value",
    ]
    assert fe["estimate"].tolist() == pytest.approx(agq["beta"], rel=1e-4)
    assert fe["z_value"].tolist() == pytest.approx(
        [r["z_value"] for r in agq["fixed_effects"]], rel=3e-3
    )
    re_ = pd.read_csv(tmp_path / "csv" / "random_effects.csv")
    assert list(re_["group"]) == ["herd"]
    assert "adaptive Gauss-Hermite, 10 points" in out.read_text()
    png = tmp_path / "c.png"
    assert main(["plot", data, formula, *glmm, "--kind", "caterpillar", "-o", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    rc = main(["plot", data, formula, *glmm, "--kind", "residuals", "-o", str(tmp_path / "r.png")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "no residual plot for a binomial GLMM" in err and len(err.strip().splitlines()) == 1
