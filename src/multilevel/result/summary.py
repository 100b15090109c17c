"""One summary, four renderings: the fit as small tables, written as text (like lme4's
``summary``), Markdown, HTML and LaTeX from the same intermediate rows."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from multilevel.result.fit import MixedFit


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: str  # one of 'l'/'r' per column


def _f(x: float, digits: int = 4) -> str:
    if x is None or not np.isfinite(x):
        return "NA"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e6):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}f}"


def _p(p: float) -> str:
    if not np.isfinite(p):
        return "NA"
    return "< 2e-16" if p < 2e-16 else (f"{p:.3g}" if p >= 1e-4 else f"{p:.2e}")


def _stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else ""


@dataclass(frozen=True)
class Summary:
    """The summary of a fit: heading lines, tables and notes."""

    heading: tuple[str, ...]
    tables: tuple[Table, ...]
    notes: tuple[str, ...]

    @classmethod
    def of(cls, fit: MixedFit, ddf: str = "satterthwaite", vcov: str = "model") -> Summary:
        """The summary as ``summary(lmer)`` (lmerTest's t tests) or ``summary(glmer)``
        (family, quadrature, Wald z tests) prints it."""
        glmm = fit.is_glmm
        heading = list(_title(fit, ddf))
        heading += [
            f"Formula: {fit.formula}",
            f"Number of obs: {fit.n_obs}; groups: "
            + ", ".join(f"{g}, {k}" for g, k in fit.n_groups.items())
            + (f"; rows dropped for missing values: {fit.n_dropped}" if fit.n_dropped else ""),
            *_likelihood_lines(fit),
        ]
        r = fit.scaled_residuals()
        resid = None
        if r is not None:
            q = np.quantile(r, [0, 0.25, 0.5, 0.75, 1])
            resid = Table(
                "Scaled residuals",
                ("Min", "1Q", "Median", "3Q", "Max"),
                (tuple(_f(v, 4) for v in q),),
                "rrrrr",
            )
        re_rows: list[tuple[str, ...]] = []
        max_terms = max(len(vc.terms) for vc in fit.random_effects)
        for vc in fit.random_effects:
            corr = vc.correlation
            for i, term in enumerate(vc.terms):
                cells = [_f(corr[i, j], 3) for j in range(i)]
                cells += [""] * (max_terms - 1 - len(cells))
                re_rows.append(
                    (
                        vc.group if i == 0 else "",
                        term,
                        _f(vc.variances[i]),
                        _f(vc.std_devs[i]),
                        *cells,
                    )
                )
        if not glmm:  # a GLMM's family fixes the conditional variance: no residual row
            re_rows.append(
                ("Residual", "", _f(fit.sigma**2), _f(fit.sigma), *[""] * (max_terms - 1))
            )
        corr_header = ("Corr",) + ("",) * (max_terms - 2) if max_terms > 1 else ()
        random = Table(
            "Random effects",
            ("Groups", "Name", "Variance", "Std.Dev.", *corr_header),
            tuple(re_rows),
            "llrr" + "r" * (max_terms - 1),
        )
        fe = fit.fixed_effects(ddf, vcov="model")
        if glmm:
            fixed = Table(
                "Fixed effects",
                ("", "Estimate", "Std. Error", "z value", "Pr(>|z|)", ""),
                _coefficient_rows(fe, "z_value"),
                "lrrrrl",
            )
        else:
            fixed = Table(
                "Fixed effects",
                ("", "Estimate", "Std. Error", "df", "t value", "Pr(>|t|)", ""),
                _coefficient_rows(fe, "t_value"),
                "lrrrrrl",
            )
        robust = None
        if str(vcov).lower() != "model":  # HLM's table "with robust standard errors"
            rb = fit.fixed_effects(vcov=vcov)
            robust = Table(
                f"Fixed effects with robust standard errors ({rb.attrs['vcov']}, Satterthwaite df)",
                fixed.header,
                _coefficient_rows(rb, "t_value"),
                fixed.align,
            )
        notes = list(fit.warnings)
        if fit.icc is not None:
            notes.insert(0, _icc_note(fit.icc, glmm, fit.family.name))
        if glmm and fit.family.name == "poisson":
            notes.append(_dispersion_note(fit.dispersion_ratio))
        notes.append(
            f"optimizer: {fit.optimization.optimizer}, {fit.optimization.n_evaluations} "
            f"evaluations, converged: {'yes' if fit.converged else 'NO'}"
            + ("; singular fit" if fit.is_singular else "")
        )
        if resid is None:
            notes.append(
                "scaled residuals: not shown, the fit kept no rows (predict_chunks computes "
                "fitted values and residuals in a second pass)"
            )
        tables: tuple[Table, ...] = (random, fixed) if resid is None else (resid, random, fixed)
        if robust is not None:
            tables = (*tables, robust)
        residual = getattr(fit, "residual_structure", None)  # hook: multilevel.residual
        if residual is not None:
            tables += (
                Table(
                    "Residual structure",
                    ("", "Structure", "Parameter", "Estimate"),
                    tuple(residual.rows()),
                    "lllr",
                ),
            )
        return cls(tuple(heading), tables, tuple(notes))

    # ------------------------------------------------------------------ renderings
    def to_text(self) -> str:
        """Plain text, as lme4 prints it (for files, pipes and logs)."""
        return self._render(terminal=False)

    def to_terminal(self) -> str:
        """The same text for a terminal: bold titles and headers, rules under the headers."""
        return self._render(terminal=True)

    def _render(self, terminal: bool) -> str:
        bold, plain = ("\033[1m", "\033[0m") if terminal else ("", "")
        out = [f"{bold}{self.heading[0]}{plain}", *self.heading[1:]]
        for t in self.tables:
            out.append("")
            out.append(f"{bold}{t.title}:{plain}")
            cols = list(zip(t.header, *t.rows, strict=True))
            widths = [max(len(c) for c in col) for col in cols]

            def line(cells: tuple[str, ...], widths: list[int] = widths, t: Table = t) -> str:
                parts = [
                    c.ljust(w) if a == "l" else c.rjust(w)
                    for c, w, a in zip(cells, widths, t.align, strict=True)
                ]
                return " " + " ".join(parts).rstrip()

            out.append(f"{bold}{line(t.header)}{plain}")
            if terminal:
                out.append(" " + "\u2500" * (sum(widths) + len(widths) - 1))
            out.extend(line(r) for r in t.rows)
        if any(t.title == "Fixed effects" for t in self.tables):
            out.append("---")
            out.append("Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
        if self.notes:
            out.append("")
            out.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(out)

    def to_markdown(self) -> str:
        out = [f"**{self.heading[0]}**", ""] + [f"- {h}" for h in self.heading[1:]]
        for t in self.tables:
            out += ["", f"**{t.title}**", ""]
            out.append("| " + " | ".join((h or " ").replace("|", "\\|") for h in t.header) + " |")
            out.append("|" + "|".join(":--" if a == "l" else "--:" for a in t.align) + "|")
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in t.rows]
        if self.notes:
            out += [""] + [f"> {n}" for n in self.notes]
        return "\n".join(out)

    def to_html(self) -> str:
        e = html.escape
        out = ['<div class="multilevel-summary">', f"<p><strong>{e(self.heading[0])}</strong><br>"]
        out.append("<br>".join(e(h) for h in self.heading[1:]) + "</p>")
        for t in self.tables:
            out.append(f"<table><caption>{e(t.title)}</caption><thead><tr>")
            out.append("".join(f"<th>{e(h)}</th>" for h in t.header) + "</tr></thead><tbody>")
            for r in t.rows:
                cells = "".join(
                    f'<td style="text-align:{"left" if a == "l" else "right"}">{e(c)}</td>'
                    for c, a in zip(r, t.align, strict=True)
                )
                out.append(f"<tr>{cells}</tr>")
            out.append("</tbody></table>")
        if self.notes:
            out.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in self.notes) + "</ul>")
        out.append("</div>")
        return "\n".join(out)

    def to_latex(self) -> str:
        from multilevel.report.tables import latex_escape as esc  # one escaper for all LaTeX

        out = [esc(h) + r"\\" for h in self.heading]
        for t in self.tables:
            out += [r"\begin{table}[ht]", r"\centering", f"\\caption{{{esc(t.title)}}}"]
            out.append(r"\begin{tabular}{" + t.align + "}")
            out.append(r"\hline")
            out.append(" & ".join(esc(h) for h in t.header) + r" \\ \hline")
            out += [" & ".join(esc(c) for c in r) + r" \\" for r in t.rows]
            out += [r"\hline", r"\end{tabular}", r"\end{table}"]
        out += [esc(n) + r"\\" for n in self.notes]
        return "\n".join(out)


def _title(fit: MixedFit, ddf: str) -> tuple[str, ...]:
    """The first line(s): what was fitted, and how (lmer's or glmer's heading)."""
    if fit.is_glmm:
        how = (
            "Laplace Approximation"
            if fit.nagq == 1
            else f"Adaptive Gauss-Hermite Quadrature (nAGQ = {fit.nagq})"
        )
        return (
            f"Generalized linear mixed model fit by maximum likelihood ({how})",
            f"Family: {fit.family.name} ( {fit.link} )",
        )
    method = "REML" if fit.reml else "maximum likelihood"
    ddf_name = "Kenward-Roger" if ddf.lower().startswith("k") else "Satterthwaite"
    return (f"Linear mixed model fit by {method}; t-tests use {ddf_name}'s method",)


def _likelihood_lines(fit: MixedFit) -> tuple[str, ...]:
    """The criteria: REML criterion or deviance with logLik, AIC and BIC; for a GLMM with
    nagq > 1 also the logLik lme4 prints (without the saturated model's)."""
    if fit.is_glmm:
        line = (
            f"AIC: {fit.aic:.4f}   BIC: {fit.bic:.4f}   logLik: {fit.loglik:.4f}   "
            f"deviance: {-2 * fit.loglik:.4f}"
        )
        if fit.nagq == 1:
            return (line,)
        return (
            line,
            f"lme4 prints logLik {fit.loglik_lme4:.4f} for this fit (without the saturated "
            f"model's {fit.saturated_loglik:.4f})",
        )
    crit = (
        f"REML criterion at convergence: {-2 * fit.loglik:.4f}"
        if fit.reml
        else f"deviance: {-2 * fit.loglik:.4f}"
    )
    return (f"{crit}   logLik: {fit.loglik:.4f}   AIC: {fit.aic:.4f}   BIC: {fit.bic:.4f}",)


def _icc_note(icc: dict[str, float], latent: bool, family: str = "gaussian") -> str:
    values = ", ".join(f"{g} {v:.4f}" for g, v in icc.items())
    if latent and family == "poisson":
        return (
            f"ICC: {values} (tau00 / (tau00 + s2), s2 = log(1 + 1/mu) of the null model, as "
            "performance::icc)"
        )
    if latent:
        return (
            f"ICC on the latent scale: {values} (tau00 / (tau00 + s2), s2 = pi^2/3 for logit, "
            "1 for probit, pi^2/6 for cloglog; multilevel.latent_icc gives an interval)"
        )
    return f"ICC: {values} (share of the total variance that lies between groups)"


#: Pearson chi-square / residual df above this is reported as overdispersion
OVERDISPERSION_RATIO = 1.5


def _dispersion_note(ratio: float) -> str:
    msg = f"Pearson dispersion ratio {ratio:.3f}"
    if ratio > OVERDISPERSION_RATIO:
        msg += (
            ": overdispersion (the counts vary more than Poisson allows), so standard errors "
            "are too small; add an observation-level random effect (1 | obs) or use a "
            "negative binomial model"
        )
    return msg


def _coefficient_rows(fe: Any, test: str) -> tuple[tuple[str, ...], ...]:
    """One printed row per fixed effect: estimate, SE, (df,) t or z, p and stars, as lmerTest
    and glmer print them."""
    return tuple(
        (
            str(name),
            _f(row.estimate),
            _f(row.std_error),
            *((_f(row.df, 2),) if test == "t_value" else ()),
            _f(getattr(row, test), 3),
            _p(row.p_value),
            _stars(row.p_value),
        )
        for name, row in fe.iterrows()
    )
