"""The fitted model: one immutable object, built once by :mod:`multilevel.fitting` whether
the rows were in memory or read in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.design.frame import load_data
from multilevel.design.layout import ModelLayout
from multilevel.design.model import ModelDesign
from multilevel.design.random import level_label
from multilevel.errors import DataError, MultilevelError, NoRowsError
from multilevel.family import GAUSSIAN, Family
from multilevel.inference.kenward_roger import KenwardRoger, kenward_roger
from multilevel.objective.modes import TermModes
from multilevel.optimize.optimizer import OptSummary
from multilevel.result.serialize import fit_to_dict
from multilevel.result.summary import Summary
from multilevel.result.tables import FitTables

if TYPE_CHECKING:
    from multilevel.glmm.design import GlmmDesign
    from multilevel.levels.render import LevelEquations


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


def variance_components(
    terms: Sequence[Any], thetas: Sequence[np.ndarray], scale: float = 1.0
) -> tuple[VarianceComponent, ...]:
    """Var(b_j) = scale * Lambda Lambda' of each random term (scale: sigma^2 of a linear mixed
    model, 1 for a GLMM, whose family fixes the conditional variance)."""
    out = []
    for t, th in zip(terms, thetas, strict=True):
        L = t.Lambda(th)
        out.append(VarianceComponent(t.name, t.grouping_factor, t.term_names, scale * (L @ L.T)))
    return tuple(out)


class RowReader(Protocol):
    """How a fit from chunks reads its source again (for fitted values and residuals)."""

    def predict_chunks(
        self, fit: MixedFit, source: Any, chunk_rows: int
    ) -> Iterator[pd.DataFrame]: ...


@dataclass(frozen=True, eq=False)
class MixedFit(FitTables):
    """A mixed model fitted to rows in memory or to chunks: a linear mixed model by REML or ML
    (``family`` Gaussian), or a GLMM by maximum likelihood, Laplace (``nagq`` = 1) or adaptive
    Gauss-Hermite quadrature (``nagq`` > 1).

    Attributes follow the math: ``beta`` (fixed effects), ``theta`` (relative covariance factor),
    ``sigma`` (residual SD; 1 for a GLMM, whose family fixes the conditional variance),
    ``random_effects`` (the variance components), ``modes`` (conditional modes b_j of each term
    with their conditional covariances). ``layout`` is the model without its rows (names,
    levels, rows used). The row-level parts are optional: ``design`` (X, Z, y of an in-memory
    fit: fitted values, residuals, Kenward-Roger) is None for a fit from chunks, whose
    ``reader`` gives fitted values and residuals by a second pass (:meth:`predict_chunks`).

    A GLMM adds ``glmm`` (its outcome as fitted, prior weights and offset), ``loglik`` is the
    full log-likelihood (comparable across nagq and with a GLM), ``loglik_laplace`` the Laplace
    one at the estimates, ``saturated_loglik`` what lme4 leaves out for nagq > 1 (see
    :attr:`loglik_lme4`) and ``hessian`` the Hessian of the deviance in (theta, beta) that gave
    the standard errors (None when computed from the PIRLS weights, as lme4 on large data).
    """

    formula: str
    reml: bool
    layout: ModelLayout = field(repr=False)
    beta: np.ndarray
    vcov_beta: np.ndarray
    df_satterthwaite: np.ndarray  # inf for a GLMM: Wald z
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
    # ---- generalized linear mixed models (multilevel.glmm)
    family: Family = GAUSSIAN
    nagq: int = 1
    glmm: GlmmDesign | None = field(default=None, repr=False)
    loglik_laplace: float | None = None
    saturated_loglik: float | None = None
    hessian: np.ndarray | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ basics
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

    @property
    def glmm_design(self) -> GlmmDesign:
        """The GLMM's rows: outcome as fitted, prior weights (trials) and offset."""
        if self.glmm is None:
            raise MultilevelError("this is a linear mixed model, not a GLMM (family=...)")
        return self.glmm

    def _rows(self) -> ModelDesign:
        return self.design

    @property
    def y(self) -> np.ndarray:
        """The outcome as fitted (for a GLMM: 0/1, proportion of successes, or count)."""
        return self._rows().y

    @cached_property
    def linear_predictor(self) -> np.ndarray:
        """eta = X beta + Z b + offset at the conditional modes."""
        design = self._rows()
        out = design.fixed.columns.dot(self.beta)
        for t in design.terms:
            out += t.columns.rowdot(self.modes[t.name].b, t.codes)
        if design.offset is not None:  # a known part of the linear predictor (lme4)
            out += design.offset
        return out

    @property
    def fitted(self) -> np.ndarray:
        """The fitted means given the modes (as lme4's fitted): X beta + Z b for a linear mixed
        model; mu = linkinv(eta), probabilities or expected counts, for a GLMM."""
        eta = self.linear_predictor
        return self.family.linkinv(eta) if self.is_glmm else eta

    @property
    def residuals(self) -> np.ndarray:
        """y - fitted, conditional on the modes (lme4's response residuals)."""
        return self._rows().y - self.fitted

    def pearson_residuals(self) -> np.ndarray:
        """(y - mu) sqrt(w / V(mu)) with prior weights w (lme4's ``type = "pearson"``)."""
        mu = self.fitted
        w = self.glmm.weights if self.glmm is not None else self._rows().weights
        V, _ = self.family.variance(mu)
        return (self._rows().y - mu) * np.sqrt((1.0 if w is None else w) / np.maximum(V, 1e-300))

    @property
    def dispersion_ratio(self) -> float:
        """Pearson chi-square / (n - parameters), as ``performance::check_overdispersion``."""
        r = self.pearson_residuals()
        return float(np.sum(r * r) / max(self.n_obs - self.n_params, 1))

    @property
    def loglik_lme4(self) -> float:
        """lme4's logLik: the full one for linear mixed models and Laplace; for nAGQ > 1
        without the saturated model's log-likelihood (lme4 sums deviance residuals there)."""
        if self.nagq == 1 or self.saturated_loglik is None:
            return self.loglik
        return self.loglik - self.saturated_loglik

    @property
    def z_value(self) -> np.ndarray:
        """Wald z = beta / SE (the test statistic of a GLMM's fixed effects)."""
        return self.beta / self.std_errors

    @property
    def p_value(self) -> np.ndarray:
        return 2 * stats.norm.sf(np.abs(self.z_value))

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
        function, then lme4's scaled residuals); Pearson residuals r sqrt(w) of a weighted fit
        and of a GLMM, as lme4's. None for a fit from chunks."""
        if self._design is None:
            return None
        if self.is_glmm:
            return self.pearson_residuals()
        r = self.residuals / self.sigma
        if self.residual_structure is not None and self.residual_structure.variance is not None:
            r = r / self.residual_structure.sd_multipliers()
        w = self.design.weights
        return r if w is None else r * np.sqrt(w)

    def normalized_residuals(self) -> np.ndarray:
        """Sigma_j^{-1/2} (y - fitted) / sigma: approximately independent N(0, 1) when the
        residual structure is right (nlme's ``resid(type = "normalized")``)."""
        self._linear_only("normalized residuals")
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

    def _linear_only(self, what: str) -> None:
        """A clear refusal where a GLMM has no counterpart of a linear mixed model's result."""
        if self.is_glmm:
            raise MultilevelError(
                f"{what}: available for linear mixed models, not for this {self.family} GLMM"
            )

    # ------------------------------------------------------------------ prediction
    def predict(
        self,
        newdata: Any = None,
        random: Any = True,
        interval: str | None = None,
        ddf: str = "satterthwaite",
        level: float = 0.95,
        type: str = "link",
    ) -> Any:
        """Predictions X beta + Z b + offset for the random terms chosen by ``random`` (True:
        all, False: none, or a list / ``'~ (1 | g)'`` as lme4's ``re.form``); levels not seen
        in the fit get b = 0. On new data the formula's ``offset(expr)`` and an ``offset=``
        column or expression of the fit are evaluated on the new rows (lme4 drops the latter:
        :mod:`multilevel.inference.predict`). A GLMM predicts on the ``type="link"``
        scale (eta) or the ``"response"`` scale (mu). With ``interval`` ("confidence" or
        "prediction", linear mixed models) a DataFrame with fit, se_fit, df, lower, upper (see
        :mod:`multilevel.inference.predict`)."""
        if type not in ("link", "response"):
            raise ValueError(f"type must be 'link' or 'response', not {type!r}")
        if interval is not None:
            self._linear_only("prediction intervals")
            from multilevel.inference.predict import predict_frame

            return predict_frame(self, newdata, random, interval, ddf, level)
        eta = self._eta(newdata, random)
        return self.family.linkinv(eta) if type == "response" and self.is_glmm else eta

    def _eta(self, newdata: Any, random: Any) -> np.ndarray:
        """The linear predictor of the fitted rows (``newdata`` None) or of new rows."""
        from multilevel.inference.predict import chosen_terms, offset_for

        if random is not True and random is not False:
            chosen = set(chosen_terms(self, random))
        else:
            chosen = {t.name for t in self.design.terms} if random else set()
        if newdata is None and len(chosen) in (0, len(self.design.terms)):
            if chosen:
                return self.linear_predictor
            fixed = self.design.fixed.columns.dot(self.beta)
            return fixed if self.design.offset is None else fixed + self.design.offset
        df = self.design.frame.data if newdata is None else load_data(newdata)
        pred = self.design.fixed.matrix_for(df) @ self.beta
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
        return np.asarray(pred)

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
        self._linear_only("Kenward-Roger")
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

        self._linear_only("anova (F tests); compare GLMMs with multilevel.lrt")
        return anova(self, type=type, ddf=ddf)

    def emmeans(
        self, specs: Any, by: Any = None, ddf: str = "satterthwaite", level: float = 0.95
    ) -> Any:
        """Estimated marginal means (``.table()``, ``.pairs(adjust)``), as R's emmeans."""
        from multilevel.inference.emmeans import emmeans

        self._linear_only("emmeans")
        return emmeans(self, specs, by=by, ddf=ddf, level=level)

    def confint(self, method: str = "profile", level: float = 0.95, **kwargs: Any) -> pd.DataFrame:
        """Intervals for every parameter with lme4's names (wald | profile | bootstrap)."""
        from multilevel.inference.confint import confint

        self._linear_only("confint")
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
    def level_equations(self, digits: int = 4) -> LevelEquations:
        """The model as level-1 / level-2 equations (with the link on the left for a GLMM):
        :func:`multilevel.levels.level_equations`."""
        from multilevel.levels.render import level_equations

        return level_equations(self, digits=digits)

    def summary(self, ddf: str = "satterthwaite", vcov: str = "model") -> Summary:
        """lme4-style summary (lmer's, or glmer's for a GLMM): ``to_text``, ``to_markdown``,
        ``to_html``, ``to_latex``; ``vcov="CR2"`` (or CR0, CR1) adds a table with
        cluster-robust standard errors (linear mixed models)."""
        return Summary.of(self, ddf=ddf, vcov=vcov)

    def __str__(self) -> str:
        return self.summary().to_text()

    def _repr_html_(self) -> str:
        return self.summary().to_html()

    def _repr_markdown_(self) -> str:
        return self.summary().to_markdown()

    def to_dict(self, kenward_roger: bool = False) -> dict[str, Any]:
        """JSON-ready dict with the reference files' field names (Kenward-Roger columns for a
        REML fit with ``kenward_roger``; it does not apply to GLMMs and is ignored there)."""
        if kenward_roger and self._design is None:
            raise ValueError("Kenward-Roger needs the rows: this fit was computed from chunks")
        return fit_to_dict(self, kenward_roger=kenward_roger and not self.is_glmm)


#: the names of the result class before linear and generalized fits, from memory and from
#: chunks, were one class (``isinstance`` checks with any of them keep working)
LmmFit = MixedFit
GlmmFit = MixedFit
LargeFit = MixedFit


def _labels_for(df: pd.DataFrame, factors: tuple[str, ...]) -> list[str]:
    for f in factors:
        if f not in df.columns:
            raise DataError(f"new data has no column {f!r} (a grouping factor of the model)")
    cols = [df[f].map(level_label).astype(str) for f in factors]
    out = cols[0]
    for c in cols[1:]:
        out = out + ":" + c
    return out.tolist()
