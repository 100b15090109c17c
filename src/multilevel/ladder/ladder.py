"""The lecture's ladder of models, fitted in one call and compared by likelihood-ratio tests.

    null                    y ~ 1 + (1 | g)                          random-effects ANOVA
    random_intercept        y ~ level1 + (1 | g)
    intercepts_as_outcomes  y ~ level1 + level2 + (1 | g)
    slopes_as_outcomes      y ~ level1 * level2 + (1 + level1 | g)   random slopes, cross-level
                                                                     interactions

Steps without predictors to add are skipped (no level-2 predictors: no intercepts-as-outcomes; no
level-1 predictors: no random slopes). Each step records its ICC (null) or conditional ICC,
variance components, the proportion of variance explained at each level relative to the null
model, marginal and conditional R^2, AIC and BIC; consecutive steps are compared by LRTs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from multilevel.api import fit
from multilevel.design.frame import load_data, missing_column_error
from multilevel.errors import DataError, FitWarning
from multilevel.ladder.lrt import LrtResult, lrt
from multilevel.ladder.r2 import R2, r2, variance_explained
from multilevel.result.fit import LmmFit

STEPS = ("null", "random_intercept", "intercepts_as_outcomes", "slopes_as_outcomes")


class LadderWarning(UserWarning):
    """A questionable ladder input, e.g. a level-1 predictor that is constant within groups."""


@dataclass(frozen=True)
class LadderStep:
    """One rung: the fit and the summaries the lecture reads off it."""

    step: str
    fit: LmmFit
    icc: float | None  # tau00 / (tau00 + sigma^2) of the null model
    icc_conditional: float  # random-part variance / (random + residual) given the predictors
    r2: R2
    variance_explained: dict[str, float]  # level1, level2 vs the null model

    @property
    def tau00(self) -> float:
        return float(self.fit.random_effects[0].covariance[0, 0])

    @property
    def sigma2(self) -> float:
        return float(self.fit.sigma**2)

    def to_dict(self) -> dict[str, Any]:
        out = {"step": self.step, **self.fit.to_dict()}
        out.update(
            icc_null=_num(self.icc),
            icc_conditional=_num(self.icc_conditional),
            variance_explained={k: _num(v) for k, v in self.variance_explained.items()},
            r2_marginal=_num(self.r2.marginal),
            r2_conditional=_num(self.r2.conditional),
            r2_components=self.r2.to_dict(),
        )
        return out


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class Ladder:
    """The fitted ladder: steps in order and the LRTs between consecutive steps."""

    outcome: str
    group: str
    level1: tuple[str, ...]
    level2: tuple[str, ...]
    center: str | None
    steps: tuple[LadderStep, ...]
    tests: tuple[LrtResult, ...]

    def __getitem__(self, step: str) -> LadderStep:
        for s in self.steps:
            if s.step == step:
                return s
        raise KeyError(f"no step {step!r}; steps: {', '.join(s.step for s in self.steps)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "group": self.group,
            "level1": list(self.level1),
            "level2": list(self.level2),
            "center": self.center,
            "models": [s.to_dict() for s in self.steps],
            "tests": [t.to_dict() for t in self.tests],
        }

    # ------------------------------------------------------------ rendering
    def _rows(self) -> tuple[list[str], list[list[str]], list[str], list[list[str]]]:
        head = [
            "step",
            "npar",
            "logLik",
            "AIC",
            "BIC",
            "sigma^2",
            "tau00",
            "ICC",
            "PVE L1",
            "PVE L2",
            "R2 marg",
            "R2 cond",
        ]
        rows = []
        for s in self.steps:
            f = s.fit
            rows.append(
                [
                    s.step,
                    str(f.n_params),
                    f"{f.loglik:.2f}",
                    f"{f.aic:.2f}",
                    f"{f.bic:.2f}",
                    f"{s.sigma2:.4g}",
                    f"{s.tau00:.4g}",
                    f"{s.icc if s.icc is not None else s.icc_conditional:.4f}"
                    + ("" if s.icc is not None else " (cond)"),
                    _pct(s.variance_explained["level1"]),
                    _pct(s.variance_explained["level2"]),
                    f"{s.r2.marginal:.4f}",
                    f"{s.r2.conditional:.4f}",
                ]
            )
        thead = ["reduced", "full", "df", "chisq", "p", "p (boundary mixture)", "fits"]
        trows = [
            [
                t.model_reduced,
                t.model_full,
                str(t.df),
                f"{t.chisq:.3f}",
                _p(t.p_value),
                "-" if t.p_value_mixture is None else _p(t.p_value_mixture),
                t.fits_used + (" refit" if t.refitted else ""),
            ]
            for t in self.tests
        ]
        return head, rows, thead, trows

    def to_text(self) -> str:
        head, rows, thead, trows = self._rows()
        method = self.steps[0].fit.method
        lines = [
            f"Model ladder for {self.outcome} in {self.group} ({method} fits"
            + (f", {self.center}-mean centred level-1 predictors" if self.center else "")
            + ")",
            "",
            _table(head, rows),
            "",
            "Likelihood-ratio tests between consecutive models:",
            "",
            _table(thead, trows),
        ]
        for s in self.steps:
            lines.append(f"  {s.step}: {s.fit.formula}")
        notes = [f"  {t.model_reduced} -> {t.model_full}: {t.note}" for t in self.tests if t.note]
        if notes:
            lines += ["", "Notes:", *notes]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        head, rows, thead, trows = self._rows()
        out = [
            f"**Model ladder** for `{self.outcome}` in `{self.group}`",
            "",
            _md(head, rows),
            "",
            "**Likelihood-ratio tests**",
            "",
            _md(thead, trows),
            "",
        ]
        out += [f"- `{s.step}`: `{s.fit.formula}`" for s in self.steps]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{100 * x:.1f}%"


def _p(p: float) -> str:
    return f"{p:.3g}" if p >= 1e-4 else f"{p:.2e}"


def _table(head: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*head), *(fmt.format(*r) for r in rows)])


def _md(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------ checks and formulas
def check_levels(
    data: pd.DataFrame, group: str, level1: list[str], level2: list[str], outcome: str | None = None
) -> None:
    """Every named column exists; level-2 predictors are constant within groups; warn on
    level-1 predictors that are."""
    named = [(outcome, "the outcome")] if outcome is not None else []
    named += [(group, "the grouping factor")]
    named += [(c, "a level-1 predictor") for c in level1] + [
        (c, "a level-2 predictor") for c in level2
    ]
    for col, role in named:
        if col not in data.columns:
            raise missing_column_error(col, [str(c) for c in data.columns], role)
    grouped = data.groupby(group, sort=True, dropna=True)
    for col in level2:
        spread = _spread(grouped, data[col])
        if (spread > 0).any():
            g = spread.index[int(np.argmax(spread.to_numpy()))]
            g = g.item() if hasattr(g, "item") else g
            values = data.loc[data[group] == g, col].drop_duplicates().head(3).tolist()
            raise DataError(
                f"level-2 predictor {col!r} varies within {group} {g!r} (values {values}); a "
                f"level-2 predictor must be constant within each {group}. Use it at level 1, "
                "or use its group mean (center='group')"
            )
    for col in level1:
        if not (_spread(grouped, data[col]) > 0).any():
            warnings.warn(
                f"level-1 predictor {col!r} never varies within {group}: it is a level-2 "
                "variable, and its random slope cannot be estimated",
                LadderWarning,
                stacklevel=3,
            )


def _spread(grouped, column: pd.Series) -> pd.Series:
    """Per group: range of a numeric column beyond rounding (1e-10 of its scale), else the
    number of distinct values minus one."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        scale = float(np.nanmax(np.abs(column.to_numpy(dtype=float)), initial=0.0))
        spread = (grouped[column.name].max() - grouped[column.name].min()).astype(float)
        return spread.where(spread > 1e-10 * max(scale, 1.0), 0.0).fillna(0.0)
    return (grouped[column.name].nunique(dropna=False) - 1).astype(float)


