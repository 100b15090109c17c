"""Refits of a batch of simulated responses: the batched Newton method for one grouping factor,
the single-refit optimizer otherwise (and for the few refits the batch did not settle).

:class:`BatchRefits` holds what every statistic needs (theta, beta, sigma, Var(beta),
log-likelihood, and which refits failed or are singular) and computes Satterthwaite df for the
whole batch on request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from multilevel.simulate.batch import BatchDeviance, BatchState, newton_refits
from multilevel.simulate.batch_df import batch_satterthwaite
from multilevel.simulate.problem import RefitProblem, ResponseProducts
from multilevel.simulate.refit import REFIT_ERRORS, Refit, Refitter


@dataclass(eq=False)
class BatchRefits:
    """Refits of S responses (arrays with the refit first)."""

    theta: np.ndarray  # (S, k)
    beta: np.ndarray  # (S, p)
    sigma: np.ndarray  # (S,)
    vcov_beta: np.ndarray  # (S, p, p)
    loglik: np.ndarray  # (S,)
    singular: np.ndarray  # (S,) bool
    failed: np.ndarray  # (S,) bool: the refit raised or produced non-finite values
    reml: bool
    problem: RefitProblem = field(repr=False)
    responses: ResponseProducts = field(repr=False)
    _batch: BatchDeviance | None = field(default=None, repr=False)
    _single: dict[int, Refit] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        return int(self.sigma.size)

    def refit(self, s: int, y: np.ndarray | None = None, design: Any = None) -> Refit:
        """Refit ``s`` as a :class:`Refit` record (for statistics written as functions)."""
        if s in self._single:
            r = self._single[s]
        else:
            r = Refit(
                theta=self.theta[s],
                beta=self.beta[s],
                sigma=float(self.sigma[s]),
                vcov_beta=self.vcov_beta[s],
                loglik=float(self.loglik[s]),
                is_singular=bool(self.singular[s]),
                converged=not self.failed[s],
                reml=self.reml,
                cross_products=self.problem.cross_products_for(self.responses, s),
                shift=self.problem.shift,
            )
        names = tuple(design.fixed.names) if design is not None else ()
        return replace(r, y=y, design=design, fixed_names=names)

    def satterthwaite_df(self, L: np.ndarray) -> np.ndarray:
        """(S, r) Satterthwaite df of the contrasts in the rows of L for every refit."""
        L = np.atleast_2d(np.asarray(L, float))
        out = np.full((self.size, L.shape[0]), np.nan)
        Lf = L if self.problem.shift is None else L @ self.problem.shift.T  # L beta = L T beta~
        ok = ~self.failed
        batch_ok = ok & np.array([s not in self._single for s in range(self.size)])
        if self._batch is not None and batch_ok.any():
            rp = self.responses
            idx = np.flatnonzero(batch_ok)
            data = (rp.Z1y[:, :, idx], rp.Xy[:, idx], rp.yy[idx])
            out[idx] = batch_satterthwaite(
                self._batch, self.theta[idx].T, data, self.sigma[idx], Lf
            )
        for s, r in self._single.items():
            if ok[s]:
                out[s] = r.satterthwaite_df(L)
        return out


def refit_batch(problem: RefitProblem, Y: np.ndarray, reml: bool, start: np.ndarray) -> BatchRefits:
    """Refit the design of ``problem`` to every column of Y, starting from theta ``start``."""
    rp = problem.response_products(Y)
    S = Y.shape[1]
    k, p = start.size, problem.p
    theta = np.full((S, k), np.nan)
    beta = np.full((S, p), np.nan)
    sigma = np.full(S, np.nan)
    vcov = np.full((S, p, p), np.nan)
    loglik = np.full(S, np.nan)
    singular = np.zeros(S, bool)
    failed = np.zeros(S, bool)
    single: dict[int, Refit] = {}
    batch: BatchDeviance | None = None
    todo = np.arange(S)
    if problem.xp.n_rest == 0:
        batch = BatchDeviance(problem.xp, reml)
        with np.errstate(all="ignore"):
            bf = newton_refits(batch, start, rp.Z1y, rp.Xy, rp.yy)
        good = bf.converged
        _store(bf.state, batch, good, theta, beta, sigma, vcov, loglik)
        theta[good] = bf.theta[:, good].T
        singular[good] = bf.singular[good]
        todo = np.flatnonzero(~good)
    if todo.size:
        refitter = Refitter(problem.xp, reml, start, problem.theta_lower)
        for s in todo:
            try:
                r = refitter.refit(problem.cross_products_for(rp, int(s)))
            except REFIT_ERRORS:
                failed[s] = True
                continue
            r = r.written(problem.shift)
            single[int(s)] = r
            theta[s], beta[s], sigma[s] = r.theta, r.beta, r.sigma
            vcov[s], loglik[s], singular[s] = r.vcov_beta, r.loglik, r.is_singular
            failed[s] = not r.converged
    if batch is not None:  # the batch's refits about the design's shift, as the model written
        beta, vcov = problem.written(beta, vcov)
    return BatchRefits(
        theta, beta, sigma, vcov, loglik, singular, failed, reml, problem, rp, batch, single
    )


def _store(
    state: BatchState,
    dev: BatchDeviance,
    good: np.ndarray,
    theta: np.ndarray,
    beta: np.ndarray,
    sigma: np.ndarray,
    vcov: np.ndarray,
    loglik: np.ndarray,
) -> None:
    s2 = dev.sigma2(state)
    sigma[good] = np.sqrt(s2[good])
    beta[good] = state.beta[:, good].T
    vcov[good] = np.moveaxis(state.U, 2, 0)[good] * s2[good, None, None]
    loglik[good] = -0.5 * state.criterion[good]
