"""``fit_large``: fit a one-grouping-factor model from data read in chunks, in one pass.

The sufficient statistics (per-group cross-products, see :mod:`multilevel.sources.stats`) are
accumulated chunk by chunk; then the same objective, optimizer, convergence check and
Satterthwaite df as :func:`multilevel.fit` run on them without touching the rows again, so the
estimates equal the in-memory ones to rounding. Memory is bounded by the chunk size plus the
statistics (O(G q p)), not by the number of rows.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from multilevel.design.frame import group_columns
from multilevel.errors import DataError
from multilevel.formula.parse import parse_formula
from multilevel.inference.satterthwaite import profiled_hessian, satterthwaite, varpar_info
from multilevel.objective import smallmat as sm
from multilevel.objective.crossprod import CrossProducts
from multilevel.objective.deviance import Evaluation, ProfiledDeviance
from multilevel.objective.modes import TermModes
from multilevel.optimize import optimize_theta, singular
from multilevel.optimize.optimizer import check_convergence
from multilevel.optimize.start import choose_start
from multilevel.optimize.threads import kernel_threads
from multilevel.result.fit import VarianceComponent
from multilevel.sources.chunks import Source, as_source, iter_chunks, prefetch
from multilevel.sources.encoding import Encoding, check_supported, learn_encoding
from multilevel.sources.progress import Progress
from multilevel.sources.result import LargeFit
from multilevel.sources.stats import (
    PartialStats,
    cross_products_of,
    empty_stats,
    merge,
    partial_stats,
)


def fit_large(
    formula: str,
    source: Any,
    reml: bool = True,
    chunk_rows: int = 1_000_000,
    group_levels: Any = None,
    progress: bool | None = None,
    categories: dict[str, Any] | None = None,
    warn: bool = True,
) -> LargeFit:
    """Fit ``formula`` (one grouping factor) to a DataFrame, Arrow/polars table, Parquet file or
    folder, or CSV file, reading at most ``chunk_rows`` rows at a time.

    ``group_levels`` declares the groups (and their order); ``categories`` declares the levels of
    categorical predictors ({column: levels}), which otherwise a first pass over those columns
    finds. ``progress``: a progress line on stderr (None: only when stderr is a terminal).
    """
    t0 = time.perf_counter()
    spec = parse_formula(formula)
    check_supported(spec)
    src = as_source(source, ids=group_columns(spec))  # group ids read as text from files
    enc = learn_encoding(spec, src, chunk_rows, group_levels, categories)
    stats = accumulate(src, enc, chunk_rows, progress)
    t1 = time.perf_counter()
    fit = fit_statistics(stats, enc, reml=reml, warn=warn)
    fit.timings.update(statistics=t1 - t0, optimize=time.perf_counter() - t1)
    return fit


def accumulate(
    source: Source, enc: Encoding, chunk_rows: int, progress: bool | None = None
) -> PartialStats:
    """One pass over the source: the statistics of all its rows."""
    bar = Progress(
        "multilevel: reading", source.n_rows if progress is not False else None, enabled=progress
    )
    total = empty_stats(enc)
    try:
        for chunk in prefetch(iter_chunks(source, list(enc.columns), chunk_rows)):
            total = merge(total, partial_stats(chunk, enc))
            bar.update(len(chunk))
    finally:
        bar.close()
    if total.n_input == 0:
        raise DataError("the data has no rows")
    return total


def _modes(ev: Evaluation, xp: CrossProducts, enc: Encoding, sigma2: float) -> dict[str, TermModes]:
    """b_j = Lambda (Lambda'A_jLambda + I)^-1 Lambda'(B_y,j - B_x,j beta), per group, from the
    statistics alone; conditional covariances sigma^2 Lambda K_j Lambda' (as modes.py)."""
    p = xp.p
    B = sm.to_stacked(xp.B)
    K = sm.to_stacked(ev.K)
    L1 = ev.Lambda1
    rhs = (B[:, :, p] - B[:, :, :p] @ ev.beta) @ L1
    u = np.einsum("gij,gj->gi", K, rhs)
    b = u @ L1.T
    V = sigma2 * np.matmul(np.matmul(L1, K), L1.T)
    out, off = {}, 0
    for t in enc.terms:
        sl = slice(off, off + t.q)
        out[t.name] = TermModes(b=b[:, sl], cond_var=V[:, sl, sl])
        off += t.q
    return out


def fit_statistics(
    stats: PartialStats, enc: Encoding, reml: bool = True, warn: bool = True
) -> LargeFit:
    """Fit from total statistics (of a chunked pass, a Dask reduction, or merged partials)."""
    xp, tot = cross_products_of(stats, enc)
    if reml and xp.n <= xp.p:
        raise DataError(f"REML needs more observations ({xp.n}) than fixed effects ({xp.p})")
    with kernel_threads(0, xp.p):
        return _fit(xp, tot, enc, reml, warn)


def _fit(xp, tot, enc: Encoding, reml: bool, warn: bool) -> LargeFit:
    from multilevel.api import FitWarning

    dev = ProfiledDeviance(xp, reml=reml)
    lower = np.concatenate([t.theta_lower for t in enc.terms])
    start = np.concatenate([t.theta_start for t in enc.terms])
    start, informed = choose_start(dev, xp, start)
    opt = optimize_theta(dev, start, lower, informed_start=informed)
    theta = np.asarray(opt.theta_final)
    ev = dev.evaluate(theta)
    sigma2 = dev.sigma2(ev)
    sigma = float(np.sqrt(sigma2))
    loglik = -0.5 * dev.criterion(ev)
    components, k = [], 0
    theta_names: list[str] = []
    for t in enc.terms:
        n_t = len(t.theta_lower)
        Lt = t.Lambda(theta[k : k + n_t])
        k += n_t
        theta_names += t.theta_names
        components.append(
            VarianceComponent(t.name, t.grouping_factor, t.term_names, sigma2 * (Lt @ Lt.T))
        )
    info = varpar_info(dev, theta, sigma)
    df = satterthwaite(info, np.eye(xp.p)) if xp.p else np.zeros(0)
    gradient = dev.value_and_gradient(theta)[1]
    opt = check_convergence(opt, gradient, profiled_hessian(info), lower)
    is_sing = singular(theta, lower)

    messages = []
    if tot.n_dropped:
        cols = ", ".join(f"{c} ({k})" for c, k in tot.dropped_by.items())
        messages.append(
            f"{tot.n_dropped} of {tot.n_input} rows dropped for missing values in: {cols}"
        )
    if tot.dropped_names:
        messages.append(
            "fixed-effect model matrix is rank deficient so dropping "
            f"{len(tot.dropped_names)} column(s): {', '.join(tot.dropped_names)} "
            "(a linear combination of earlier columns)"
        )
    if is_sing:
        zero = [
            n for n, th, lo in zip(theta_names, theta, lower, strict=True) if lo == 0 and th < 1e-4
        ]
        messages.append(
            "boundary (singular) fit: the variance of "
            + ", ".join(zero)
            + " is estimated as (nearly) zero; a simpler random-effects structure "
            "without it fits the data equally well"
        )
    if not opt.converged:
        messages.extend(opt.notes or ["the optimizer did not converge"])
    if warn:
        for msg in messages:
            warnings.warn(msg, FitWarning, stacklevel=3)
    return LargeFit(
        formula=enc.formula.text,
        reml=reml,
        fixed_names=tot.fixed_names,
        beta=ev.beta,
        vcov_beta=sigma2 * ev.XtVinvX_inv,
        df_satterthwaite=df,
        theta=theta,
        theta_names=tuple(theta_names),
        sigma=sigma,
        random_effects=tuple(components),
        loglik=float(loglik),
        optimization=opt,
        is_singular=is_sing,
        n_obs=xp.n,
        n_groups={enc.group: xp.G},
        n_dropped=tot.n_dropped,
        dropped_by=tot.dropped_by,
        group_levels=tot.group_levels,
        modes=_modes(ev, xp, enc, sigma2),
        warnings=tuple(messages),
        encoding=enc,
        totals=tot,
    )
