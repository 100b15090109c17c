"""``multilevel.power``: the power of a test by simulation, from a pilot fit or a planned design,
at one design or along a grid of numbers of groups and group sizes.

For every design point the data are built (the pilot's rows extended or subsampled, or the
planned design at that size), responses are simulated from the true parameters (the pilot's
estimates, or the plan's), the model is refitted to each (reusing the design: only the
response's cross-products change) and the test's p-values are counted below alpha. Simulation i
of point k draws from its own child of the seed, and the work is cut into chunks that do not
depend on the number of workers: the result is the same on one core or many.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from multilevel.design.model import ModelDesign, build_design
from multilevel.errors import MultilevelError
from multilevel.fitting import fit_design
from multilevel.planning.extend import grouping_factor, resize_groups, resize_within
from multilevel.planning.glmm import FAMILIES, GlmmRunner, family_name
from multilevel.planning.planned import PlannedDesign
from multilevel.planning.pvalues import TestRunner, TestSpec, drop_columns, resolve_test
from multilevel.planning.result import PowerResult
from multilevel.result.fit import LmmFit
from multilevel.simulate.parallel import chunks, run_chunks
from multilevel.simulate.problem import check_supported, refit_problem
from multilevel.simulate.progress import SimulationProgress


@dataclass(frozen=True, eq=False)
class _Point:
    """One design point: its runner and the true parameters to simulate from."""

    runner: TestRunner | GlmmRunner
    beta: np.ndarray
    theta: np.ndarray
    sigma: float


@dataclass(frozen=True, eq=False)
class _PowerJob:
    points: tuple[_Point, ...]

    def __call__(self, task: tuple[int, int, int, list[np.random.SeedSequence]]) -> Any:
        k, _, _, seeds = task
        pt = self.points[k]
        return pt.runner.p_values(pt.runner.draw(pt.beta, pt.theta, pt.sigma, seeds))


def _grid(along: Any, values: Any) -> tuple[tuple[str, ...], list[dict[str, int]]]:
    """``along``/``values`` as dimension names and the list of design points."""
    if along is None:
        if values is not None:
            raise MultilevelError("values= needs along= (e.g. along='n_groups')")
        return (), [{}]
    if isinstance(along, str):
        along, values = [along], [values]
    along = list(along)
    if values is None or len(values) != len(along):
        raise MultilevelError(
            "values= must give one list of sizes per along= dimension, e.g. along='n_groups', "
            "values=[20, 40, 60]"
        )
    lists = []
    for name, vals in zip(along, values, strict=True):
        try:
            vals = [int(v) for v in np.atleast_1d(vals)]
        except (TypeError, ValueError):
            raise MultilevelError(f"values for {name!r} must be whole numbers") from None
        if not vals:
            raise MultilevelError(f"no values given for {name!r}")
        lists.append(vals)
    return tuple(along), [dict(zip(along, combo, strict=True)) for combo in product(*lists)]


def _pilot_design(fit: LmmFit, point: dict[str, int], group: str | None) -> ModelDesign:
    """The pilot's design resized to ``point`` (n_groups first, then group sizes)."""
    design = fit.design
    if not point:
        return design
    data = design.frame.data
    within = None
    for name, value in point.items():
        if name == "group_size":
            within = value
            continue
        factor = grouping_factor(design, group or name if name == "n_groups" else name)
        data = resize_groups(data, design, factor, value)
    if within is not None:
        data = resize_within(data, grouping_factor(design, group or "group_size"), within)
    new = build_design(design.formula, data)
    if tuple(new.fixed.names) != tuple(fit.fixed_names) or new.n_theta != fit.theta.size:
        raise MultilevelError(
            f"the design resized to {point} has fixed effects {list(new.fixed.names)} instead "
            f"of {list(fit.fixed_names)} (a factor lost or gained levels, or the fit used "
            "contrasts=, which a resized design does not carry: write C(x, sum) in the formula "
            "instead): choose other sizes"
        )
    return new


