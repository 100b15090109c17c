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
    first_csv = outputs["csv"].split("\n\n")[0].split("\n", 1)[1]
    table = pd.read_csv(io.StringIO(first_csv))
    assert len(table) >= 1
    assert "|" in outputs["markdown"] and r"\begin{tabular}" in outputs["latex"]
    assert "<table" in outputs["html"]
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(outputs["json"])
