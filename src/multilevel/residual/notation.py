"""The residual structure in the lecture's notation: r_ij ~ N(0, sigma^2 R_j) and what R_j is,
for the level equations (:mod:`multilevel.levels.render`) in text, Markdown and LaTeX."""

from __future__ import annotations

from typing import Any

from multilevel.residual.structures import AR1, VarIdent, VarPower


def residual_lines(fit: Any, style: str = "text", digits: int = 4) -> list[str]:
    """Lines describing Var(r_j); empty for independent residuals with one variance."""
    r = getattr(fit, "residual_structure", None)
    if r is None:
        return []
    tex = style != "text"
    group = r.model.correlation.group if r.model.correlation is not None else None
    out: list[str] = []
    if r.correlation is not None:
        t = r.correlation.time or "row order"
        kind = "AR(1)" if isinstance(r.correlation, AR1) else "continuous-time AR(1)"
        if tex:
            out.append(
                rf"r_{{ij}} \sim N(0, \sigma^2 R_j), \quad (R_j)_{{ik}} = \phi^{{|t_{{ij}} - "
                rf"t_{{kj}}|}}, \quad \phi = {r.phi:.{digits}g}"
            )
        else:
            out.append(
                f"r_ij ~ N(0, sigma^2 R_j): R_j {kind} within {group}, "
                f"corr(r_ij, r_kj) = phi^|t_ij - t_kj| (t = {t}), phi = {r.phi:.{digits}g}"
            )
    v = r.variance
    if isinstance(v, VarIdent):
        ratios = ", ".join(f"{k} {x:.{digits}g}" for k, x in (r.sd_ratios or {}).items())
        if tex:
            each = ", ".join(
                r"\delta_{\text{" + k.replace("_", r"\_") + "}} = " + f"{x:.{digits}g}"
                for k, x in (r.sd_ratios or {}).items()
            )
            out.append(r"\mathrm{SD}(r_{ij}) = \sigma \, \delta_{s(ij)}, \quad " + each)
        else:
            out.append(f"SD(r_ij) = sigma * delta[{v.by}]: {ratios}")
    elif isinstance(v, VarPower):
        cov = v.covariate or "fitted"
        assert r.model.variance is not None
        v0 = r.model.variance.v0
        if tex:
            out.append(
                rf"\mathrm{{SD}}(r_{{ij}}) = \sigma \, (|v_{{ij}}| / {v0:.{digits}g})^{{\delta}}, "
                rf"\quad \delta = {r.power:.{digits}g}"
            )
        else:
            out.append(
                f"SD(r_ij) = sigma * (|{cov}_ij| / {v0:.{digits}g})^delta, "
                f"delta = {r.power:.{digits}g}"
            )
    if r.correlation is None and out and not tex:
        out.insert(0, "r_ij ~ N(0, sigma_ij^2) independent, sigma_ij = SD(r_ij) below")
    return out
