"""Shared test helpers: the lme4 reference cases (copied from shared/reference) and cached fits."""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import pandas as pd

import multilevel

REFERENCE = Path(__file__).parent / "reference"
CASES = ["hsb", "sleepstudy", "exam", "penicillin", "pastes"]


@cache
def reference(case: str) -> dict:
    return json.loads((REFERENCE / f"{case}.json").read_text())


def reference_models() -> list[tuple[str, dict]]:
    return [(case, m) for case in CASES for m in reference(case)["models"]]


@cache
def fitted(case: str, formula: str, reml: bool) -> multilevel.LmmFit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", multilevel.FitWarning)
        return multilevel.fit(formula, multilevel.datasets.load(case), reml=reml)


def ranef_reference(model: dict) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / model["ranef_file"], dtype={"level": str})


def close(got: float, ref: float, rtol: float = 0.0, atol: float = 0.0) -> bool:
    return abs(got - ref) <= atol + rtol * abs(ref)
