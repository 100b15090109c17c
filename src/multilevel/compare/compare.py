"""``compare_estimators``: the lecture's alternatives to a multilevel model, side by side.

All estimators fit the same mean model (the fixed part of the lme4 formula) to the same rows,
with the formula's grouping factor as the cluster. The result holds each estimator's
:class:`EstimatorResult` and one tidy table (see :mod:`multilevel.compare.table`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from multilevel.compare.data import ClusteredData, clustered_data
from multilevel.compare.fixed_effects import fixed_effects
from multilevel.compare.gee import gee
from multilevel.compare.multilevel_estimator import multilevel_model
from multilevel.compare.ols import ols, ols_cluster
from multilevel.compare.one_per_group import one_per_group
from multilevel.compare.plot import forest_plot
from multilevel.compare.protocol import EstimatorResult
from multilevel.compare.table import comparison_table, format_table

KISH_NOTE = (
    "1 + (mean cluster size - 1) x ICC, with the ICC of this model given its predictors (the "
    "residual ICC); `multilevel icc` uses the null model's ICC, so its design effect differs "
    "when the predictors explain between-cluster variance"
)

#: the default estimators, in table order (``ols_cluster_cr2`` is available on request)
DEFAULT_ESTIMATORS = (
    "ols",
    "ols_cluster_cr0",
    "ols_cluster_hc0",
    "ols_cluster_cr1",
    "fixed_effects",
    "gee_exchangeable",
    "gee_independence",
    "one_per_group",
    "multilevel",
)
ALL_ESTIMATORS = (*DEFAULT_ESTIMATORS[:4], "ols_cluster_cr2", *DEFAULT_ESTIMATORS[4:])


def estimator_functions(
    draws: int = 100, seed: Any = 0, reml: bool = True
) -> dict[str, Callable[[ClusteredData], EstimatorResult]]:
    """name -> function of :class:`ClusteredData` returning an :class:`EstimatorResult`."""
    return {
        "ols": ols,
        "ols_cluster_cr0": partial(ols_cluster, kind="CR0"),
        "ols_cluster_hc0": partial(ols_cluster, kind="HC0"),
        "ols_cluster_cr1": partial(ols_cluster, kind="CR1"),
        "ols_cluster_cr2": partial(ols_cluster, kind="CR2"),
        "fixed_effects": fixed_effects,
        "gee_exchangeable": partial(gee, corstr="exchangeable"),
        "gee_independence": partial(gee, corstr="independence"),
        "one_per_group": partial(one_per_group, draws=draws, seed=seed),
        "multilevel": partial(multilevel_model, reml=reml),
    }


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in ALL_ESTIMATORS]
    if unknown:
        raise ValueError(f"unknown estimator(s) {unknown}; choose from {list(ALL_ESTIMATORS)}")
    return tuple(names)


@dataclass(frozen=True)
class Comparison:
    """Each estimator's result on one data set, and the tidy table built from them.

    ``table`` has one row per estimator and coefficient: estimate, std_error, df, ci_lower,
    ci_upper, p_value, se_ratio (SE / multilevel SE) and design_effect ((SE / naive OLS SE)^2, the
    variance inflation that clustering brings relative to treating rows as independent).
    ``kish_design_effect`` is 1 + (mean cluster size - 1) x ICC from the multilevel fit.
    """

    formula: str
    cluster: str
    n_obs: int
    n_clusters: int
    results: tuple[EstimatorResult, ...]
    table: pd.DataFrame
    level: float
    kish_design_effect: float | None
    predictor_levels: dict[str, str] = field(default_factory=dict)
    explanation: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> EstimatorResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no estimator {name!r}; have {[r.name for r in self.results]}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """``{"estimators": [{"name", "coefficients": [{"name", "estimate", "std_error"}]}]}``."""
        return {
            "formula": self.formula,
            "cluster": self.cluster,
            "n_obs": self.n_obs,
            "n_clusters": self.n_clusters,
            "level": self.level,
            "kish_design_effect": self.kish_design_effect,
            "kish_design_effect_note": KISH_NOTE if self.kish_design_effect is not None else None,
            "predictor_levels": dict(self.predictor_levels),
            "explanation": list(self.explanation),
            "estimators": [r.to_dict() for r in self.results],
        }

    def to_text(self) -> str:
        head = (
            f"{self.formula}\n{self.n_obs} observations in {self.n_clusters} clusters "
            f"({self.cluster})"
        )
        if self.kish_design_effect is not None:
            head += f"; Kish design effect 1 + (m-1) ICC = {self.kish_design_effect:.3f}"
        notes = [f"  {r.name}: {n}" for r in self.results for n in r.notes]
        if self.kish_design_effect is not None:
            notes.append(f"  design effect: {KISH_NOTE}")
        why = [f"  - {w}" for w in self.explanation]
        text = head + "\n\n" + format_table(self.table)
        if why:
            text += "\n\nWhy the estimates and SEs differ:\n" + "\n".join(why)
        return text + "\n\nNotes:\n" + "\n".join(notes)

    def __str__(self) -> str:
        return self.to_text()

    def plot(self, **kwargs: Any):
        """Forest plot (matplotlib Figure); see :func:`multilevel.compare.plot.forest_plot`."""
        return forest_plot(self, **kwargs)


def compare_estimators(
    data: Any,
    formula: str,
    group: str | None = None,
    *,
    estimators: Sequence[str] = DEFAULT_ESTIMATORS,
    draws: int = 100,
    seed: Any = 0,
    reml: bool = True,
    level: float = 0.95,
    family: str | None = None,
) -> Comparison:
    """Fit the lecture's alternatives and the multilevel model to one data set.

    ``formula`` is an lme4 formula with one clustering factor, e.g.
    ``"mathach ~ cses + meanses + catholic + (1 | school)"``; its fixed part is the mean model
    of every estimator. ``draws``/``seed`` control the one-row-per-cluster estimator.
    ``family="binomial"`` (0/1 outcome) compares glm, glm_cluster_cr0/cr1, binomial GEE,
    one row per group and the multilevel logistic model (:mod:`multilevel.compare.glm`).

    >>> import multilevel
    >>> from multilevel.compare import compare_estimators
    >>> c = compare_estimators(multilevel.datasets.hsb(),
    ...                        "mathach ~ cses + meanses + (1 | school)")
    >>> c["ols"].std_error("meanses") < c["multilevel"].std_error("meanses")
    True
    """
    if family is not None and family != "gaussian":  # hook: binary outcomes (#12, glmm)
        if family != "binomial":
            raise ValueError(f"compare supports family 'binomial' (or gaussian), not {family!r}")
        from multilevel.compare.glm import compare_binomial

        return compare_binomial(data, formula, group, estimators, draws, seed, level)
    names = check_names(estimators)
    data_ = clustered_data(data, formula, group)
    funcs = estimator_functions(draws=draws, seed=seed, reml=reml)
    results = tuple(funcs[n](data_) for n in names)
    kish = None
    ml = [r for r in results if r.name == "multilevel"]
    if ml and "icc" in ml[0].extras:
        kish = 1.0 + (data_.n / data_.n_clusters - 1.0) * float(ml[0].extras["icc"])
    from multilevel.compare.explain import explanation, predictor_levels

    formula_text = data_.design.formula.text if data_.design is not None else formula
    return Comparison(
        formula=formula_text,
        cluster=data_.cluster_name,
        n_obs=data_.n,
        n_clusters=data_.n_clusters,
        results=results,
        table=comparison_table(results, level=level),
        level=level,
        kish_design_effect=kish,
        predictor_levels=predictor_levels(data_),
        explanation=explanation(data_, results),
    )


def se_ratio(comparison: Comparison, coef: str, name: str, base: str = "multilevel") -> float:
    """SE of ``coef`` under estimator ``name`` divided by its SE under ``base``."""
    return float(comparison[name].std_error(coef) / comparison[base].std_error(coef))


__all__ = ["Comparison", "compare_estimators", "se_ratio", "DEFAULT_ESTIMATORS", "ALL_ESTIMATORS"]
