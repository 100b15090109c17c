"""Example data sets shipped with the package: the lme4 reference cases and a simulated
ECLS-K-like cross-section (the lecture's running example)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

from multilevel.datasets.eclsk import ECLSK_TRUTH, eclsk

__all__ = [
    "ECLSK_TRUTH",
    "eclsk",
    "exam",
    "hsb",
    "load",
    "names",
    "pastes",
    "penicillin",
    "sleepstudy",
]

_DESCRIPTIONS = {
    "hsb": "High School and Beyond: 7185 students in 160 schools (mathach, ses, cses, ...)",
    "sleepstudy": "Reaction times of 18 subjects over 10 days of sleep deprivation",
    "exam": "Exam scores of 4059 students in 65 London schools (normexam, standLRT)",
    "penicillin": "Penicillin potency: 6 samples x 24 plates (crossed)",
    "pastes": "Paste strength: 10 batches, 3 casks each, 2 assays (nested)",
    "eclsk": "Simulated ECLS-K-like third graders: 15,305 children in 1,000 schools "
    "(math, tvhours, "
    "pctfrl)",
}


def names() -> list[str]:
    """Names of the built-in data sets."""
    return sorted(_DESCRIPTIONS)


def describe(name: str) -> str:
    return _DESCRIPTIONS[name]


def load(name: str) -> pd.DataFrame:
    """Load a built-in data set by name."""
    if name not in _DESCRIPTIONS:
        raise KeyError(f"no data set {name!r}; available: {', '.join(names())}")
    if name == "eclsk":
        return eclsk()
    with resources.files(__package__).joinpath("data", f"{name}.csv").open("r") as fh:
        return pd.read_csv(fh)


def hsb() -> pd.DataFrame:
    """High School and Beyond (Raudenbush & Bryk): the HLM textbook's running example."""
    return load("hsb")


def sleepstudy() -> pd.DataFrame:
    return load("sleepstudy")


def exam() -> pd.DataFrame:
    return load("exam")


def penicillin() -> pd.DataFrame:
    return load("penicillin")


def pastes() -> pd.DataFrame:
    return load("pastes")
