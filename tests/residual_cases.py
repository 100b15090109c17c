"""Cases for the residual-structure tests: the nlme reference fits (tests/residual/nlme_reference)
and a simulated longitudinal data set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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


def longitudinal(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(40):
        times = np.sort(rng.choice(12, size=rng.integers(3, 9), replace=False))
        b0, b1 = rng.normal(0, 1.0), rng.normal(0, 0.3)
        sex = "girl" if i % 3 else "boy"
        e = np.zeros(times.size)
        for k, t in enumerate(times):
            rho = 0.6 ** (t - times[k - 1]) if k else 0.0
            e[k] = rho * e[k - 1] + np.sqrt(1 - rho**2) * rng.normal()
        sd = 1.8 if sex == "boy" else 1.0
        for t, ek in zip(times, e, strict=True):
            rows.append((f"p{i:02d}", t, sex, 2 + 0.4 * t + b0 + b1 * t + sd * ek))
    d = pd.DataFrame(rows, columns=["person", "t", "sex", "y"])
    return d.sample(frac=1.0, random_state=1).reset_index(drop=True)  # rows in no order
