"""One --format for fit, ladder and compare: json, text and the paste-ready tables."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from multilevel.cli import main


@pytest.mark.parametrize(
    "argv",
    [
        ["fit", "sleepstudy", "Reaction ~ Days + (Days | Subject)"],
        ["ladder", "sleepstudy", "--outcome", "Reaction", "--group", "Subject", "--level1", "Days"],
        ["compare", "sleepstudy", "Reaction ~ Days + (1 | Subject)"],
    ],
    ids=["fit", "ladder", "compare"],
)
def test_every_format(argv, capsys):
    outputs = {}
    for fmt in ("text", "json", "csv", "markdown", "latex", "html"):
        assert main([*argv, "--format", fmt]) == 0
        outputs[fmt] = capsys.readouterr().out
    assert isinstance(json.loads(outputs["json"]), dict)
    # one loadable table: a first column says which table each row belongs to
    table = pd.read_csv(io.StringIO(outputs["csv"]))
    assert table.columns[0] == "table" and len(table) >= 2
    assert not outputs["csv"].startswith("#") and "\n\n" not in outputs["csv"]
    assert "|" in outputs["markdown"] and r"\begin{tabular}" in outputs["latex"]
    assert "<table" in outputs["html"]
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(outputs["json"])


def test_ladder_has_the_same_tables_in_every_format(capsys):
    """Estimates (and every other table) in text and Markdown as in HTML, LaTeX and CSV."""
    argv = [
        "ladder",
        "sleepstudy",
        "--outcome",
        "Reaction",
        "--group",
        "Subject",
        "--level1",
        "Days",
    ]
    outputs = {}
    for fmt in ("text", "csv", "markdown", "latex", "html"):
        assert main([*argv, "--format", fmt]) == 0
        outputs[fmt] = capsys.readouterr().out
    names = list(dict.fromkeys(pd.read_csv(io.StringIO(outputs["csv"]))["table"]))
    assert names == ["data_summary", "model_comparison", "variance_explained", "estimates"]
    for fmt in ("text", "markdown", "latex", "html"):
        for title in ("Data summary", "Model comparison", "Estimates by model"):
            assert title in outputs[fmt], (fmt, title)
    # the Days slope of the random-slopes model: 10.47 (SE 1.55), lme4's REML fit
    for fmt in ("text", "markdown", "html"):
        assert "10.47*** (1.55)" in outputs[fmt], fmt
    assert "10.47*** (1.55)" in outputs["latex"].replace("{*}", "*")
