"""What a fit with a residual structure reports about it: phi, SD ratios or power, as nlme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from multilevel.residual.structures import AR1, CAR1, VarIdent, VarPower
from multilevel.residual.whiten import ResidualModel, Whitener


@dataclass(frozen=True, eq=False)
class ResidualFit:
    """The estimated residual structure of a fit: ``z`` (unconstrained, the optimizer's) and the
    natural values; ``model`` holds the structures bound to the rows (for refits and residuals)."""

    correlation: AR1 | CAR1 | None
    variance: VarIdent | VarPower | None
    model: ResidualModel
    z: np.ndarray
    logdet: float  # log|Sigma| at the estimates (Sigma = diag(g) R diag(g), all groups)
    outer_evaluations: int
    outer_converged: bool
    notes: tuple[str, ...] = ()

    @property
    def n_params(self) -> int:
        return self.model.n_params

    @property
    def phi(self) -> float | None:
        c = self.model.correlation
        return None if c is None else c.phi(self.model.split(self.z)[0])

    @property
    def sd_ratios(self) -> dict[str, float] | None:
        v = self.model.variance
        if v is None or not isinstance(v.spec, VarIdent):
            return None
        zv = self.model.split(self.z)[1]
        return dict(zip(v.labels, np.exp(np.concatenate([[0.0], zv])).tolist(), strict=True))

    @property
    def power(self) -> float | None:
        v = self.model.variance
        if v is None or not isinstance(v.spec, VarPower):
            return None
        return float(self.model.split(self.z)[1][0])

    @property
    def sigma_scale_nlme(self) -> float:
        """nlme's sigma / ours: v0^-power for VarPower (nlme's SD is sigma |v|^power), else 1."""
        v = self.model.variance
        if v is None or not isinstance(v.spec, VarPower):
            return 1.0
        return float(v.v0 ** -(self.power or 0.0))

    def whitener(self) -> Whitener:
        return self.model.whitener(self.z)

    def sd_multipliers(self) -> np.ndarray:
        """g_i: the residual SD of row i is sigma * g_i."""
        w = self.whitener()
        return np.ones(0) if w.g is None else w.g

    # ---------------------------------------------------------------- output
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"residual_correlation": None, "residual_variance_function": None}
        c = self.correlation
        if c is not None:
            assert self.model.correlation is not None
            out["residual_correlation"] = {
                "structure": c.name,
                "phi": self.phi,
                "time": c.time,
                "group": self.model.correlation.group,
            }
        v = self.variance
        if isinstance(v, VarIdent):
            out["residual_variance_function"] = {
                "structure": "VarIdent",
                "by": v.by,
                "sd_ratios": self.sd_ratios,
            }
        elif isinstance(v, VarPower):
            assert self.model.variance is not None
            out["residual_variance_function"] = {
                "structure": "VarPower",
                "covariate": v.covariate or "fitted",
                "power": self.power,
                # SD_i = sigma * (|v_i| / v0)^power; nlme's sigma (SD at |v| = 1) = sigma_scale
                # times our sigma
                "v0": self.model.variance.v0,
                "sigma_scale_nlme": self.sigma_scale_nlme,
            }
        return out

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(part, structure and formula, parameter, estimate) rows, as nlme's summary prints."""
        out: list[tuple[str, str, str, str]] = []
        c = self.correlation
        if c is not None:
            assert self.model.correlation is not None
            kind = "AR(1)" if isinstance(c, AR1) else "Continuous AR(1)"
            form = f"~{c.time or 1} | {self.model.correlation.group}"
            out.append(("Correlation", f"{kind}, {form}", "Phi", f"{self.phi:.6g}"))
        v = self.variance
        if isinstance(v, VarIdent):
            ratios = self.sd_ratios or {}
            for k, (label, r) in enumerate(ratios.items()):
                out.append(
                    (
                        "Variance function" if k == 0 else "",
                        f"Different SDs per stratum, ~1 | {v.by}" if k == 0 else "",
                        f"{label}",
                        f"{r:.6g}",
                    )
                )
        elif isinstance(v, VarPower):
            assert self.model.variance is not None
            form = f"~{v.covariate or 'fitted(.)'}, relative to {self.model.variance.v0:.4g}"
            out.append(
                (
                    "Variance function",
                    f"Power of variance covariate, {form}",
                    "power",
                    f"{self.power:.6g}",
                )
            )
        return out
