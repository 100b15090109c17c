"""The tables of a fitted model (:class:`~multilevel.result.fit.MixedFit`), linear
or generalized, fitted from rows in memory or from chunked cross-products: neither the family
nor the source of the data changes what a user can ask of the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.errors import MultilevelError
from multilevel.result.criteria import LikelihoodCriteria


class FitTables(LikelihoodCriteria):
    """Mixin: fixed effects, variance components and conditional modes.

    Subclasses give :meth:`term_levels` (the levels of each random term) and, when the rows
    are at hand, :meth:`scaled_residuals` and Kenward-Roger through :meth:`_kenward_roger`.
    """

    formula: str
    df_satterthwaite: np.ndarray
    modes: dict[str, Any]
    warnings: tuple[str, ...]
    is_singular: bool

    def term_levels(self) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
        """(name, grouping factor, term names, level labels) of each random term."""
        raise NotImplementedError

    def group_sizes(self) -> dict[str, np.ndarray]:
        """Rows per level of each grouping factor."""
        raise NotImplementedError

    def scaled_residuals(self) -> np.ndarray | None:
        """(y - fitted) / sigma, or None when the fit did not keep the rows."""
        return None

    def _kenward_roger(self) -> tuple[np.ndarray, np.ndarray]:
        """Kenward-Roger standard errors and df."""
        raise ValueError("Kenward-Roger needs the rows of the data: use multilevel.fit")

    def fixed_effects(
        self, ddf: str = "satterthwaite", vcov: str = "model", cluster: str | None = None
    ) -> pd.DataFrame:
        """Estimate, SE, t, df, p per fixed effect (``ddf``: satterthwaite | kenward-roger);
        for a GLMM estimate, SE, Wald z and p (as ``summary(glmer)``; ``ddf`` does not apply).

        ``vcov="CR0" | "CR1" | "CR2"``: cluster-robust SEs with clubSandwich's Satterthwaite df
        (by the model's grouping factor or ``cluster``; multilevel.inference.robust; linear
        mixed models).
        """
        if self.is_glmm:
            return self._wald_z_table(vcov)
        if str(vcov).lower() != "model":
            from multilevel.inference.robust import robust_table

            return robust_table(self, vcov, cluster)  # type: ignore[arg-type]
        if ddf.lower().replace("_", "-") in ("kenward-roger", "kr"):
            se, df = self._kenward_roger()
        elif ddf.lower() == "satterthwaite":
            se, df = self.std_errors, self.df_satterthwaite
        else:
            raise ValueError(f"ddf must be 'satterthwaite' or 'kenward-roger', not {ddf!r}")
        t = self.beta / se
        p = 2 * stats.t.sf(np.abs(t), df)
        return pd.DataFrame(
            {"estimate": self.beta, "std_error": se, "t_value": t, "df": df, "p_value": p},
            index=pd.Index(self.fixed_names, name="term"),
        )

    def _wald_z_table(self, vcov: str) -> pd.DataFrame:
        if str(vcov).lower() != "model":
            raise MultilevelError(
                f"vcov={vcov!r}: cluster-robust standard errors are available for linear mixed "
                "models only; for a GLMM compare with glm_cluster_cr1 (multilevel compare)"
            )
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

    def varcorr(self) -> pd.DataFrame:
        """Variance components as lme4's ``as.data.frame(VarCorr(m))`` (variances, then covs;
        no residual row for a GLMM, whose family fixes the conditional variance)."""
        rows: list[tuple[str, str | None, str | None, float, float]] = []
        for vc in self.random_effects:
            for i, ti in enumerate(vc.terms):
                rows.append((vc.group, ti, None, vc.covariance[i, i], vc.std_devs[i]))
            for j in range(len(vc.terms)):
                for i in range(j + 1, len(vc.terms)):
                    rows.append(
                        (
                            vc.group,
                            vc.terms[i],
                            vc.terms[j],
                            vc.covariance[i, j],
                            vc.correlation[i, j],
                        )
                    )
        if not self.is_glmm:
            rows.append(("Residual", None, None, self.sigma**2, self.sigma))
        return pd.DataFrame(rows, columns=["group", "var1", "var2", "vcov", "sdcor"])

    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes per term: a levels x terms DataFrame (lme4's ``ranef``)."""
        return {
            name: pd.DataFrame(
                self.modes[name].b, index=pd.Index(levels, name=factor), columns=list(terms)
            )
            for name, factor, terms, levels in self.term_levels()
        }

    def ranef_table(self) -> pd.DataFrame:
        """Long format as ``as.data.frame(ranef(m, condVar = TRUE))``:
        grpvar, term, grp, condval, condsd (named group, term, level, condval, condsd)."""
        frames = []
        for name, factor, terms, levels in self.term_levels():
            m = self.modes[name]
            for k, term in enumerate(terms):
                frames.append(
                    pd.DataFrame(
                        {
                            "group": factor,
                            "term": term,
                            "level": list(levels),
                            "condval": m.b[:, k],
                            "condsd": np.sqrt(np.maximum(m.cond_var[:, k, k], 0.0)),
                        }
                    )
                )
        return pd.concat(frames, ignore_index=True)
