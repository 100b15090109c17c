"""The test whose power is estimated: p-values for a batch of refits.

A fixed effect by name is tested by a t test with Satterthwaite or Kenward-Roger df, by a Wald
z test, or by a likelihood-ratio test against the model without that column (both refitted by
ML, chi-square with 1 df); ``"lrt"`` with a reduced formula compares two models (chi-square with
the difference in parameters: conservative for variance components on the boundary, as simr);
a callable receives each :class:`~multilevel.simulate.refit.Refit` and returns a p-value or
whether it rejects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats

from multilevel.design.model import ModelDesign
from multilevel.errors import MultilevelError
from multilevel.result.fit import VarianceComponent, variance_components
from multilevel.simulate.draw import draw_responses
from multilevel.simulate.engine import BatchRefits, refit_batch
from multilevel.simulate.problem import RefitProblem

METHODS = ("satterthwaite", "kenward-roger", "lrt", "z")


@dataclass(frozen=True)
class TestSpec:
    """What to test: ``column`` (a fixed-effect index) with ``method``, a ``reduced`` model for
    a likelihood-ratio test, or a ``function`` of each refit."""

    label: str
    method: str
    column: int | None = None
    reduced: str | None = None
    function: Callable[[Any], Any] | None = None


def resolve_test(
    test: Any, method: str, fixed_names: tuple[str, ...], reduced: str | None
) -> TestSpec:
    """Check ``test``/``method``/``reduced`` against the model and say what will be tested."""
    if method not in METHODS:
        raise MultilevelError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if callable(test):
        return TestSpec(getattr(test, "__name__", "callable"), "callable", function=test)
    if test == "lrt":
        if not reduced:
            raise MultilevelError("test='lrt' needs reduced= the formula of the reduced model")
        return TestSpec(f"LRT vs {reduced}", "lrt", reduced=reduced)
    if test is None:
        candidates = [n for n in fixed_names if n != "(Intercept)"]
        if not candidates:
            raise MultilevelError("the model has no fixed effect besides the intercept to test")
        test = candidates[0]
    if test not in fixed_names:
        raise MultilevelError(
            f"test={test!r} is not a fixed effect of the model; its fixed effects are "
            f"{', '.join(fixed_names)} (or give test='lrt' with reduced=, or a function)"
        )
    return TestSpec(str(test), method, column=fixed_names.index(test))


def drop_columns(problem: RefitProblem, drop: list[int]) -> RefitProblem:
    """The refit problem of the same design without the fixed-effect columns ``drop``."""
    p = problem.p
    keep = [j for j in range(p) if j not in drop]
    kw = keep + [p]
    xp = problem.xp
    changes: dict[str, Any] = dict(
        p=len(keep), B=np.ascontiguousarray(xp.B[:, kw, :]), C=xp.C[np.ix_(kw, kw)]
    )
    if xp.C_rw is not None:
        changes["C_rw"] = xp.C_rw[:, kw]
    return replace(problem, xp=replace(xp, **changes), X=problem.X[:, keep])


@dataclass(frozen=True, eq=False)
class TestRunner:
    """Everything a worker needs to turn simulated responses into p-values for one design."""

    spec: TestSpec
    problem: RefitProblem
    design: ModelDesign
    reml: bool
    start: np.ndarray
    reduced_problem: RefitProblem | None = None
    reduced_start: np.ndarray | None = None

    def draw(
        self,
        beta: np.ndarray,
        theta: np.ndarray,
        sigma: float,
        seeds: Sequence[np.random.SeedSequence],
    ) -> np.ndarray:
        """Responses from the model with these parameters, one column per seed."""
        return draw_responses(self.problem, beta, theta, sigma, seeds)

    def p_values(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """p-values (NaN where a refit failed), failed and singular flags, per column of Y."""
        spec = self.spec
        if spec.method == "lrt":
            full = refit_batch(self.problem, Y, False, self.start)
            assert self.reduced_problem is not None and self.reduced_start is not None
            red = refit_batch(self.reduced_problem, Y, False, self.reduced_start)
            df = (self.problem.p + self.start.size) - (
                self.reduced_problem.p + self.reduced_start.size
            )
            stat = np.maximum(2 * (full.loglik - red.loglik), 0.0)
            p = stats.chi2.sf(stat, df)
            failed = full.failed | red.failed
            return np.where(failed, np.nan, p), failed, full.singular & ~failed
        fits = refit_batch(self.problem, Y, self.reml or spec.method == "kenward-roger", self.start)
        ok = ~fits.failed
        p = np.full(fits.size, np.nan)
        if spec.method == "callable":
            assert spec.function is not None
            for s in np.flatnonzero(ok):
                p[s] = _as_p(spec.function(fits.refit(int(s), Y[:, s], self.design)))
        else:
            j = spec.column
            assert j is not None
            est = fits.beta[:, j]
            se = np.sqrt(fits.vcov_beta[:, j, j])
            if spec.method == "z":
                p = 2 * stats.norm.sf(np.abs(est / se))
            elif spec.method == "satterthwaite":
                L = np.eye(self.problem.p)[j]
                ddf = fits.satterthwaite_df(L)[:, 0]
                p = 2 * stats.t.sf(np.abs(est / se), ddf)
            else:
                for s in np.flatnonzero(ok):
                    p[s] = _kenward_roger_p(self.design, fits, int(s), j)
        p = np.where(ok, p, np.nan)
        return p, fits.failed, fits.singular & ok


def _as_p(value: Any) -> float:
    """A test function's answer: a p-value, or True/False for reject/accept."""
    if isinstance(value, bool | np.bool_):
        return 0.0 if value else 1.0
    p = float(value)
    if not 0 <= p <= 1:
        raise MultilevelError(f"the test function returned {p}: give a p-value or True/False")
    return p


@dataclass(frozen=True, eq=False)
class _RefitView:
    """The parts of a fit Kenward-Roger reads, for a refit (same design, new estimates)."""

    design: ModelDesign
    reml: bool
    fixed_names: tuple[str, ...]
    beta: np.ndarray
    sigma: float
    random_effects: tuple[VarianceComponent, ...]


def _kenward_roger_p(design: ModelDesign, fits: BatchRefits, s: int, j: int) -> float:
    from multilevel.inference.kenward_roger import kenward_roger

    sigma = float(fits.sigma[s])
    components = variance_components(design.terms, design.split_theta(fits.theta[s]), sigma**2)
    view = _RefitView(design, True, tuple(design.fixed.names), fits.beta[s], sigma, components)
    try:
        kr = kenward_roger(view)  # type: ignore[arg-type]
        return kr.test(np.eye(design.p)[j][None]).p_value
    except (np.linalg.LinAlgError, FloatingPointError, ValueError):
        return float("nan")