def power(
    fit: LmmFit | PlannedDesign,
    test: Any = None,
    nsim: int = 1000,
    alpha: float = 0.05,
    seed: int | None = None,
    along: str | Sequence[str] | None = None,
    values: Any = None,
    method: str = "satterthwaite",
    *,
    reduced: str | None = None,
    fixed: Mapping[str, float] | None = None,
    group: str | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> PowerResult:
    """Power of a test by simulation (as simr's ``powerSim``/``powerCurve``, refits reused).

    ``fit``: a pilot fit (its estimates are the truth; ``fixed={"treat": 0.2}`` sets effects to
    the smallest of interest) or a :func:`multilevel.plan`. ``test``: a fixed effect's
    name (default the first non-intercept one), ``"lrt"`` with ``reduced=`` a formula, or a
    function of each refit returning a p-value or True/False. ``method``: ``"satterthwaite"``,
    ``"kenward-roger"``, ``"lrt"`` (the model without that effect, both by ML) or ``"z"``.
    ``along``: ``"n_groups"``, ``"group_size"``, a grouping factor, or two of them for a grid,
    with ``values`` the sizes (one list per dimension). ``workers``: processes (default all
    cores); the numbers do not depend on it. ``progress``: a bar on stderr (default in a
    terminal).
    """
    if int(nsim) < 1:
        raise MultilevelError(f"nsim must be a positive number of simulations, got {nsim}")
    if not 0 < alpha < 1:
        raise MultilevelError(f"alpha must be between 0 and 1, got {alpha}")
    nsim = int(nsim)
    along_names, points = _grid(along, values)
    family = fit.family if isinstance(fit, PlannedDesign) else family_name(fit)
    if family is not None:
        if family not in FAMILIES:
            raise MultilevelError(f"power for a {family} model is not available")
        if method == "satterthwaite":  # the default: a GLMM's fixed effects are tested by z
            method = "z"
        if method != "z":
            raise MultilevelError(
                f"method={method!r} is not available for a {family} GLMM: its fixed effects are "
                "tested by Wald z (method='z') or by a function of the refit"
            )
    elif not isinstance(fit, PlannedDesign):
        check_supported(fit)
    if isinstance(fit, PlannedDesign):
        if test is None and fit.treatment:
            test = fit.treatment_name
        truths = [_planned_truth(fit, point) for point in points]
    else:
        truths = [_pilot_truth(fit, point, group) for point in points]
    spec = resolve_test(test, method, tuple(truths[0][0].fixed.names), reduced)
    reduced_start = None
    if (
        spec.method == "lrt"
        and spec.reduced is not None
        and family is None  # a linear mixed model (LmmFit is also the class of GLMM fits)
        and isinstance(fit, LmmFit)
    ):
        reduced_start = fit_design(
            build_design(spec.reduced, fit.design.frame.data), reml=False, warn=False
        ).theta
    built = []
    for design, beta, theta, sigma, reml in truths:
        beta = _override(beta, tuple(design.fixed.names), fixed)
        if family is None:
            built.append(_point(spec, design, beta, theta, sigma, reml, reduced_start))
        else:
            built.append(_glmm_point(spec, fit, design, beta, theta))

    root = np.random.SeedSequence(seed)
    tasks, sizes = [], []
    for k, child in enumerate(root.spawn(len(points))):
        seeds = child.spawn(nsim)
        for a, b in chunks(nsim):
            tasks.append((k, a, b, seeds[a:b]))
            sizes.append(b - a)
    bar = SimulationProgress("power", nsim * len(points), enabled=progress)
    started = time.perf_counter()
    try:
        parts = run_chunks(_PowerJob(tuple(built)), tasks, sizes, workers, bar)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    p_values, failed, singular = [], [], []
    for k in range(len(points)):
        mine = [part for task, part in zip(tasks, parts, strict=True) if task[0] == k]
        p_values.append(np.concatenate([m[0] for m in mine]))
        failed.append(np.concatenate([m[1] for m in mine]))
        singular.append(np.concatenate([m[2] for m in mine]))
    return PowerResult(
        test=spec.label,
        method=spec.method,
        alpha=alpha,
        nsim=nsim,
        along=along_names,
        points=tuple(_describe(pt, b.runner.design) for pt, b in zip(points, built, strict=True)),
        n_obs=tuple(b.runner.design.n for b in built),
        p_values=tuple(p_values),
        failed=tuple(failed),
        singular=tuple(singular),
        seed=seed if seed is not None else root.entropy,
        seconds=seconds,
    )


_Truth = tuple[ModelDesign, np.ndarray, np.ndarray, float, bool]


def _planned_truth(planned: PlannedDesign, point: dict[str, int]) -> _Truth:
    design = planned.build(point.get("n_groups"), point.get("group_size"))
    beta, theta, sigma = planned.truth(design)
    return design, beta, theta, sigma, True


def _pilot_truth(fit: LmmFit, point: dict[str, int], group: str | None) -> _Truth:
    design = _pilot_design(fit, point, group)
    return design, np.array(fit.beta, float), np.array(fit.theta, float), fit.sigma, fit.reml


def _describe(point: dict[str, int], design: ModelDesign) -> dict[str, int]:
    """The point's values plus its number of groups (the first factor) for the table."""
    out = dict(point)
    if "n_groups" not in out and len(design.n_groups) == 1:
        out = {"n_groups": next(iter(design.n_groups.values())), **out}
    return out


def _override(
    beta: np.ndarray, names: tuple[str, ...], fixed: Mapping[str, float] | None
) -> np.ndarray:
    if not fixed:
        return beta
    out = beta.copy()
    for name, value in fixed.items():
        if name not in names:
            raise MultilevelError(
                f"fixed={{{name!r}: ...}}: no such fixed effect ({', '.join(names)})"
            )
        out[names.index(name)] = float(value)
    return out


def _glmm_point(
    spec: TestSpec, fit: Any, design: ModelDesign, beta: np.ndarray, theta: np.ndarray
) -> _Point:
    response = fit.response
    if response not in design.frame.data.columns:
        raise MultilevelError(
            f"power for a GLMM needs its outcome as one column (0/1 or counts), not {response!r}"
        )
    runner = GlmmRunner(
        spec,
        refit_problem(design),
        design,
        fit.formula,
        response,
        fit.family,
        int(getattr(fit, "nagq", 1)),
    )
    return _Point(runner, beta, theta, 1.0)


def _point(
    spec: TestSpec,
    design: ModelDesign,
    beta: np.ndarray,
    theta: np.ndarray,
    sigma: float,
    reml: bool,
    reduced_start: np.ndarray | None,
) -> _Point:
    problem = refit_problem(design)
    reduced_problem = None
    if spec.method == "lrt":
        if spec.reduced is None:
            assert spec.column is not None
            reduced_problem = drop_columns(problem, [spec.column])
            reduced_start = theta
        else:
            reduced_design = build_design(spec.reduced, design.frame.data)
            if reduced_design.n != design.n:
                raise MultilevelError(
                    f"the reduced model uses {reduced_design.n} rows, the model {design.n}: "
                    "they must be fitted to the same rows"
                )
            reduced_problem = refit_problem(reduced_design)
            if reduced_start is None:
                reduced_start = reduced_design.theta_start()
    runner = TestRunner(spec, problem, design, reml, theta, reduced_problem, reduced_start)
    return _Point(runner, beta, theta, sigma)
