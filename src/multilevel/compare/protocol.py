"""The one result every comparison estimator returns: estimates, SEs, covariance, n, G, loglik.

A frozen record so that OLS, cluster-robust OLS, fixed effects, GEE, one-row-per-group and the
multilevel model can be tabulated, plotted and tested side by side with the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import stats


class ComparisonTable(Protocol):
    """What a forest plot reads from a comparison: the long table (term, estimator, estimate,
    CI, ...), the estimators in order, the formula and the confidence level. A protocol here,
    in the leaf module, so that the plot needs no import of the comparison that draws it."""

    @property
    def table(self) -> pd.DataFrame: ...

    @property
    def names(self) -> Sequence[str]: ...

    @property
    def formula(self) -> str: ...

    @property
    def level(self) -> float: ...


@dataclass(frozen=True)
class EstimatorResult:
    """One estimator's fixed effects for the mean model ``y = X beta + error``.

    ``df`` holds per-coefficient reference degrees of freedom for t-based intervals and tests
    (``inf`` means a normal reference). Coefficients the estimator cannot estimate (level-2
    predictors under fixed effects) have ``nan`` estimate and SE and are named in ``notes``.
    ``loglik`` is ``None`` where no likelihood is defined (GEE, cluster-robust SEs).
    """

    name: str
    label: str
    coef_names: tuple[str, ...]
    estimates: np.ndarray
    std_errors: np.ndarray
    vcov: np.ndarray
    df: np.ndarray
    n_obs: int
    n_clusters: int
    loglik: float | None = None
    notes: tuple[str, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def estimable(self) -> np.ndarray:
        """True where the coefficient was estimated."""
        return np.isfinite(self.estimates) & np.isfinite(self.std_errors)

    def index(self, coef: str) -> int:
        try:
            return self.coef_names.index(coef)
        except ValueError:
            raise KeyError(
                f"{self.name} has no coefficient {coef!r}; has {self.coef_names}"
            ) from None

    def estimate(self, coef: str) -> float:
        return float(self.estimates[self.index(coef)])

    def std_error(self, coef: str) -> float:
        return float(self.std_errors[self.index(coef)])

    def quantiles(self, level: float = 0.95) -> np.ndarray:
        """Two-sided critical values: t with ``df`` (normal where df is infinite)."""
        p = 0.5 + level / 2
        return np.where(
            np.isfinite(self.df),
            stats.t.ppf(p, np.where(np.isfinite(self.df), self.df, 1.0)),
            stats.norm.ppf(p),
        )

    def conf_int(self, level: float = 0.95) -> np.ndarray:
        """(k, 2) array of Wald intervals estimate -/+ quantile x SE."""
        half = self.quantiles(level) * self.std_errors
        return np.column_stack([self.estimates - half, self.estimates + half])

    def p_values(self) -> np.ndarray:
        """Two-sided Wald p-values against 0 (t with ``df``, normal where df is infinite)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.abs(self.estimates / self.std_errors)
        p_t = 2 * stats.t.sf(z, np.where(np.isfinite(self.df), self.df, 1.0))
        return np.where(np.isfinite(self.df), p_t, 2 * stats.norm.sf(z))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: name, coefficients [{name, estimate, std_error, df}], n, G, loglik, notes."""

        def num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "name": self.name,
            "label": self.label,
            "coefficients": [
                {"name": n, "estimate": num(b), "std_error": num(s), "df": num(d)}
                for n, b, s, d in zip(
                    self.coef_names, self.estimates, self.std_errors, self.df, strict=True
                )
            ],
            "n_obs": self.n_obs,
            "n_clusters": self.n_clusters,
            "loglik": self.loglik,
            "notes": list(self.notes),
            "extras": {k: _jsonable(v) for k, v in self.extras.items()},
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, float | np.floating):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v
