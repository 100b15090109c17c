"""Likelihood-ratio tests between nested mixed models, as lme4's ``anova()`` but with checks.

Two fits are compared only if they are nested: same outcome and rows, fewer parameters in the
reduced model, its fixed-effect columns inside the full model's column space, and each of its
random-effect blocks inside one block of the full model on the same grouping factor. REML fits
are refitted by ML when the fixed effects differ (REML likelihoods of different fixed parts are
not comparable); by default they are refitted in any case, as lme4's ``refit = TRUE``.

When the full model adds one variance component, the null value sits on the boundary of the
parameter space and the LRT statistic is asymptotically a 50:50 mixture of chi^2(df - 1) and
chi^2(df) (Self & Liang 1987, Stram & Lee 1994): one variance alone gives chi^2_0 / chi^2_1, a
random slope with its q covariances gives chi^2_q / chi^2_(q+1). That chi-bar-square p-value is
reported in ``p_value_mixture`` beside the naive chi^2(df) p-value.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.errors import FitWarning, ModelComparisonError
from multilevel.fitting import fit_design
from multilevel.result.fit import LmmFit

ML_USED = "ML (REML=FALSE)"
REML_USED = "REML (REML=TRUE)"


@dataclass(frozen=True)
class LrtResult:
    """One likelihood-ratio test; field names as ``ladder_tests`` in the reference files."""

    model_reduced: str
    model_full: str
    npar_reduced: int
    npar_full: int
    loglik_reduced: float
    loglik_full: float
    deviance_reduced: float
    deviance_full: float
    chisq: float
    df: int
    p_value: float
    fits_used: str
    note: str | None
    p_value_mixture: float | None = None
    mixture_df: tuple[int, int] | None = None  # (df - 1, df): the two 50:50 components
    refitted: bool = False

    def __str__(self) -> str:
        mix = (
            ""
            if self.p_value_mixture is None
            else (f", boundary mixture p = {self.p_value_mixture:.4g}")
        )
        return (
            f"LRT {self.model_reduced} vs {self.model_full} ({self.fits_used}): "
            f"chisq = {self.chisq:.4f}, df = {self.df}, p = {self.p_value:.4g}{mix}"
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["mixture_df"] = None if self.mixture_df is None else list(self.mixture_df)
        for k in (
            "loglik_reduced",
            "loglik_full",
            "deviance_reduced",
            "deviance_full",
            "chisq",
            "p_value",
            "p_value_mixture",
        ):
            v = out[k]
            out[k] = None if v is None or not np.isfinite(v) else float(v)
        return out


def chibar_p(chisq: float, df: int) -> float:
    """p-value of a 50:50 mixture of chi^2(df - 1) and chi^2(df) (chi^2_0 = point mass at 0)."""
    chisq = max(float(chisq), 0.0)
    lower = 0.0 if df - 1 == 0 else stats.chi2.sf(chisq, df - 1)
    if df - 1 == 0 and chisq <= 0.0:
        lower = 1.0
    return float(0.5 * lower + 0.5 * stats.chi2.sf(chisq, df))


# ---------------------------------------------------------------- nesting checks
def _partition_key(codes: np.ndarray) -> bytes:
    """The partition of the rows that a grouping factor makes, independent of how its levels
    are named or ordered: level labels renumbered by first appearance."""
    return pd.factorize(codes)[0].astype(np.int64).tobytes()


def _blocks(fit: LmmFit) -> list[tuple[bytes, str, tuple[str, ...]]]:
    """(partition key, name, terms) of each random block. Grouping factors are compared by the
    partition of the rows they make, so ``batch:cask`` (written) and ``cask:batch`` (from
    ``batch/cask``) are the same factor, as they are for lme4."""
    return [
        (_partition_key(t.codes), vc.grouping_factor, tuple(vc.terms))
        for t, vc in zip(fit.design.terms, fit.random_effects, strict=True)
    ]


def _random_df(reduced: LmmFit, full: LmmFit, names: tuple[str, str]) -> tuple[int, int]:
    """Check the random parts are nested; return (new variances, new covariances) in ``full``."""
    full_blocks = _blocks(full)
    correlated: set[tuple[bytes, frozenset[str]]] = set()
    variances: set[tuple[bytes, str]] = set()
    for key, g, terms in _blocks(reduced):
        home = [
            i for i, (fk, _, ft) in enumerate(full_blocks) if fk == key and set(terms) <= set(ft)
        ]
        if not home:
            raise ModelComparisonError(
                f"models are not nested: the random block ({' + '.join(terms)} | {g}) of "
                f"{names[0]!r} is not contained in one random block of {names[1]!r} "
                f"({_describe_random(full)}); the full model must be able to reproduce every "
                "variance and covariance of the reduced one"
            )
        variances.update((key, t) for t in terms)
        for i, a in enumerate(terms):
            for b in terms[i + 1 :]:
                correlated.add((key, frozenset((a, b))))
    new_var = new_cov = 0
    for key, _, terms in full_blocks:
        new_var += sum((key, t) not in variances for t in terms)
        for i, a in enumerate(terms):
            for b in terms[i + 1 :]:
                new_cov += (key, frozenset((a, b))) not in correlated
    return new_var, new_cov


def _describe_random(fit: LmmFit) -> str:
    return " + ".join(f"({' + '.join(t)} | {g})" for _, g, t in _blocks(fit))


def _same_rows(reduced: LmmFit, full: LmmFit, names: tuple[str, str]) -> None:
    if reduced.response != full.response:
        raise ModelComparisonError(
            f"models have different outcomes ({reduced.response!r} in {names[0]!r}, "
            f"{full.response!r} in {names[1]!r}); likelihoods of different outcomes cannot be "
            "compared"
        )
    r0, r1 = reduced.design.frame.row_index, full.design.frame.row_index
    if reduced.n_obs != full.n_obs or not r0.equals(r1):
        raise ModelComparisonError(
            f"models were fitted to different rows ({reduced.n_obs} in {names[0]!r}, "
            f"{full.n_obs} in {names[1]!r}), e.g. because a variable with missing values is "
            "only in one of them; drop those rows from the data before fitting both models"
        )
    if not np.array_equal(reduced.y, full.y):
        raise ModelComparisonError(
            f"models {names[0]!r} and {names[1]!r} were fitted to different outcome values "
            "(different data sets?)"
        )


def _fixed_nested(reduced: LmmFit, full: LmmFit, names: tuple[str, str]) -> None:
    X0, X1 = reduced.design.X, full.design.X
    if X0.shape[1] == 0:
        return
    coef, *_ = np.linalg.lstsq(X1, X0, rcond=None)
    resid = np.linalg.norm(X0 - X1 @ coef, axis=0)
    scale = np.maximum(np.linalg.norm(X0, axis=0), 1e-300)
    outside = [n for n, r, s in zip(reduced.fixed_names, resid, scale, strict=True) if r > 1e-8 * s]
    if outside:
        missing = [n for n in reduced.fixed_names if n not in full.fixed_names]
        raise ModelComparisonError(
            f"models are not nested: the fixed effect(s) {', '.join(outside)} of {names[0]!r} "
            f"are not in the column space of the fixed effects of {names[1]!r}"
            + (f" (not in {names[1]!r}: {', '.join(missing)})" if missing else "")
        )


_ML_REFITS: weakref.WeakKeyDictionary[LmmFit, LmmFit] = weakref.WeakKeyDictionary()


def ml_fit(fit: LmmFit) -> LmmFit:
    """The ML fit of the same design (the fit itself if already ML); refits are cached."""
    if not fit.reml:
        return fit
    if fit not in _ML_REFITS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            if fit.residual_structure is not None:  # hook: multilevel.residual
                from multilevel.residual.fit import refit

                _ML_REFITS[fit] = refit(fit, reml=False)
            else:
                _ML_REFITS[fit] = fit_design(fit.design, reml=False)
    return _ML_REFITS[fit]


# ---------------------------------------------------------------- the test
def lrt(
    reduced: LmmFit,
    full: LmmFit,
    *,
    names: tuple[str, str] | None = None,
    refit: bool = True,
) -> LrtResult:
    """Likelihood-ratio test of ``reduced`` against ``full`` (order is fixed by parameter count).

    ``refit=True`` (lme4's default) compares ML fits, refitting REML fits by ML. ``refit=False``
    compares REML fits directly, which is valid only when the fixed effects are identical;
    otherwise they are refitted by ML anyway and the note says so.
    """
    names = names or (reduced.formula, full.formula)
    if reduced.n_params > full.n_params:
        reduced, full = full, reduced
        names = (names[1], names[0])
    _same_rows(reduced, full, names)
    if reduced.n_params == full.n_params:
        raise ModelComparisonError(
            f"models {names[0]!r} and {names[1]!r} have the same number of parameters "
            f"({full.n_params}); a likelihood-ratio test needs one nested in the other with "
            "fewer parameters"
        )
    _fixed_nested(reduced, full, names)
    new_var, new_cov = _random_df(reduced, full, names)
    # hook: multilevel.residual (correlation structures and variance functions)
    from multilevel.residual import compare as residual

    edge, residual_notes = residual.residual_nesting(reduced, full, names)
    only_residual = residual.differ(reduced, full) and _blocks(reduced) == _blocks(full)

    same_fixed = reduced.design.p == full.design.p
    notes: list[str] = []
    any_reml = reduced.reml or full.reml
    use_reml = (not refit or only_residual) and same_fixed and reduced.reml and full.reml
    if use_reml:
        m0, m1, used, refitted = reduced, full, REML_USED, False
        notes.append(
            "REML fits compared (only the residual structure differs, as nlme's anova)"
            if only_residual
            else "REML fits compared (the fixed effects are identical)"
        )
    else:
        m0, m1, used = ml_fit(reduced), ml_fit(full), ML_USED
        refitted = any_reml
        if any_reml:
            why = (
                "the fixed effects differ"
                if not same_fixed
                else "lme4's default refit=TRUE"
                if refit
                else "one of the fits is ML"
            )
            notes.append(f"REML fit(s) refitted by ML ({why})")

    df = full.n_params - reduced.n_params
    chisq = max(0.0, 2.0 * (m1.loglik - m0.loglik))
    p = float(stats.chi2.sf(chisq, df))
    p_mix = mix_df = None
    notes.extend(residual_notes)
    if edge and new_var == 0 and df == 1:
        p_mix, mix_df = chibar_p(chisq, df), (0, 1)
    elif new_var == 1:
        p_mix = chibar_p(chisq, df)
        mix_df = (df - 1, df)
        notes.append(
            f"one variance tested on the boundary: p_value_mixture from 0.5 chi2({df - 1}) + "
            f"0.5 chi2({df}) (Self & Liang 1987, Stram & Lee 1994); the naive chi2({df}) p is "
            "conservative"
        )
    elif new_var > 1:
        notes.append(
            f"{new_var} variances tested on the boundary: the chi-bar-square weights depend on "
            "the information matrix, no mixture p-value; the naive p-value is conservative"
        )
    return LrtResult(
        model_reduced=names[0],
        model_full=names[1],
        npar_reduced=reduced.n_params,
        npar_full=full.n_params,
        loglik_reduced=float(m0.loglik),
        loglik_full=float(m1.loglik),
        deviance_reduced=float(-2.0 * m0.loglik),
        deviance_full=float(-2.0 * m1.loglik),
        chisq=float(chisq),
        df=int(df),
        p_value=p,
        fits_used=used,
        note="; ".join(notes) or None,
        p_value_mixture=p_mix,
        mixture_df=mix_df,
        refitted=refitted,
    )


def lrt_sequence(
    *fits: LmmFit, names: list[str] | None = None, refit: bool = True
) -> tuple[LrtResult, ...]:
    """Tests between consecutive fits after ordering by parameter count (lme4's ``anova(m1, m2,
    ...)``); ``names`` label the fits in the order given."""
    if len(fits) < 2:
        raise ModelComparisonError("a likelihood-ratio test needs at least two models")
    labels = list(names) if names is not None else [f.formula for f in fits]
    if len(labels) != len(fits):
        raise ModelComparisonError(f"{len(labels)} names for {len(fits)} models")
    order = sorted(range(len(fits)), key=lambda i: fits[i].n_params)
    return tuple(
        lrt(fits[a], fits[b], names=(labels[a], labels[b]), refit=refit)
        for a, b in zip(order[:-1], order[1:], strict=True)
    )
