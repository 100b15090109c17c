"""The GLMM summary, reading like ``summary(glmer)``: family and link, the quadrature used,
AIC/BIC/logLik/deviance, random effects, fixed effects with Wald z, and notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from multilevel.result.summary import Summary, Table, _f, _p, _stars

if TYPE_CHECKING:
    from multilevel.glmm.result import GlmmFit


def glmm_summary(fit: GlmmFit) -> Summary:
    method = (
        "Laplace Approximation"
        if fit.nagq == 1
        else f"Adaptive Gauss-Hermite Quadrature (nAGQ = {fit.nagq})"
    )
    heading = [
        f"Generalized linear mixed model fit by maximum likelihood ({method})",
        f"Family: {fit.family.name} ( {fit.link} )",
        f"Formula: {fit.formula}",
        f"Number of obs: {fit.n_obs}; groups: "
        + ", ".join(f"{g}, {k}" for g, k in fit.n_groups.items())
        + (f"; rows dropped for missing values: {fit.n_dropped}" if fit.n_dropped else ""),
        f"AIC: {fit.aic:.4f}   BIC: {fit.bic:.4f}   logLik: {fit.loglik:.4f}   "
        f"deviance: {fit.deviance:.4f}",
    ]
    if fit.nagq > 1:
        heading.append(
            f"lme4 prints logLik {fit.loglik_lme4:.4f} for this fit (without the saturated "
            f"model's {fit.saturated_loglik:.4f})"
        )
    max_terms = max(len(vc.terms) for vc in fit.random_effects)
    rows: list[tuple[str, ...]] = []
    for vc in fit.random_effects:
        corr = vc.correlation
        for i, term in enumerate(vc.terms):
            cells = [_f(corr[i, j], 3) for j in range(i)]
            cells += [""] * (max_terms - 1 - len(cells))
            rows.append(
                (vc.group if i == 0 else "", term, _f(vc.variances[i]), _f(vc.std_devs[i]), *cells)
            )
    corr_header = ("Corr",) + ("",) * (max_terms - 2) if max_terms > 1 else ()
    random = Table(
        "Random effects",
        ("Groups", "Name", "Variance", "Std.Dev.", *corr_header),
        tuple(rows),
        "llrr" + "r" * (max_terms - 1),
    )
    fe = fit.fixed_effects()
    fixed = Table(
        "Fixed effects",
        ("", "Estimate", "Std. Error", "z value", "Pr(>|z|)", ""),
        tuple(
            (
                name,
                _f(r.estimate),
                _f(r.std_error),
                _f(r.z_value, 3),
                _p(r.p_value),
                _stars(r.p_value),
            )
            for name, r in fe.iterrows()
        ),
        "lrrrrl",
    )
    notes = list(fit.warnings)
    if fit.icc is not None:
        notes.insert(
            0,
            "ICC on the latent scale: "
            + ", ".join(f"{g} {v:.4f}" for g, v in fit.icc.items())
            + " (tau00 / (tau00 + s2), s2 = pi^2/3 for logit, 1 for probit; multilevel.latent_icc "
            "gives an interval)",
        )
    if fit.family.name == "poisson":
        ratio = fit.dispersion_ratio
        msg = f"Pearson dispersion ratio {ratio:.3f}"
        if ratio > 1.5:
            msg += (
                ": overdispersion (the counts vary more than Poisson allows), so standard errors "
                "are too small; add an observation-level random effect (1 | obs) or use a "
                "negative binomial model"
            )
        notes.append(msg)
    notes.append(
        f"optimizer: {fit.optimization.optimizer}, {fit.optimization.n_evaluations} "
        f"evaluations, converged: {'yes' if fit.converged else 'NO'}"
        + ("; singular fit" if fit.is_singular else "")
    )
    return Summary(tuple(heading), (random, fixed), tuple(notes))
