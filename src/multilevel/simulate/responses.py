"""``simulate(fit, nsim, seed)``: responses drawn from a fitted model, as lme4's ``simulate``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from multilevel.errors import MultilevelError
from multilevel.simulate.draw import draw_responses, seeds_for
from multilevel.simulate.problem import check_supported, refit_problem

if TYPE_CHECKING:
    from multilevel.result.fit import LmmFit


def simulate(fit: LmmFit, nsim: int = 1, seed: int | None = None) -> pd.DataFrame:
    """``nsim`` responses from the fitted model (new random effects and residuals each time), as
    a DataFrame with columns ``sim_1``, ``sim_2``, ... and the fitted rows' index (lme4's
    ``simulate(m, nsim, seed)`` with ``use.u = FALSE``)."""
    if int(nsim) < 1:
        raise MultilevelError(f"nsim must be a positive number of simulations, got {nsim}")
    check_supported(fit)
    problem = refit_problem(fit.design)
    Y = draw_responses(problem, fit.beta, fit.theta, fit.sigma, seeds_for(seed, int(nsim)))
    return pd.DataFrame(
        Y, index=fit.design.frame.row_index, columns=[f"sim_{i + 1}" for i in range(int(nsim))]
    )
