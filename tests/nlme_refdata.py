"""The nlme reference fits (tests/residual/nlme_reference) as cases for the residual tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import multilevel

HERE = Path(__file__).parent / "residual" / "nlme_reference"


def data(case: str) -> pd.DataFrame:
    d = pd.read_csv(HERE / f"{case}.csv")
    for c in json.loads((HERE / f"{case}.json").read_text())["factor_columns"]:
        d[c] = d[c].astype(str)
    return d


def spec(text: str | None):
    """nlme's call text -> our structure."""
    if text is None:
        return None
    inner = text[text.index("~") + 1 : text.rindex(")")].split("|")
    cov = inner[0].strip()
    if text.startswith("corAR1"):
        return multilevel.AR1(time=None if cov == "1" else cov)
    if text.startswith("corCAR1"):
        return multilevel.CAR1(time=cov)
    if text.startswith("varIdent"):
        return multilevel.VarIdent(by=inner[1].strip())
    raise AssertionError(text)


def formula(model: dict) -> str:
    random = model["random"].lstrip("~").strip()
    return f"{model['fixed']} + ({random})"


CASES = [
    (case, m["model_id"], method)
    for case in ("sleepstudy", "orthodont")
    for m in json.loads((HERE / f"{case}.json").read_text())["models"]
    if m["correlation"] or m["weights"]
    for method in ("reml", "ml")
]


def fit_case(case: str, model: dict, method: str) -> multilevel.LmmFit:
    return multilevel.fit(
        formula(model),
        data(case),
        reml=method == "reml",
        correlation=spec(model["correlation"]),
        variance=spec(model["weights"]),
        warn=False,
    )
