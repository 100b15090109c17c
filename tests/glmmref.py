"""The GLMM reference cases (tests/glmm/reference: copied from shared/reference/glmm, plus lme4
with an exact PIRLS made by make_tight_reference.R) and cached fits."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd

import multilevel

REFERENCE = Path(__file__).parent / "glmm" / "reference"
TEXT_COLUMNS = {
    "cbpp": {"herd": str},
    "grouseticks": {"BROOD": str, "LOCATION": str, "INDEX": str},
    "verbagg": {"id": str, "item": str},
}


@cache
def data(case: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"{case}.csv", dtype=TEXT_COLUMNS[case])


@cache
def reference(case: str) -> dict:
    return json.loads((REFERENCE / f"{case}.json").read_text())


@cache
def tight() -> dict:
    return {
        m["model_id"]: m for m in json.loads((REFERENCE / "lme4_tight.json").read_text())["models"]
    }


def family_of(case: str) -> str:
    return str(reference(case)["family"])


@cache
def fitted(case: str, formula: str, nagq: int) -> multilevel.GlmmFit:
    return multilevel.fit(formula, data(case), family=family_of(case), nagq=nagq, warn=False)


def ranef_reference(model_id: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"{model_id}__ranef_laplace.csv", dtype={"level": str})
