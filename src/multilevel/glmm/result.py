"""A fitted GLMM: the tables of every fit (FitTables), with Wald z tests, the family and link,
the quadrature used, and predictions on the link or response scale."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.family import Family
from multilevel.result.tables import FitTables

if TYPE_CHECKING:
    from multilevel.glmm.design import GlmmDesign
    from multilevel.objective.modes import TermModes
    from multilevel.optimize.optimizer import OptSummary
    from multilevel.result.fit import VarianceComponent
    from multilevel.result.summary import Summary

#: Pearson chi-square / residual df above this is reported as overdispersion
OVERDISPERSION_RATIO = 1.5


@dataclass(frozen=True, eq=False)
class GlmmFit(FitTables):
    """A generalized linear mixed model fitted by Laplace (nagq = 1) or adaptive
    Gauss-Hermite quadrature; ``loglik`` is the full log-likelihood (comparable across nagq
    and with a GLM), ``loglik_lme4`` the number lme4 prints."""

    formula: str
    glmm_design: GlmmDesign = field(repr=False)
    family: Family
    nagq: int
    fixed_names: tuple[str, ...]
    beta: np.ndarray
    vcov_beta: np.ndarray
    theta: np.ndarray
    theta_names: tuple[str, ...]
    random_effects: tuple[VarianceComponent, ...]
    loglik: float
    loglik_laplace: float
    saturated_loglik: float
    optimization: OptSummary
    is_singular: bool
    modes: dict[str, TermModes] = field(repr=False)
    warnings: tuple[str, ...] = ()
    hessian: np.ndarray | None = field(default=None, repr=False)

    reml = False
    sigma = 1.0  # no residual variance: the family fixes the conditional variance

    # ------------------------------------------------------------------ basics
    @property
    def design(self) -> Any:
        return self.glmm_design.base

    @property
    def y(self) -> np.ndarray:
        """The outcome as fitted: 0/1, proportion of successes, or count."""
        return self.glmm_design.y

    @property
    def link(self) -> str:
        return self.family.link

    @property
    def n_obs(self) -> int:  # type: ignore[override]
        return self.glmm_design.n

    @property
    def n_groups(self) -> dict[str, int]:  # type: ignore[override]
        return self.design.n_groups

    @property
    def n_dropped(self) -> int:  # type: ignore[override]
        return self.design.frame.n_dropped

    @property
    def response(self) -> str:
        return self.glmm_design.formula.response

    @property
    def n_params(self) -> int:
        return len(self.beta) + len(self.theta)

    @property
    def deviance(self) -> float:
        return -2.0 * self.loglik

    @property
    def loglik_lme4(self) -> float:
        """lme4's logLik: the full one for Laplace; for nAGQ > 1 without the saturated
        model's log-likelihood (lme4 sums deviance residuals there)."""
        return self.loglik if self.nagq == 1 else self.loglik - self.saturated_loglik

    @property
    def df_satterthwaite(self) -> np.ndarray:  # type: ignore[override]
        return np.full(len(self.beta), np.inf)

    @property
    def icc(self) -> dict[str, float] | None:
        """Latent-scale ICC of a null model: tau00 / (tau00 + pi^2/3) for logit (probit: 1,
        cloglog: pi^2/6); Poisson (log link): tau00 / (tau00 + log(1 + 1/exp(b0))); as
        ``performance::icc``. None for other models."""
        from multilevel.glmm.icc import distribution_variance

        if not self.is_null_model:
            return None
        try:
            s2 = distribution_variance(self)
        except ValueError:
            return None
        total = sum(float(vc.covariance[0, 0]) for vc in self.random_effects) + s2
        return {vc.group: float(vc.covariance[0, 0]) / total for vc in self.random_effects}

    def term_levels(self) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
        return [(t.name, t.grouping_factor, t.term_names, t.levels) for t in self.design.terms]

    def group_sizes(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for t in self.design.terms:
            out.setdefault(t.grouping_factor, np.bincount(t.codes, minlength=t.n_levels))
        return out

    # ------------------------------------------------------------------ tables
    def fixed_effects(  # noqa: ARG002 - one test
        self, ddf: str = "wald", vcov: str = "model", cluster: str | None = None
    ) -> pd.DataFrame:
        """Estimate, SE, Wald z and p (as ``summary(glmer)``)."""
        _model_vcov_only(vcov)
        se = self.std_errors
        z = self.beta / se
        return pd.DataFrame(
            {
                "estimate": self.beta,
                "std_error": se,
                "z_value": z,
                "p_value": 2 * stats.norm.sf(np.abs(z)),
            },
            index=pd.Index(self.fixed_names, name="term"),
        )

    @property
    def z_value(self) -> np.ndarray:
        return self.beta / self.std_errors

    @property
    def p_value(self) -> np.ndarray:
        return 2 * stats.norm.sf(np.abs(self.z_value))

    def varcorr(self) -> pd.DataFrame:
        """Variance components (no residual row: the family fixes the conditional variance)."""
        out = super().varcorr()
        return out[out["group"] != "Residual"].reset_index(drop=True)

    # ------------------------------------------------------------------ fitted values
    @cached_property
    def linear_predictor(self) -> np.ndarray:
        """eta = offset + X beta + Z b at the modes."""
        gd = self.glmm_design
        out = gd.offset + self.design.fixed.columns.dot(self.beta)
        for t in self.design.terms:
            out = out + t.columns.rowdot(self.modes[t.name].b, t.codes)
        return out

    @property
    def fitted(self) -> np.ndarray:
        """Fitted means mu (probabilities or expected counts) given the modes (lme4's fitted)."""
        return self.family.linkinv(self.linear_predictor)

    def pearson_residuals(self) -> np.ndarray:
        gd = self.glmm_design
        mu = self.fitted
        V, _ = self.family.variance(mu)
        return (gd.y - mu) * np.sqrt(gd.weights / np.maximum(V, 1e-300))

    @property
    def dispersion_ratio(self) -> float:
        """Pearson chi-square / (n - parameters), as ``performance::check_overdispersion``."""
        r = self.pearson_residuals()
        return float(np.sum(r * r) / max(self.n_obs - self.n_params, 1))

    def predict(
        self, newdata: Any = None, random: bool = True, type: str = "link", offset: Any = None
    ) -> np.ndarray:
        """Predictions on the ``link`` scale (eta) or the ``response`` scale (mu), with the
        modes of seen groups (``random=True``) or the population part only; unseen groups get
        b = 0. Offsets in the formula are evaluated on newdata; ``offset=`` adds to them."""
        from multilevel.design.frame import load_data
        from multilevel.glmm.response import _values, _vector
        from multilevel.result.fit import _labels_for

        if type not in ("link", "response"):
            raise ValueError(f"type must be 'link' or 'response', not {type!r}")
        if newdata is None:
            gd = self.glmm_design
            eta = (
                self.linear_predictor
                if random
                else gd.offset + self.design.fixed.columns.dot(self.beta)
            )
        else:
            df = load_data(newdata)
            eta = self.design.fixed.matrix_for(df) @ self.beta
            for expr in self.glmm_design.formula.offsets:
                eta = eta + _values(expr, df, "offset")
            extra = _vector(offset, df, "offset")
            if extra is not None:
                eta = eta + extra
            if random:
                for t in self.design.terms:
                    Zt = t.matrix_for(df)
                    index = {lev: i for i, lev in enumerate(t.levels)}
                    pos = np.array([index.get(lab, -1) for lab in _labels_for(df, t.factors)])
                    b = self.modes[t.name].b
                    seen = pos >= 0
                    contrib = np.zeros(len(df))
                    contrib[seen] = np.einsum("ij,ij->i", Zt[seen], b[pos[seen]])
                    eta = eta + contrib
        return eta if type == "link" else self.family.linkinv(eta)

    # ------------------------------------------------------------------ output
    def level_equations(self) -> str:
        """The model as level-1 / level-2 equations with the link (see glmm.levels)."""
        from multilevel.glmm.levels import level_equations_text

        return level_equations_text(self)

    def summary(self, ddf: str = "wald", vcov: str = "model") -> Summary:  # noqa: ARG002
        from multilevel.glmm.summary import glmm_summary

        _model_vcov_only(vcov)

        return glmm_summary(self)

    def to_dict(self, kenward_roger: bool = False) -> dict[str, Any]:  # noqa: ARG002
        """JSON-ready dict (Kenward-Roger does not apply to GLMMs: the argument is ignored)."""
        from multilevel.glmm.serialize import glmm_to_dict

        return glmm_to_dict(self)


def _model_vcov_only(vcov: str) -> None:
    """Cluster-robust SEs (vcov="CR2") are for linear mixed models (inference/robust.py)."""
    if str(vcov).lower() != "model":
        from multilevel.errors import MultilevelError

        raise MultilevelError(
            f"vcov={vcov!r}: cluster-robust standard errors are available for linear mixed "
            "models only; for a GLMM compare with glm_cluster_cr1 (multilevel compare)"
        )
