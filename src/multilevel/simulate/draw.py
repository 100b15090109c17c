"""Responses drawn from a fitted model, as lme4's ``simulate``: new random effects and new
residuals for every simulation,

    y* = X beta + Z Lambda u* sigma + sigma e*,   u* ~ N(0, I),  e* ~ N(0, I),

so that Var(Z b*) = sigma^2 Z Lambda Lambda' Z' (the fitted variance components). Each simulation
draws from its own generator (a child of one SeedSequence), so simulation i is the same whatever
else is drawn or however the work is split.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from multilevel.simulate.problem import RefitProblem


def seeds_for(
    seed: int | np.random.SeedSequence | None, count: int
) -> list[np.random.SeedSequence]:
    """One independent SeedSequence per simulation, from ``seed``."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return root.spawn(count)


def draw_responses(
    problem: RefitProblem,
    beta: np.ndarray,
    theta: np.ndarray,
    sigma: float,
    seeds: Sequence[np.random.SeedSequence],
) -> np.ndarray:
    """An n x len(seeds) matrix of simulated responses, one column per seed."""
    n, q = problem.n, problem.n_random
    U = np.empty((q, len(seeds)))
    E = np.empty((n, len(seeds)))
    for s, ss in enumerate(seeds):
        rng = np.random.default_rng(ss)
        U[:, s] = rng.standard_normal(q)
        E[:, s] = rng.standard_normal(n)
    mu = problem.mean(beta)
    b = problem.Lambda(theta) @ U
    return mu[:, None] + sigma * (np.asarray(problem.Z @ b) + E)
