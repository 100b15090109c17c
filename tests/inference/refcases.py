"""The R references of the inference kit (tests/inference/reference, copied from the shared
references; tools/make_inference_reference.R made them): data, model blocks and fits."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import multilevel

REF = Path(__file__).parent / "reference"
DTYPES = {
    "cake": {"replicate": str, "recipe": str, "temperature": str},
    "sleepstudy": {"Subject": str},
}


@lru_cache
def data(case: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"{case}.csv", dtype=DTYPES[case])


@lru_cache
def model(case: str) -> dict[str, Any]:
    return json.loads((REF / f"{case}.json").read_text())["models"][0]


@lru_cache
def fitted(case: str, reml: bool = True, coding: str = "treatment") -> Any:
    """The reference model fitted with every factor coded as ``coding`` (R names: treatment,
    sum, helmert, or poly = poly for temperature and treatment for recipe)."""
    m = model(case)
    contrasts = None
    if coding != "treatment":
        blocks = [c for c in m["contrasts"] if c["coding"] == coding]
        contrasts = {k: v.replace("contr.", "") for k, v in blocks[0]["contrasts"].items()}
    return multilevel.fit(m["formula"], data(case), reml=reml, contrasts=contrasts)


def close(got: Any, ref: Any, rtol: float = 0.0, atol: float = 0.0) -> bool:
    """|got - ref| <= atol + rtol |ref| everywhere (the references' own convention)."""
    g = np.asarray(got, float)
    r = np.asarray(ref, float)
    return bool(np.all(np.abs(g - r) <= atol + rtol * np.abs(r)))
