"""Estimated marginal means and their pairwise comparisons, as R's emmeans package.

The reference grid holds every combination of the levels of the model's factors, with numeric
covariates at their means. A marginal mean of the factors in ``specs`` (within a level of the
``by`` factors) is x_bar' beta, where x_bar averages the grid's rows of X over the other factors
with equal weights. Standard errors come from Var(beta) (the Kenward-Roger adjusted one with
``ddf="kenward-roger"``, as emmeans), df from Satterthwaite or Kenward-Roger for each x_bar.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.errors import MultilevelError
from multilevel.inference.anova import ddf_method
from multilevel.inference.fitted import FittedView, fitted_view
from multilevel.inference.satterthwaite import satterthwaite
from multilevel.inference.terms import fixed_terms

if TYPE_CHECKING:
    from multilevel.result.fit import LmmFit

ADJUSTMENTS = ("tukey", "holm", "bonferroni", "none")


def parse_specs(
    specs: str | list[str] | tuple[str, ...], by: str | list[str] | None
) -> tuple[list[str], list[str]]:
    """``'~ temperature | recipe'`` -> (['temperature'], ['recipe']); lists pass through."""
    by_list = [by] if isinstance(by, str) else list(by or [])
    if isinstance(specs, str):
        text = specs.replace("pairwise", "").strip().lstrip("~").strip()
        if "|" in text:
            text, extra = text.split("|", 1)
            by_list += [b for b in re.split(r"[\s+*:]+", extra.strip()) if b]
        factors = [f for f in re.split(r"[\s+*:]+", text.strip()) if f]
    else:
        factors = list(specs)
    if not factors:
        raise MultilevelError(f"no factor named in specs {specs!r}")
    return factors, by_list


def _factor_values(fit: LmmFit) -> dict[str, list[Any]]:
    """The model's factors (variables of the fixed part that are not numeric) and their
    levels as values of the data column (categories, or the sorted distinct values of a column
    used as ``factor(x)``)."""
    data = fit.design.frame.data
    out: dict[str, list[Any]] = {}
    for term in fixed_terms(fit.design):
        for v in sorted(term.variables - term.numeric):
            if v in data.columns and v not in out:
                col = data[v]
                if isinstance(col.dtype, pd.CategoricalDtype):
                    out[v] = list(col.cat.categories)
                else:
                    out[v] = sorted(pd.unique(col.dropna()), key=_sort_key)
    return out


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float | np.number) else (1, str(value))


def _factor_levels(fit: LmmFit) -> dict[str, tuple[str, ...]]:
    """Level labels of each factor, in the model's order."""
    return {k: tuple(str(v) for v in vals) for k, vals in _factor_values(fit).items()}


