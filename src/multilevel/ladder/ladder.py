"""The lecture's ladder of models, fitted in one call and compared by likelihood-ratio tests.

    null                    y ~ 1 + (1 | g)                              random-effects ANOVA
    random_intercept        y ~ level1 + (1 | g)
    intercepts_as_outcomes  y ~ level1 + level2 + (1 | g)
    random_slopes           y ~ level1 + level2 + (1 + level1 | g)       slope variance alone
    slopes_as_outcomes      y ~ level1 * level2 + (1 + level1 | g)       cross-level interactions

Steps without anything to add are skipped (no level-2 predictors: no intercepts- or
slopes-as-outcomes; no level-1 predictor that varies within groups: no random slopes). Because
the random slope has its own step, "is the random slope needed?" (a variance, tested on the
boundary) and "do level-2 predictors explain the slopes?" (fixed effects) are separate tests.
Each step records its ICC (null) or conditional ICC, variance components, the proportion of
variance explained at each level relative to the null model, marginal and conditional R^2.
Rows with a missing value in any ladder variable are dropped once, before every fit, and counted.

With ``family="binomial" | "poisson"`` every rung is a GLMM fitted by maximum likelihood (Laplace,
or adaptive Gauss-Hermite with ``nagq`` points where the random part is one intercept; GLMMs have
no REML). The null model's ICC is on the latent scale (tau00 / (tau00 + pi^2/3) for logit), R^2
uses the same level-1 variance (``performance::r2_nakagawa``), and the pieces without a GLMM
meaning (sigma^2, variance explained at level 1) are left empty with a note.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from multilevel.api import fit
from multilevel.design.frame import load_data, missing_column_error
from multilevel.errors import DataError, FitWarning
from multilevel.ladder.lrt import LrtResult, lrt, ml_fit
from multilevel.ladder.r2 import R2, r2, variance_explained
from multilevel.result.fit import LmmFit

STEPS = (
    "null",
    "random_intercept",
    "intercepts_as_outcomes",
    "random_slopes",
    "slopes_as_outcomes",
)

#: suffixes of centred columns: within cluster (group-mean) and grand-mean centring
CENTRED_SUFFIX = {"group": "_cwc", "grand": "_cgm"}


class LadderWarning(UserWarning):
    """A questionable ladder input, e.g. a level-1 predictor that is constant within groups."""


@dataclass(frozen=True)
class LadderStep:
    """One rung: the fit and the summaries the lecture reads off it."""

    step: str
    fit: LmmFit  # the one result class, also of a GLMM (family=...)
    icc: float | None  # tau00 / (tau00 + sigma^2) of the null model (GLMM: latent scale)
    icc_conditional: float  # random-part variance / (random + residual) given the predictors
    r2: R2
    variance_explained: dict[str, float]  # level1, level2 vs the null model
    n_dropped: int = 0  # rows the ladder dropped before fitting (missing values)

    @property
    def tau00(self) -> float:
        return float(self.fit.random_effects[0].covariance[0, 0])

    @property
    def sigma2(self) -> float:
        """The residual variance; NaN for a GLMM (its family fixes the level-1 variance)."""
        return float("nan") if self.fit.is_glmm else float(self.fit.sigma**2)

    def equations(self) -> Any:
        """The fit as level-1 / level-2 and reduced-form equations (with the link of a GLMM)."""
        from multilevel.levels.render import level_equations

        return level_equations(self.fit)

    @property
    def ml(self) -> LmmFit:
        """The ML fit of this step (the fit itself if fitted by ML): what the LRTs compare."""
        return ml_fit(self.fit)

    def to_dict(self) -> dict[str, Any]:
        out = {"step": self.step, **self.fit.to_dict()}
        out["n_dropped"] = int(self.fit.n_dropped + self.n_dropped)
        ml = self.ml
        out.update(
            icc_null=_num(self.icc),
            icc_conditional=_num(self.icc_conditional),
            variance_explained={k: _num(v) for k, v in self.variance_explained.items()},
            r2_marginal=_num(self.r2.marginal),
            r2_conditional=_num(self.r2.conditional),
            r2_components=self.r2.to_dict(),
            ml={"loglik": float(ml.loglik), "aic": float(ml.aic), "bic": float(ml.bic)},
        )
        if self.fit.is_glmm:
            out["sigma2"] = None
            out["level1_variance"] = float(self.r2.var_residual)
        try:
            eq = self.equations()
            out["equations"] = {
                "levels": eq.level_text(),
                "reduced_form": eq.reduced_text(),
                "reduced_form_estimates": eq.reduced_text(with_estimates=True),
            }
        except Exception:  # noqa: BLE001 - crossed or unusual designs have no level equations
            out["equations"] = None
        return out


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class Ladder:
    """The fitted ladder: steps in order, the LRTs between consecutive steps, the rows dropped
    for missing values (``n_dropped``, by column in ``dropped_by``) and ``notes`` on what the
    ladder did with its input (skipped slopes, centring)."""

    outcome: str
    group: str
    level1: tuple[str, ...]
    level2: tuple[str, ...]
    center: str | None
    steps: tuple[LadderStep, ...]
    tests: tuple[LrtResult, ...]
    n_dropped: int = 0
    dropped_by: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    family: str | None = None  # "binomial(logit)", "poisson(log)"; None: linear mixed models
    nagq: int = 1

    def __getitem__(self, step: str) -> LadderStep:
        for s in self.steps:
            if s.step == step:
                return s
        raise KeyError(f"no step {step!r}; steps: {', '.join(s.step for s in self.steps)}")

    @property
    def n_obs(self) -> int:
        return self.steps[0].fit.n_obs

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "group": self.group,
            "level1": list(self.level1),
            "level2": list(self.level2),
            "center": self.center,
            "n_obs": self.n_obs,
            "n_dropped": self.n_dropped,
            "dropped_by": dict(self.dropped_by),
            "notes": list(self.notes),
            "family": self.family,
            "nagq": self.nagq if self.family else None,
            "models": [s.to_dict() for s in self.steps],
            "tests": [t.to_dict() for t in self.tests],
        }

    def tables(self) -> list:
        """The ladder's tables (:class:`multilevel.report.ApaTable`): data, model comparison,
        variance explained, estimates; the same in text, Markdown, LaTeX, HTML and CSV."""
        from multilevel.report.tables import ladder_tables

        return ladder_tables(self)

    def to_text(self) -> str:
        from multilevel.ladder.render import ladder_text

        return ladder_text(self)

    def to_markdown(self) -> str:
        from multilevel.ladder.render import ladder_markdown

        return ladder_markdown(self)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


# ------------------------------------------------------------ checks and formulas
def quoted(name: str) -> str:
    """A column name as a formula term: backticks unless it is a plain identifier."""
    name = unquoted(name)
    return name if name.isidentifier() else f"`{name}`"


def unquoted(name: str) -> str:
    """A column name given with or without backticks (as in a formula)."""
    name = name.strip()
    if len(name) > 1 and name.startswith("`") and name.endswith("`"):
        return name[1:-1]
    return name


def check_levels(
    data: pd.DataFrame, group: str, level1: list[str], level2: list[str], outcome: str | None = None
) -> list[str]:
    """Every named column exists; level-2 predictors are constant within groups. Returns the
    level-1 predictors that never vary within groups (level-2 variables: no random slope)."""
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
    return [c for c in level1 if not (_spread(grouped, data[c]) > 0).any()]


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


def ladder_formulas(
    outcome: str,
    group: str,
    level1: list[str],
    level2: list[str],
    slopes: list[str] | None = None,
    moderators: list[str] | None = None,
) -> dict[str, str]:
    """step -> lme4 formula, in ladder order, skipping steps that add nothing.

    ``slopes`` are the level-1 predictors given a random slope (default: all); ``moderators``
    the level-2 predictors in cross-level interactions with them (default: all).
    """
    y, g = quoted(outcome), quoted(group)
    l1 = [quoted(c) for c in level1]
    l2 = [quoted(c) for c in level2]
    sl = l1 if slopes is None else [quoted(c) for c in slopes]
    mo = l2 if moderators is None else [quoted(c) for c in moderators]
    main = " + ".join(l1 + l2)
    out = {"null": f"{y} ~ 1 + (1 | {g})"}
    if l1:
        out["random_intercept"] = f"{y} ~ {' + '.join(l1)} + (1 | {g})"
    if l2:
        out["intercepts_as_outcomes"] = f"{y} ~ {main} + (1 | {g})"
    if sl:
        bar = f"(1 + {' + '.join(sl)} | {g})"
        out["random_slopes"] = f"{y} ~ {main} + {bar}"
        if mo:
            if sl == l1 and mo == l2:  # the lecture's form: (x1 + x2) * (w1 + w2)
                fixed = f"{_sum(l1)} * {_sum(l2)}"
            else:
                fixed = main + " + " + " + ".join(f"{x}:{w}" for x in sl for w in mo)
            out["slopes_as_outcomes"] = f"{y} ~ {fixed} + {bar}"
    return out


def _center(data: pd.DataFrame, level1: list[str], group: str, how: str):
    """Centred copies of the level-1 predictors (``x_cwc`` / ``x_cgm``) and, for group-mean
    centring, their group means ``x_mean``."""
    from multilevel.levels.centering import center

    if how not in CENTRED_SUFFIX:
        raise DataError(f"center must be None, 'group' or 'grand', not {how!r}")
    centred = center(data, list(level1), group, how, centred_suffix=CENTRED_SUFFIX[how])
    names = [f"{c}{CENTRED_SUFFIX[how]}" for c in level1]
    means = [f"{c}_mean" for c in level1] if how == "group" else []
    return centred, names, means


def _drop_missing(df: pd.DataFrame, used: list[str]) -> tuple[pd.DataFrame, int, dict[str, int]]:
    """The complete rows, the number dropped and the missing count per column."""
    na = df[used].isna()
    missing = na.any(axis=1)
    by = {c: int(na[c].sum()) for c in used if na[c].any()}
    n = int(missing.sum())
    if n:
        warnings.warn(
            f"{n} of {len(df)} rows dropped for missing values in "
            + ", ".join(f"{c} ({k})" for c, k in by.items())
            + "; every model of the ladder uses the same remaining rows",
            LadderWarning,
            stacklevel=3,
        )
    return (df.loc[~missing] if n else df), n, by


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
    family: Any = None,
    nagq: int = 1,
) -> Ladder:
    """Fit null, random-intercept, intercepts-as-outcomes, random-slopes and slopes-as-outcomes
    models and test each against the one before.

    ``center='group'`` fits the level-1 predictors centred within groups (``x_cwc``) and adds
    their group means (``x_mean``) as level-2 predictors of the intercept (contextual effects;
    they enter cross-level interactions only if also named in ``level2``); ``'grand'`` fits
    grand-mean centred ``x_cgm``. A level-1 predictor that never varies within groups gets no
    random slope (it cannot be estimated), and the notes say so. LRTs use ML fits (REML fits
    are refitted), as lme4's ``anova``; ``refit=False`` compares REML fits where the fixed parts
    are identical (the random-slope step). ``correlation`` and ``variance`` give every step the
    same residual structure (:mod:`multilevel.residual`).

    ``family="binomial" | "poisson"`` (or ``multilevel.Binomial(link="probit")``) fits every step
    as a GLMM by maximum likelihood, ``nagq`` quadrature points where the random part is one
    intercept (the random-slope steps use Laplace, as lme4 allows nothing else); ``reml`` does
    not apply.
    """
    df = load_data(data)
    glmm = family is not None and str(getattr(family, "name", family)).lower() != "gaussian"
    if glmm and (correlation is not None or variance is not None):
        raise DataError(
            "correlation= and variance= (residual structures) are for linear mixed models; a "
            "GLMM has no residual variance to structure"
        )
    outcome, group = unquoted(outcome), unquoted(group)
    l1: list[str] = [unquoted(c) for c in level1]
    l2: list[str] = [unquoted(c) for c in level2]
    notes: list[str] = []
    means: list[str] = []
    if center is not None:
        made = {f"{c}_mean" for c in l1} if center == "group" else set()
        check_levels(df, group, l1, [c for c in l2 if c not in made], outcome)
        df, centred, means = _center(df, l1, group, center)
        how = "within each " + group if center == "group" else "at the grand mean"
        notes.append(
            "level-1 predictors centred "
            + how
            + ": "
            + ", ".join(f"{c} -> {n}" for c, n in zip(l1, centred, strict=True))
        )
        l1 = centred
    moderators = list(l2)
    l2 = moderators + [m for m in means if m not in moderators]
    if means:
        added = [m for m in means if m not in moderators]
        if added:
            notes.append(
                f"group means {', '.join(added)} added as level-2 predictors of the intercept "
                "(between-group, contextual effects); they are not in cross-level interactions "
                "unless given as level-2 predictors"
            )
    constant = check_levels(df, group, l1, l2, outcome)
    for c in constant:
        msg = (
            f"level-1 predictor {c!r} never varies within {group}: it is a level-2 variable, "
            "so its random slope cannot be estimated; it stays in the fixed part without a "
            "random slope"
        )
        warnings.warn(msg, LadderWarning, stacklevel=2)
        notes.append(msg)
    slopes = [c for c in l1 if c not in constant]
    if l1 and not slopes:
        notes.append("no level-1 predictor varies within groups: no random-slope steps")
    df, n_dropped, dropped_by = _drop_missing(df, [outcome, group, *l1, *l2])
    formulas = ladder_formulas(outcome, group, l1, l2, slopes, moderators)
    fits: dict[str, LmmFit] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        for step, formula in formulas.items():
            if glmm:
                n = 1 if step in _SLOPE_STEPS else nagq
                fits[step] = fit(formula, df, family=family, nagq=n, warn=False)
            else:
                fits[step] = fit(formula, df, reml=reml, correlation=correlation, variance=variance)
    null = fits["null"]
    family_text = None
    if glmm:
        fam = null.family
        family_text = f"{fam.name}({fam.link})"
        notes.extend(_glmm_notes(fam, nagq, list(formulas)))
    steps = []
    for step, f in fits.items():
        decomposition = r2(f, null)
        steps.append(
            LadderStep(
                step=step,
                fit=f,
                icc=(null.icc or {}).get(null.random_effects[0].group) if step == "null" else None,
                icc_conditional=decomposition.icc_adjusted,
                r2=decomposition,
                variance_explained=variance_explained(f, null, group),
                n_dropped=n_dropped,
            )
        )
    names = list(fits)
    tests = tuple(
        lrt(fits[a], fits[b], names=(a, b), refit=refit)
        for a, b in zip(names[:-1], names[1:], strict=True)
    )
    return Ladder(
        outcome,
        group,
        tuple(l1),
        tuple(l2),
        center,
        tuple(steps),
        tests,
        n_dropped,
        dropped_by,
        tuple(notes),
        family_text,
        int(nagq),
    )


#: steps with a random slope: Laplace only (adaptive quadrature needs one scalar random effect)
_SLOPE_STEPS = ("random_slopes", "slopes_as_outcomes")


def _glmm_notes(family: Any, nagq: int, steps: list[str]) -> list[str]:
    """What a GLMM ladder does differently from a linear one, in plain words."""
    how = "the Laplace approximation" if nagq == 1 else f"adaptive Gauss-Hermite ({nagq} points)"
    notes = [
        f"{family.name} GLMMs ({family.link} link) fitted by maximum likelihood with {how}; "
        "GLMMs have no REML, so every test compares ML fits"
    ]
    slopes = [s for s in steps if s in _SLOPE_STEPS]
    if nagq > 1 and slopes:
        notes.append(
            f"{', '.join(slopes)} fitted by Laplace: adaptive quadrature needs a single scalar "
            "random effect (lme4's rule), so the test into random_slopes compares a quadrature "
            "and a Laplace likelihood"
        )
    level1 = (
        "fixed at pi^2/3 = 3.29 on the latent logit scale"
        if family.name == "binomial" and family.link == "logit"
        else "fixed by the family"
        + (
            " (Poisson: log(1 + 1/exp(b0)) of the null model, as performance::icc)"
            if family.name == "poisson"
            else f" (latent {family.link} scale)"
        )
    )
    notes.append(
        f"no sigma^2: a GLMM estimates no level-1 variance (it is {level1}); ICC and R^2 use "
        "that variance, and the proportion of variance explained at level 1 is not defined"
    )
    notes.append(
        "GLMM coefficients and tau00 are on a scale set by the fixed level-1 variance, so they "
        "can grow as predictors are added; read PVE at level 2 with that in mind"
    )
    return notes


def p_text(p: float) -> str:
    """A p-value in a sentence: three significant digits, scientific below 1e-4."""
    return f"{p:.3g}" if p >= 1e-4 else f"{p:.2e}"
