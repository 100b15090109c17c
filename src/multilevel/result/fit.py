"""The fitted model: one immutable object, built once by :mod:`multilevel.fitting` whether
the rows were in memory or read in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd

from multilevel.design.frame import load_data
from multilevel.design.layout import ModelLayout
from multilevel.design.model import ModelDesign
from multilevel.design.random import level_label
from multilevel.errors import DataError, NoRowsError
from multilevel.inference.kenward_roger import KenwardRoger, kenward_roger
from multilevel.objective.modes import TermModes
from multilevel.optimize.optimizer import OptSummary
from multilevel.result.serialize import fit_to_dict
from multilevel.result.tables import FitTables


@dataclass(frozen=True)
class VarianceComponent:
    """One random-effects block: Var(b_j) = ``covariance`` for the terms ``terms``."""

    group: str  # lme4 name: 'school', 'school.1', 'cask:batch'
    grouping_factor: str
    terms: tuple[str, ...]
    covariance: np.ndarray

    @property
    def variances(self) -> np.ndarray:
        return np.diag(self.covariance).copy()

    @property
    def std_devs(self) -> np.ndarray:
        return np.sqrt(self.variances)

    @property
    def correlation(self) -> np.ndarray:
        sd = self.std_devs
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = self.covariance / np.outer(sd, sd)
        corr[~np.isfinite(corr)] = 0.0
        np.fill_diagonal(corr, 1.0)
        return corr


class RowReader(Protocol):
    """How a fit from chunks reads its source again (for fitted values and residuals)."""

    def predict_chunks(
        self, fit: LmmFit, source: Any, chunk_rows: int
    ) -> Iterator[pd.DataFrame]: ...


@dataclass(frozen=True, eq=False)
class LmmFit(FitTables):
    """A linear mixed model fitted by REML or ML, from rows in memory or from chunks.

    Attributes follow the math: ``beta`` (fixed effects), ``theta`` (relative covariance factor),
    ``sigma`` (residual SD), ``random_effects`` (the variance components), ``modes`` (conditional
    modes b_j of each term with their conditional covariances). ``layout`` is the model without
    its rows (names, levels, rows used). The row-level parts are optional: ``design`` (X, Z, y of
    an in-memory fit: fitted values, residuals, Kenward-Roger) is None for a fit from chunks,
    whose ``reader`` gives fitted values and residuals by a second pass (:meth:`predict_chunks`).
    """

    formula: str
    reml: bool
    layout: ModelLayout = field(repr=False)
    beta: np.ndarray
    vcov_beta: np.ndarray
    df_satterthwaite: np.ndarray
    theta: np.ndarray
    sigma: float
    random_effects: tuple[VarianceComponent, ...]
    loglik: float
    optimization: OptSummary
    is_singular: bool
    modes: dict[str, TermModes] = field(repr=False)
    warnings: tuple[str, ...] = ()
    _design: ModelDesign | None = field(default=None, repr=False)
    reader: RowReader | None = field(default=None, repr=False)
    timings: dict[str, float] = field(default_factory=dict, repr=False)
    _varpar: Any = field(default=None, repr=False)
    # residual correlation / variance function (multilevel.residual.ResidualFit), None if iid
    residual_structure: Any = field(default=None, repr=False)
    # random slopes fitted about a shift: the centred fit (multilevel.design.random_shift)
    centred: Any = field(default=None, repr=False)

    # ------------------------------------------------------------------ basics
    @property
    def fixed_names(self) -> tuple[str, ...]:  # type: ignore[override]  # a field in GlmmFit
        return self.layout.fixed_names

    @property
    def theta_names(self) -> tuple[str, ...]:
        return tuple(self.layout.theta_names())

    @property
    def n_obs(self) -> int:  # type: ignore[override]  # a field in GlmmFit
        return self.layout.n_obs

    @property
    def n_groups(self) -> dict[str, int]:  # type: ignore[override]  # a field in GlmmFit
        return self.layout.n_groups

    @property
    def n_dropped(self) -> int:  # type: ignore[override]  # a field in GlmmFit
        return self.layout.n_dropped

    @property
    def dropped_by(self) -> dict[str, int]:
        """Rows dropped for a missing value, by column."""
        return dict(self.layout.dropped_by)

    @property
    def response(self) -> str:
        return self.layout.response

    @property
    def has_rows(self) -> bool:
        """Whether the rows are at hand (an in-memory fit): fitted values, residuals, KR."""
        return self._design is not None

    @property
    def design(self) -> ModelDesign:
        """y, X and the random terms of an in-memory fit (a DataError for a fit from chunks)."""
        if self._design is None:
            raise NoRowsError(
                "this fit was computed from chunks and kept no rows; fitted values and "
                "residuals come from a second pass: fit.predict_chunks(source)"
            )
        return self._design

    def _rows(self) -> ModelDesign:
        return self.design

    @property
    def y(self) -> np.ndarray:
        return self._rows().y

    @cached_property
    def fitted(self) -> np.ndarray:
        """X beta + Z b: the fixed part plus each group's conditional modes (as lme4's fitted)."""
        design = self._rows()
        out = design.fixed.columns.dot(self.beta)
        for t in design.terms:
            out += t.columns.rowdot(self.modes[t.name].b, t.codes)
        if self.design.offset is not None:  # a known part of the linear predictor (lme4)
            out += self.design.offset
        return out

    @property
    def residuals(self) -> np.ndarray:
        """y - fitted, with fitted = X beta + Z b (conditional on the modes, as lme4)."""
        return self._rows().y - self.fitted

    # ------------------------------------------------------------------ tables (FitTables)
    def term_levels(self) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
        lay = self.layout
        return [(t.name, t.grouping_factor, t.term_names, lay.levels[t.name]) for t in lay.terms]

    def group_sizes(self) -> dict[str, np.ndarray]:
        if self.layout.group_sizes is not None:
            return dict(self.layout.group_sizes)
        out: dict[str, np.ndarray] = {}
        for t in self._rows().terms:
            if t.grouping_factor not in out:
                out[t.grouping_factor] = np.bincount(t.codes, minlength=t.n_levels)
        return out

    def scaled_residuals(self) -> np.ndarray | None:
        """(y - fitted) / (sigma g_i): nlme's standardized residuals (g_i = 1 without a variance
        function, then lme4's scaled residuals); Pearson residuals r sqrt(w) of a weighted fit,
        as lme4's."""
        if self._design is None:
            return None
        r = self.residuals / self.sigma
        if self.residual_structure is not None and self.residual_structure.variance is not None:
            r = r / self.residual_structure.sd_multipliers()
        w = self.design.weights
        return r if w is None else r * np.sqrt(w)

    def normalized_residuals(self) -> np.ndarray:
        """Sigma_j^{-1/2} (y - fitted) / sigma: approximately independent N(0, 1) when the
        residual structure is right (nlme's ``resid(type = "normalized")``)."""
        r = self.residuals / self.sigma
        if self.residual_structure is None:
            return r
        return self.residual_structure.whitener()(r)

    def _kenward_roger(self) -> tuple[np.ndarray, np.ndarray]:
        if self._design is None:
            raise ValueError(
                "Kenward-Roger needs the rows of the data; this fit was computed from chunks "
                "(Satterthwaite df are given)"
            )
        kr = self.kenward_roger
        return kr.std_errors, kr.df

    # ------------------------------------------------------------------ prediction
    def predict(
        self,
        newdata: Any = None,
        random: Any = True,
        interval: str | None = None,
        ddf: str = "satterthwaite",
        level: float = 0.95,
    ) -> Any:
        """Predictions X beta + Z b for the random terms chosen by ``random`` (True: all,
        False: none, or a list / ``'~ (1 | g)'`` as lme4's ``re.form``); levels not seen in
        the fit get b = 0. An offset is included: on new data the formula's ``offset(expr)``
        and an ``offset=`` column are evaluated on the new rows (lme4 drops the latter). With
        ``interval`` ("confidence" or "prediction") a DataFrame with
        fit, se_fit, df, lower, upper (see :mod:`multilevel.inference.predict`)."""
        if interval is not None:
            from multilevel.inference.predict import predict_frame

            return predict_frame(self, newdata, random, interval, ddf, level)
        if random is not True and random is not False:
            from multilevel.inference.predict import chosen_terms

            chosen = set(chosen_terms(self, random))
        else:
            chosen = {t.name for t in self.design.terms} if random else set()
        if newdata is None and len(chosen) in (0, len(self.design.terms)):
            if chosen:
                return self.fitted
            fixed = self.design.fixed.columns.dot(self.beta)
            return fixed if self.design.offset is None else fixed + self.design.offset
        df = self.design.frame.data if newdata is None else load_data(newdata)
        pred = self.design.fixed.matrix_for(df) @ self.beta
        from multilevel.inference.predict import offset_for  # hook: the offset of the rows

        offset = offset_for(self, None if newdata is None else df)
        pred = pred if offset is None else pred + offset
        for t in self.design.terms:
            if t.name not in chosen:
                continue
            Zt = t.matrix_for(df)
            labels = _labels_for(df, t.factors)
            index = {lev: i for i, lev in enumerate(t.levels)}
            pos = np.array([index.get(lab, -1) for lab in labels])
            b = self.modes[t.name].b
            seen = pos >= 0
            contrib = np.zeros(len(df))
            contrib[seen] = np.einsum("ij,ij->i", Zt[seen], b[pos[seen]])
            pred = pred + contrib
        return pred

    def predict_chunks(self, source: Any, chunk_rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
        """Per chunk of ``source``, a DataFrame with ``fitted`` (X beta + Z b) and ``residual``,
        indexed like the chunk; NaN for rows with a missing value, b = 0 for unseen groups."""
        if self.reader is None:
            raise DataError("predict_chunks is for fits from chunks; use fit.predict(new_data)")
        return self.reader.predict_chunks(self, source, chunk_rows)

    # ------------------------------------------------------------------ inference
    @cached_property
    def kenward_roger(self) -> KenwardRoger:
        """Kenward-Roger adjusted covariance and df (REML fits), computed on first use."""
        if self.residual_structure is not None:
            raise ValueError(
                "Kenward-Roger is not available with a residual correlation or variance "
                "function; use the Satterthwaite df"
            )
        return kenward_roger(self)

    # ------------------------------------------------------------------ inference kit
    # (the logic lives in multilevel.inference; these are the front doors)
    def anova(self, type: int = 3, ddf: str = "satterthwaite") -> pd.DataFrame:
        """F tests of the fixed-effect terms as lmerTest's ``anova`` (types 1, 2, 3)."""
        from multilevel.inference.anova import anova

        return anova(self, type=type, ddf=ddf)

    def emmeans(
        self, specs: Any, by: Any = None, ddf: str = "satterthwaite", level: float = 0.95
    ) -> Any:
        """Estimated marginal means (``.table()``, ``.pairs(adjust)``), as R's emmeans."""
        from multilevel.inference.emmeans import emmeans

        return emmeans(self, specs, by=by, ddf=ddf, level=level)

    def confint(self, method: str = "profile", level: float = 0.95, **kwargs: Any) -> pd.DataFrame:
        """Intervals for every parameter with lme4's names (wald | profile | bootstrap)."""
        from multilevel.inference.confint import confint

        return confint(self, method=method, level=level, **kwargs)

    # ------------------------------------------------------------------ simulation (simulate/)
    def simulate(self, nsim: int = 1, seed: int | None = None) -> pd.DataFrame:
        """Responses drawn from the fitted model, as lme4's ``simulate``: see
        :func:`multilevel.simulate.simulate`."""
        from multilevel.simulate import simulate

        return simulate(self, nsim, seed)

    def bootstrap(
        self, nsim: int = 1000, statistic: Any = None, seed: int | None = None, **options: Any
    ) -> Any:
        """Parametric bootstrap, as lme4's ``bootMer``: see
        :func:`multilevel.simulate.bootstrap`."""
        from multilevel.simulate import bootstrap

        return bootstrap(self, nsim, statistic, seed, **options)

    # ------------------------------------------------------------------ output
    def to_dict(self, kenward_roger: bool = False) -> dict[str, Any]:
        if kenward_roger and self._design is None:
            raise ValueError("Kenward-Roger needs the rows: this fit was computed from chunks")
        return fit_to_dict(self, kenward_roger=kenward_roger)


#: the name of the result class before fits from memory and from chunks were one class
LargeFit = LmmFit


def _labels_for(df: pd.DataFrame, factors: tuple[str, ...]) -> list[str]:
    for f in factors:
        if f not in df.columns:
            raise DataError(f"new data has no column {f!r} (a grouping factor of the model)")
    cols = [df[f].map(level_label).astype(str) for f in factors]
    out = cols[0]
    for c in cols[1:]:
        out = out + ":" + c
    return out.tolist()