def _sum(terms: list[str]) -> str:
    return terms[0] if len(terms) == 1 else "(" + " + ".join(terms) + ")"


def ladder_formulas(outcome: str, group: str, level1: list[str], level2: list[str]) -> dict:
    """step -> lme4 formula, in ladder order, skipping steps that add nothing."""
    l1, l2 = " + ".join(level1), " + ".join(level2)
    out = {"null": f"{outcome} ~ 1 + (1 | {group})"}
    if level1:
        out["random_intercept"] = f"{outcome} ~ {l1} + (1 | {group})"
    if level2:
        fixed = " + ".join(x for x in (l1, l2) if x)
        out["intercepts_as_outcomes"] = f"{outcome} ~ {fixed} + (1 | {group})"
    if level1:
        fixed = f"{_sum(level1)} * {_sum(level2)}" if level2 else l1
        out["slopes_as_outcomes"] = f"{outcome} ~ {fixed} + (1 + {l1} | {group})"
    return out


def _center(data: pd.DataFrame, level1: list[str], level2: list[str], group: str, how: str):
    try:
        from multilevel.levels.centering import center
    except ImportError as exc:  # pragma: no cover - until multilevel.levels exists
        raise DataError(f"centering is not available ({exc})") from None
    if how not in ("group", "grand"):
        raise DataError(f"center must be None, 'group' or 'grand', not {how!r}")
    centred = center(data, list(level1), group, how)
    if how == "group":
        level2 = [f"{c}_mean" for c in level1 if f"{c}_mean" not in level2] + level2
    return centred, level2


