"""Parametric bootstrap of a fitted model, as lme4's ``bootMer``: simulate responses from the
fit, refit, and collect a statistic (by default every parameter, with lme4's ``confint`` names).

Refits reuse the design (only the response's cross-products change) and run batched on the cores
available; refits that fail are counted and left out, singular refits are counted and kept (as
bootMer does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from multilevel.design.random_shift import centred_view
from multilevel.errors import MultilevelError
from multilevel.simulate.draw import draw_responses, seeds_for
from multilevel.simulate.engine import refit_batch
from multilevel.simulate.parallel import chunks, run_chunks
from multilevel.simulate.parameters import parameter_names, parameter_values
from multilevel.simulate.percentile import percentile_interval
from multilevel.simulate.problem import RefitProblem, check_supported, refit_problem
from multilevel.simulate.progress import SimulationProgress
from multilevel.simulate.refit import Refit

if TYPE_CHECKING:
    from multilevel.design.model import ModelDesign
    from multilevel.result.fit import LmmFit

Statistic = Callable[[Refit], Any]


@dataclass(frozen=True, eq=False)
class _BootstrapJob:
    """One chunk of the bootstrap: draw, refit, evaluate the statistic (runs in a worker)."""

    problem: RefitProblem
    design: ModelDesign
    beta: np.ndarray
    theta: np.ndarray
    sigma: float
    reml: bool
    statistic: Statistic | None
    width: int
    # random slopes of far predictors: draws and refits on the centred Z (design/random_shift),
    # theta mapped back; a statistic sees the model written (its refit, without Satterthwaite)
    centred: Any = None
    written: ModelDesign | None = None

    def __call__(self, task: tuple[int, int, list[np.random.SeedSequence]]) -> dict[str, Any]:
        start, stop, seeds = task
        Y = draw_responses(self.problem, self.beta, self.theta, self.sigma, seeds)
        fits = refit_batch(self.problem, Y, self.reml, self.theta)
        S = stop - start
        values = np.full((S, self.width), np.nan)
        ok = ~fits.failed
        theta = fits.theta
        if self.centred is not None:  # hook: back to the model written
            theta = self.centred.shift.theta(self.design.layout.terms, theta)
        if self.statistic is None:
            values[ok] = parameter_values(self.design, theta[ok], fits.sigma[ok], fits.beta[ok])
        else:
            for s in np.flatnonzero(ok):
                refit = fits.refit(int(s), Y[:, s], self.design)
                if self.centred is not None:
                    refit = replace(refit, theta=theta[s], design=self.written, cross_products=None)
                values[s] = _as_vector(self.statistic(refit))
        return {"values": values, "failed": fits.failed, "singular": fits.singular & ok}


def _as_vector(value: Any) -> np.ndarray:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, pd.Series):
        value = value.to_numpy()
    return np.atleast_1d(np.asarray(value, dtype=float)).ravel()


def _statistic_names(value: Any, width: int) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, pd.Series):
        return [str(k) for k in value.index]
    return [f"t{i + 1}" for i in range(width)]


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Bootstrap replicates (one row per simulation; NaN where the refit failed), the statistic
    on the original fit (``t0``), and counts of failed and singular refits."""

    t0: pd.Series
    replicates: pd.DataFrame
    n_failed: int
    n_singular: int
    seed: int | None
    failed: np.ndarray = field(repr=False)
    singular: np.ndarray = field(repr=False)

    @property
    def nsim(self) -> int:
        return len(self.replicates)

    def confint(self, level: float = 0.95) -> pd.DataFrame:
        """Percentile intervals (``boot.ci(type = "perc")``), columns parameter, lower, upper."""
        if not 0 < level < 1:
            raise MultilevelError(f"level must be between 0 and 1, got {level}")
        rows = []
        for name in self.replicates.columns:
            lo, hi = percentile_interval(self.replicates[name].to_numpy(), level)
            rows.append({"parameter": name, "lower": lo, "upper": hi})
        return pd.DataFrame(rows, columns=["parameter", "lower", "upper"])

    def std_errors(self) -> pd.Series:
        """Bootstrap standard deviation of each statistic (over the successful refits)."""
        return self.replicates.std(ddof=1)

    def summary(self) -> str:
        return (
            f"parametric bootstrap: {self.nsim} simulations, {self.n_failed} failed refits "
            f"(left out), {self.n_singular} singular refits (kept)"
        )


def bootstrap(
    fit: LmmFit,
    nsim: int = 1000,
    statistic: Statistic | None = None,
    seed: int | None = None,
    *,
    workers: int | None = None,
    progress: bool | None = None,
) -> BootstrapResult:
    """Parametric bootstrap of ``fit`` (lme4's ``bootMer`` with ``use.u = FALSE``).

    ``statistic`` maps a :class:`~multilevel.simulate.refit.Refit` (``beta``, ``theta``,
    ``sigma``, ``vcov_beta``, ``fit`` for the full refitted model) to a number, array, dict or
    Series; by default every parameter with lme4's ``confint`` names. ``seed`` makes the result
    reproducible whatever ``workers`` (default: all cores). ``progress``: a bar on stderr
    (default: when stderr is a terminal).
    """
    if int(nsim) < 1:
        raise MultilevelError(f"nsim must be a positive number of simulations, got {nsim}")
    nsim = int(nsim)
    check_supported(fit)
    written = fit.design
    view = centred_view(fit)  # hook: random slopes of far predictors refitted centred
    design = view.design
    problem = refit_problem(design)
    if statistic is None:
        names = parameter_names(design)
        t0 = parameter_values(design, fit.theta[None], np.array([fit.sigma]), fit.beta[None])[0]
    else:
        original = Refit(
            theta=fit.theta,
            beta=fit.beta,
            sigma=fit.sigma,
            vcov_beta=fit.vcov_beta,
            loglik=fit.loglik,
            is_singular=fit.is_singular,
            converged=fit.optimization.converged,
            reml=fit.reml,
            fixed_names=tuple(fit.fixed_names),
            y=design.y,
            cross_products=problem.xp if view is fit else None,
            design=written,
            shift=problem.shift,
        )
        value = statistic(original)
        t0 = _as_vector(value)
        names = _statistic_names(value, t0.size)
    job = _BootstrapJob(
        problem,
        design,
        np.asarray(fit.beta),
        np.asarray(view.theta),
        float(fit.sigma),
        fit.reml,
        statistic,
        len(names),
        fit.centred,
        written,
    )
    seeds = seeds_for(seed, nsim)
    ranges = chunks(nsim)
    tasks = [(a, b, seeds[a:b]) for a, b in ranges]
    bar = SimulationProgress("bootstrap", nsim, enabled=progress)
    try:
        parts = run_chunks(job, tasks, [b - a for a, b in ranges], workers, bar)
    finally:
        bar.close()
    values = np.concatenate([p["values"] for p in parts])
    failed = np.concatenate([p["failed"] for p in parts])
    singular = np.concatenate([p["singular"] for p in parts])
    return BootstrapResult(
        t0=pd.Series(t0, index=names),
        replicates=pd.DataFrame(values, columns=names),
        n_failed=int(failed.sum()),
        n_singular=int(singular.sum()),
        seed=seed,
        failed=failed,
        singular=singular,
    )
