"""``multilevel anova | emmeans | confint`` and ``fit --vcov``: the numbers of the library
(checked against R in tests/inference) in every --format, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from multilevel.cli import main

REF = Path(__file__).parents[1] / "inference" / "reference"
CAKE = str(REF / "cake.csv")
# temperature is read as a number from the CSV: factor() makes it the factor of the reference
FORMULA = "angle ~ recipe * factor(temperature) + (1 | recipe:replicate)"


def _model(case):
    return json.loads((REF / f"{case}.json").read_text())["models"][0]


def test_anova_json_as_lmertest(capsys):
    assert main(["anova", CAKE, FORMULA, "--type", "1", "--ddf", "kenward-roger", "--json"]) == 0
    out = pd.DataFrame(json.loads(capsys.readouterr().out)["rows"])
    block = _model("cake")["anova"][0]
    ref = pd.DataFrame(
        next(t for t in block["tables"] if t["type"] == 1 and t["ddf"] == "Kenward-Roger")["rows"]
    )
    assert list(out.term) == ["recipe", "factor(temperature)", "recipe:factor(temperature)"]
    assert out.f_value.to_numpy() == pytest.approx(ref.f_value.to_numpy(), rel=1e-4)
    assert out.den_df.to_numpy() == pytest.approx(ref.den_df.to_numpy(), rel=1e-3)


@pytest.mark.parametrize(
    "fmt, marker",
    [
        ("text", "Type III"),
        ("markdown", "| term |"),
        ("csv", "term,sum_sq"),
        ("latex", r"\begin{table}"),
        ("html", "<table"),
    ],
)
def test_anova_formats(capsys, fmt, marker):
    assert main(["anova", CAKE, FORMULA, "--format", fmt]) == 0
    assert marker in capsys.readouterr().out


def test_emmeans_json_as_emmeans(capsys):
    args = ["emmeans", CAKE, FORMULA, "--specs", "recipe", "--adjust", "holm", "--json"]
    assert main(args) == 0
    means, pairs = json.loads(capsys.readouterr().out)
    e = next(
        x
        for x in _model("cake")["emmeans"]
        if x["specs"] == "~ recipe" and x["lmer_df"] == "satterthwaite"
    )
    ref = pd.DataFrame(e["estimates"])
    got = pd.DataFrame(means["rows"])
    assert got.emmean.to_numpy() == pytest.approx(ref.emmean.to_numpy(), rel=1e-6)
    ref_pairs = pd.DataFrame(next(p for p in e["pairs"] if p["adjust"] == "holm")["rows"])
    got_pairs = pd.DataFrame(pairs["rows"])
    assert list(got_pairs.contrast) == list(ref_pairs.contrast)
    assert got_pairs.p_value.to_numpy() == pytest.approx(ref_pairs.p_value.to_numpy(), rel=1e-3)


def test_confint_wald_csv(capsys):
    args = [
        "confint",
        "sleepstudy",
        "Reaction ~ Days + (Days | Subject)",
        "--method",
        "wald",
        "--format",
        "csv",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    from io import StringIO

    got = pd.read_csv(StringIO(text.split("\n", 1)[1]))
    ref = pd.DataFrame(
        next(
            b
            for b in _model("sleepstudy")["confint"]
            if b["fit"] == "REML" and b["method"] == "Wald"
        )["rows"]
    )
    assert list(got.parameter) == list(ref.parameter)
    assert got.lower.iloc[-2:].to_numpy() == pytest.approx(
        ref.lower.iloc[-2:].to_numpy(float), rel=1e-6
    )


def test_fit_with_robust_standard_errors(capsys):
    assert main(["fit", "hsb", "mathach ~ cses + meanses + (1 | school)", "--vcov", "CR2"]) == 0
    assert "robust standard errors (CR2" in capsys.readouterr().out


def test_bad_contrasts_argument_is_one_line(capsys):
    assert main(["anova", CAKE, FORMULA, "--contrasts", "recipe:sum"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --contrasts expects FACTOR=CODING") and "\n" == err[-1]