# ------------------------------------------------------------ the ladder
def ladder(
    data: Any,
    outcome: str,
    group: str,
    level1: list[str] | tuple[str, ...] = (),
    level2: list[str] | tuple[str, ...] = (),
    center: str | None = None,
    reml: bool = True,
    refit: bool = True,
    correlation: Any = None,
    variance: Any = None,
) -> Ladder:
    """Fit null, random-intercept, intercepts-as-outcomes and slopes-as-outcomes models.

    ``center='group'`` group-mean centres the level-1 predictors and adds their group means
    (``<x>_mean``) as level-2 predictors (contextual effects); ``'grand'`` grand-mean centres
    them. LRTs use ML fits (REML fits are refitted), as lme4's ``anova``. ``correlation`` and
    ``variance`` give every step the same residual structure (:mod:`multilevel.residual`).
    """
    df = load_data(data)
    level1, level2 = list(level1), list(level2)
    check_levels(df, group, level1, level2, outcome)
    if center is not None:
        df, level2 = _center(df, level1, level2, group, center)
    used = [outcome, group, *level1, *level2]
    missing = df[used].isna().any(axis=1)
    if missing.any():  # one set of rows for every step, so the LRTs compare like with like
        warnings.warn(
            f"{int(missing.sum())} of {len(df)} rows dropped for missing values in "
            + ", ".join(c for c in used if df[c].isna().any()),
            LadderWarning,
            stacklevel=2,
        )
        df = df.loc[~missing]
    formulas = ladder_formulas(outcome, group, list(level1), list(level2))
    fits: dict[str, LmmFit] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        for step, formula in formulas.items():
            fits[step] = fit(formula, df, reml=reml, correlation=correlation, variance=variance)
    null = fits["null"]
    steps = []
    for step, f in fits.items():
        decomposition = r2(f)
        steps.append(
            LadderStep(
                step=step,
                fit=f,
                icc=(null.icc or {}).get(null.random_effects[0].group) if step == "null" else None,
                icc_conditional=decomposition.icc_adjusted,
                r2=decomposition,
                variance_explained=variance_explained(f, null, group),
            )
        )
    names = list(fits)
    tests = tuple(
        lrt(fits[a], fits[b], names=(a, b), refit=refit)
        for a, b in zip(names[:-1], names[1:], strict=True)
    )
    return Ladder(outcome, group, tuple(level1), tuple(level2), center, tuple(steps), tests)