def reference_grid(fit: LmmFit) -> tuple[pd.DataFrame, np.ndarray]:
    """Every combination of factor levels (covariates at their means) and its rows of X."""
    data = fit.design.frame.data
    values = _factor_values(fit)
    names = list(values)
    combos = list(itertools.product(*values.values())) if names else [()]
    frame = pd.DataFrame(combos, columns=names)
    for name in names:
        col = data[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            frame[name] = pd.Categorical(frame[name], categories=col.cat.categories)
    grid = frame.astype({n: str for n in names}) if names else frame.copy()
    response = fit.design.formula.response
    for c in data.columns:
        if c in values or c == response:
            continue
        col = data[c]
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            frame[c] = float(np.mean(col.to_numpy(dtype=float)))
        else:
            frame[c] = col.iloc[0]
    X = fit.design.fixed.matrix_for(frame)
    return grid, X


@dataclass(frozen=True)
class Emmeans:
    """Marginal means of ``specs`` within each level of ``by``: ``table()`` and ``pairs()``."""

    fit: LmmFit
    specs: tuple[str, ...]
    by: tuple[str, ...]
    ddf: str
    level: float
    cells: pd.DataFrame  # one row per mean: the specs and by columns
    L: np.ndarray  # (means, p): x_bar of each mean

    @cached_property
    def _view(self) -> FittedView:
        """The fit about its shift: far covariates at their means keep their digits there."""
        return fitted_view(self.fit)

    def _vcov(self) -> np.ndarray:
        """Var(beta~) (the fit's or Kenward-Roger's), in the coordinates of ``_view``."""
        if self.ddf == "kenward-roger":
            kr = self.fit.kenward_roger
            return kr.vcov if kr.vcov_fitted is None else kr.vcov_fitted
        return np.asarray(self._view.fit.vcov_beta, float)

    def _df(self, L: np.ndarray) -> np.ndarray:
        if self.ddf == "kenward-roger":
            kr = self.fit.kenward_roger
            return np.array([kr.contrast_df(row[None]) for row in L])
        return satterthwaite(self._view.fit._varpar, self._view.contrast(L))

    def table(self) -> pd.DataFrame:
        """Columns: the factors, then emmean, se, df, lower_cl, upper_cl."""
        est = self._view.estimate(self.L)
        se = np.sqrt(self._view.variance(self.L, self._vcov()))
        df = self._df(self.L)
        half = stats.t.ppf(0.5 + self.level / 2, df) * se
        out = self.cells.copy()
        out["emmean"], out["se"], out["df"] = est, se, df
        out["lower_cl"], out["upper_cl"] = est - half, est + half
        return out

    def pairs(self, adjust: str = "tukey") -> pd.DataFrame:
        """Every pair of means within a by group: contrast ("A - B"), the by columns, estimate,
        se, df, t_ratio, p_value (adjusted within each by group)."""
        adjust = str(adjust).lower()
        if adjust not in ADJUSTMENTS:
            raise MultilevelError(f"unknown adjust {adjust!r}: use one of {', '.join(ADJUSTMENTS)}")
        labels = _mean_labels(self.cells, list(self.specs), self.fit)
        groups = (
            self.cells.groupby(list(self.by), sort=False).indices
            if self.by
            else {(): np.arange(len(self.cells))}
        )
        rows, blocks = [], []
        V = self._vcov()
        for key, idx in groups.items():
            pairs = list(itertools.combinations(idx, 2))
            if not pairs:
                continue
            C = np.array([self.L[i] - self.L[j] for i, j in pairs])
            est = self._view.estimate(C)
            se = np.sqrt(self._view.variance(C, V))
            df = self._df(C)
            t = est / se
            p = 2 * stats.t.sf(np.abs(t), df)
            p = _adjust(p, np.abs(t), df, len(idx), adjust)
            key_t = key if isinstance(key, tuple) else (key,)
            for k, (i, j) in enumerate(pairs):
                row = {"contrast": f"{labels[i]} - {labels[j]}"}
                row.update(dict(zip(self.by, key_t, strict=True)))
                row.update(estimate=est[k], se=se[k], df=df[k], t_ratio=t[k], p_value=p[k])
                rows.append(row)
            blocks.append(len(pairs))
        cols = ["contrast", *self.by, "estimate", "se", "df", "t_ratio", "p_value"]
        return pd.DataFrame(rows, columns=cols)


def _looks_numeric(label: str) -> bool:
    try:
        float(label)
    except ValueError:
        return False
    return True


def _mean_labels(cells: pd.DataFrame, specs: list[str], fit: LmmFit) -> list[str]:
    """emmeans' labels: levels joined by a space; a factor whose levels look like numbers is
    prefixed with its name (``temperature175``) so the difference reads unambiguously."""
    prefix = {f: any(_looks_numeric(str(v)) for v in cells[f]) for f in specs}
    return [
        " ".join((f if prefix[f] else "") + str(row[f]) for f in specs)
        for _, row in cells.iterrows()
    ]


def _adjust(p: np.ndarray, t: np.ndarray, df: np.ndarray, k: int, method: str) -> np.ndarray:
    """Multiplicity adjustment within one family of pairs among k means."""
    m = p.size
    if method == "none":
        return p
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    if method == "holm":
        order = np.argsort(p)
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
        out = np.empty(m)
        out[order] = adj
        return out
    # Tukey: the studentized range of k means, |t| sqrt(2) referred to it
    return np.asarray(stats.studentized_range.sf(np.sqrt(2) * t, k, df), float)


def emmeans(
    fit: LmmFit,
    specs: str | list[str] | tuple[str, ...],
    by: str | list[str] | None = None,
    ddf: str = "satterthwaite",
    level: float = 0.95,
) -> Emmeans:
    """Marginal means of ``specs`` (within ``by``), as ``emmeans(m, specs, by)``."""
    factors, by_list = parse_specs(specs, by)
    method = ddf_method(ddf)
    if not 0 < level < 1:
        raise MultilevelError(f"level must be between 0 and 1, not {level!r}")
    grid, X = reference_grid(fit)
    for f in factors + by_list:
        if f not in grid.columns:
            known = ", ".join(grid.columns) or "none"
            raise MultilevelError(f"{f!r} is not a factor of the model's fixed part ({known})")
    keys = factors + by_list
    groups = grid.groupby(keys, sort=False).indices
    # emmeans orders the means with the first factor varying fastest, by groups outermost
    levels = _factor_levels(fit)
    order = itertools.product(
        *[levels[f] for f in reversed(by_list)], *[levels[f] for f in reversed(factors)]
    )
    cells, L = [], []
    for combo in order:
        by_vals = tuple(reversed(combo[: len(by_list)]))
        spec_vals = tuple(reversed(combo[len(by_list) :]))
        key = spec_vals + by_vals
        idx = groups[key if len(key) > 1 else key[0]]
        cells.append(dict(zip(keys, key, strict=True)))
        L.append(X[idx].mean(axis=0))
    return Emmeans(
        fit=fit,
        specs=tuple(factors),
        by=tuple(by_list),
        ddf=method,
        level=level,
        cells=pd.DataFrame(cells, columns=keys),
        L=np.array(L),
    )
