"""APA-style tables to paste into papers: fixed effects, random effects, model comparison.

Each table is one :class:`ApaTable` (raw numbers plus how to format each column) rendered five
ways from the same cells: text, Markdown, LaTeX (booktabs), HTML and CSV. CSV keeps the raw
numbers at full precision; the other renderings follow APA style (p without a leading zero,
"< .001", 95% CI in brackets, a "Note." line under the table). Numbers get two decimals or as
many more as keep two significant digits; an estimate is shown with the decimals of its SE, so
b = -0.0123 (SE 0.0051) does not become -0.01 (0.01).
"""

from __future__ import annotations

import html
import io
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

# ------------------------------------------------------------------ formatting
#: most decimals shown before switching to scientific notation
MAX_DECIMALS = 6


def decimals_for(x: Any, digits: int = 2, significant: int = 2) -> int:
    """Decimals that show ``x`` with at least ``significant`` significant digits (and at least
    ``digits`` decimals); more than MAX_DECIMALS means: use scientific notation."""
    try:
        v = abs(float(x))
    except (TypeError, ValueError):
        return digits
    if not math.isfinite(v) or v == 0:
        return digits
    return max(digits, significant - 1 - math.floor(math.log10(v)))


def fmt_num(x: Any, digits: int = 2, decimals: int | None = None) -> str:
    """A number with ``digits`` decimals, or more to keep two significant digits (``decimals``
    forces a count); '—' for missing; scientific for tiny or huge values."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if not math.isfinite(x):
        return "—"
    d = decimals_for(x, digits) if decimals is None else max(decimals, digits)
    if x != 0 and (d > MAX_DECIMALS or abs(x) >= 1e6):
        return f"{x:.{max(digits - 1, 1)}e}"
    return f"{x:.{d}f}"


def fmt_p(p: Any) -> str:
    """APA p-value: three decimals without the leading zero, '< .001' below that."""
    if p is None or not math.isfinite(float(p)):
        return "—"
    p = float(p)
    if p < 0.001:
        return "< .001"
    return f"{p:.3f}".lstrip("0") if p < 1 else "1.000"


def fmt_r(r: Any) -> str:
    """A correlation: two decimals, no leading zero (bounded by 1)."""
    if r is None or not math.isfinite(float(r)):
        return "—"
    s = f"{float(r):.2f}"
    return s.replace("0.", ".", 1) if abs(float(r)) < 1 else s


FORMATS: dict[str, Callable[[Any], str]] = {
    "text": lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v),
    "num": fmt_num,
    "num3": lambda v: fmt_num(v, 3),
    "int": lambda v: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v)),
    "size": lambda v: fmt_num(v) if v is None or not math.isfinite(float(v)) else f"{float(v):g}",
    "p": fmt_p,
    "r": fmt_r,
}


@dataclass(frozen=True)
class Column:
    """A displayed column: header and cells made from one or two raw columns.

    ``like`` names the raw column (a standard error) whose decimals a number, a CI or an
    ``estse`` cell ("b (SE)", key = "estimate,se", stars from ``p`` = the p-value column) uses.
    """

    header: str
    key: str
    kind: str = "num"  # text | num | num3 | int | size | p | r | ci | estse
    align: str = "r"
    like: str | None = None
    p: str | None = None


def _stars(p: Any) -> str:
    if p is None or not math.isfinite(float(p)):
        return ""
    p = float(p)
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


@dataclass(frozen=True)
class ApaTable:
    """Raw rows (``data``, exported as CSV) and the formatted columns shown in a paper."""

    name: str  # short name, used for file names: fixed_effects, random_effects, ...
    title: str
    data: pd.DataFrame
    columns: tuple[Column, ...]
    note: str = ""

    def cells(self) -> list[list[str]]:
        out = []
        for _, row in self.data.iterrows():
            cells = []
            for c in self.columns:
                d = decimals_for(row[c.like]) if c.like else None
                if c.kind == "ci":
                    lo, hi = (row[k] for k in c.key.split(","))
                    ok = all(v is not None and math.isfinite(float(v)) for v in (lo, hi))
                    cells.append(
                        f"[{fmt_num(lo, decimals=d)}, {fmt_num(hi, decimals=d)}]" if ok else "—"
                    )
                elif c.kind == "estse":
                    b, se = (row[k] for k in c.key.split(","))
                    if b is None or not math.isfinite(float(b)):
                        cells.append("")
                        continue
                    d = decimals_for(se) if se is not None and math.isfinite(float(se)) else None
                    stars = _stars(row[c.p]) if c.p else ""
                    cell = fmt_num(b, decimals=d) + stars
                    if se is not None and math.isfinite(float(se)):
                        cell += f" ({fmt_num(se, decimals=d)})"
                    cells.append(cell)
                elif c.kind == "num" and d is not None:
                    cells.append(fmt_num(row[c.key], decimals=d))
                else:
                    cells.append(FORMATS[c.kind](row[c.key]))
            out.append(cells)
        return out

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def to_text(self, width: int = 100) -> str:
        """Fixed-width columns under the title, the note wrapped below."""
        head, rows = self.headers, self.cells()
        widths = [
            max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
        ]

        def line(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if col.align == "l" else c.rjust(w)
                for c, w, col in zip(cells, widths, self.columns, strict=True)
            ).rstrip()

        rule = "-" * min(max(len(line(head)), len(self.title)), width)
        out = [self.title, rule, line(head), rule, *(line(r) for r in rows), rule]
        if self.note:
            out += textwrap.wrap(f"Note. {self.note}", width)
        return "\n".join(out)

    def to_markdown(self) -> str:
        def esc(s: str) -> str:
            return s.replace("|", "\\|")

        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(map(esc, self.headers)) + " |",
            "|" + "|".join(":--" if c.align == "l" else "--:" for c in self.columns) + "|",
        ]
        lines += ["| " + " | ".join(map(esc, r)) + " |" for r in self.cells()]
        if self.note:
            lines += ["", f"*Note.* {self.note}"]
        return "\n".join(lines)

    def to_latex(self) -> str:
        align = "".join(c.align for c in self.columns)
        lines = [
            r"\begin{table}[ht]",
            r"\centering",
            rf"\caption{{{latex_escape(self.title)}}}",
            rf"\begin{{tabular}}{{{align}}}",
            r"\toprule",
            " & ".join(latex_escape(h) for h in self.headers) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(latex_escape(c) for c in r) + r" \\" for r in self.cells()]
        lines += [r"\bottomrule", r"\end{tabular}"]
        if self.note:
            lines.append(
                rf"\par\smallskip{{\footnotesize\textit{{Note.}} "
                rf"{latex_escape(self.note)}}}"
            )
        lines.append(r"\end{table}")
        return "\n".join(lines)

    def to_html(self) -> str:
        e = html.escape
        out = [
            f'<table class="apa" id="table-{e(self.name)}">',
            f"<caption>{e(self.title)}</caption>",
            "<thead><tr>",
        ]
        out.append("".join(f'<th class="{c.align}">{e(c.header)}</th>' for c in self.columns))
        out.append("</tr></thead><tbody>")
        for r in self.cells():
            out.append(
                "<tr>"
                + "".join(
                    f'<td class="{c.align}">{e(v)}</td>'
                    for c, v in zip(self.columns, r, strict=True)
                )
                + "</tr>"
            )
        out.append("</tbody></table>")
        if self.note:
            out.append(f'<p class="table-note"><em>Note.</em> {e(self.note)}</p>')
        return "\n".join(out)

    def to_csv(self, path: str | Path | None = None) -> str:
        """The raw rows as CSV (full precision); also written to ``path`` if given."""
        buf = io.StringIO()
        self.data.to_csv(buf, index=False, lineterminator="\n")
        if path is not None:
            from multilevel.report.files import atomic_write

            atomic_write(path, buf.getvalue())
        return buf.getvalue()

    def render(self, fmt: str) -> str:
        return {
            "text": self.to_text,
            "markdown": self.to_markdown,
            "latex": self.to_latex,
            "html": self.to_html,
            "csv": self.to_csv,
        }[fmt]()


def latex_escape(s: str) -> str:
    out = []
    for ch in s:
        out.append(
            {
                "\\": r"\textbackslash{}",
                "_": r"\_",
                "%": r"\%",
                "&": r"\&",
                "#": r"\#",
                "^": r"\textasciicircum{}",
                "$": r"\$",
                "{": r"\{",
                "}": r"\}",
                "~": r"\textasciitilde{}",
                "|": r"\textbar{}",
                "σ": r"$\sigma$",
                "τ": r"$\tau$",
                "γ": r"$\gamma$",
                "<": r"$<$",
                ">": r"$>$",
                "—": "---",
                "χ": r"$\chi$",
                "²": r"$^2$",
            }.get(ch, ch)
        )
    return "".join(out)


# ------------------------------------------------------------------ the tables


def _glmm_method(fit: Any) -> str:
    return f"ML ({fit.integration}) estimates of a {fit.family.name} GLMM ({fit.link} link)"


def fixed_effects_table(fit: Any, ddf: str = "satterthwaite", level: float = 0.95) -> ApaTable:
    """b, SE, CI, test statistic and p for each fixed effect: t with the chosen denominator
    df (linear mixed models), or Wald z with a normal CI for a GLMM, as ``summary(glmer)``."""
    glmm = fit.is_glmm
    fe = fit.fixed_effects(ddf)  # Wald z for a GLMM, t with ddf for a linear mixed model
    fe = fe.reset_index()
    if glmm:
        q = stats.norm.ppf(0.5 + level / 2)
        test = [Column("z", "z_value")]
        note = f"{_glmm_method(fit)}; N = {fit.n_obs}. Wald z tests and CIs, as glmer's summary."
        title = f"Fixed effects for {fit.response} ({fit.link} scale)"
    else:
        q = stats.t.ppf(0.5 + level / 2, fe["df"].to_numpy())
        test = [Column("t", "t_value"), Column("df", "df")]
        ddf_name = "Kenward-Roger" if ddf.lower().startswith("k") else "Satterthwaite"
        note = f"{fit.method} estimates; N = {fit.n_obs}. df and p by {ddf_name}'s method."
        title = f"Fixed effects for {fit.response}"
    fe["ci_lower"] = fe["estimate"] - q * fe["std_error"]
    fe["ci_upper"] = fe["estimate"] + q * fe["std_error"]
    keys = ["term", "estimate", "std_error", "ci_lower", "ci_upper"]
    fe = fe[keys + [c.key for c in test] + ["p_value"]]
    pct = f"{100 * level:g}%"
    return ApaTable(
        "fixed_effects",
        title,
        fe,
        (
            Column("Predictor", "term", "text", "l"),
            Column("b", "estimate", like="std_error"),
            Column("SE", "std_error", like="std_error"),
            Column(f"{pct} CI", "ci_lower,ci_upper", "ci", like="std_error"),
            *test,
            Column("p", "p_value", "p"),
        ),
        note,
    )


def random_effects_table(fit: Any) -> ApaTable:
    """Variance and SD of each random effect and the residual; correlations between them."""
    vc = fit.varcorr()
    rows = []
    for _, r in vc.iterrows():
        if r["group"] == "Residual":
            rows.append(
                {
                    "group": "Residual",
                    "term": "",
                    "variance": r["vcov"],
                    "sd": r["sdcor"],
                    "correlation": np.nan,
                }
            )
        elif pd.isna(r["var2"]):
            rows.append(
                {
                    "group": r["group"],
                    "term": r["var1"],
                    "variance": r["vcov"],
                    "sd": r["sdcor"],
                    "correlation": np.nan,
                }
            )
        else:
            rows.append(
                {
                    "group": r["group"],
                    "term": f"{r['var1']} with {r['var2']}",
                    "variance": r["vcov"],
                    "sd": np.nan,
                    "correlation": r["sdcor"],
                }
            )
    data = pd.DataFrame(rows, columns=["group", "term", "variance", "sd", "correlation"])
    groups = "; ".join(f"{g}: {k} groups" for g, k in fit.n_groups.items())
    note = f"Rows 'a with b' give the covariance and correlation. {groups}."
    if fit.is_glmm:
        from multilevel.levels.render import level1_variance_note

        note += f" No residual row: {level1_variance_note(fit)}."
    if fit.icc is not None:
        note += " ICC = " + ", ".join(f"{v:.3f} ({g})" for g, v in fit.icc.items()) + "."
    return ApaTable(
        "random_effects",
        f"Random effects for {fit.response}",
        data,
        (
            Column("Group", "group", "text", "l"),
            Column("Effect", "term", "text", "l"),
            Column("Variance", "variance"),
            Column("SD", "sd"),
            Column("r", "correlation", "r"),
        ),
        note,
    )


def residual_structure_table(fit: Any) -> ApaTable | None:
    """The residual correlation and variance function of a fit (``correlation=`` /
    ``variance=``) as nlme's summary prints them: AR(1) or continuous AR(1) with its Phi, SD
    ratios per stratum (VarIdent; the reference stratum 1), or the power (VarPower). None for
    independent residuals with one variance."""
    r = getattr(fit, "residual_structure", None)
    if r is None:
        return None
    from multilevel.residual.structures import AR1, VarIdent, VarPower

    rows: list[dict[str, Any]] = []
    c = r.correlation
    if c is not None:
        kind = "AR(1)" if isinstance(c, AR1) else "Continuous AR(1)"
        group = r.model.correlation.group
        rows.append(
            {
                "part": "Correlation structure",
                "structure": kind,
                "formula": f"~{c.time or 1} | {group}",
                "parameter": "Phi",
                "estimate": float(r.phi),
            }
        )
    v = r.variance
    if isinstance(v, VarIdent):
        for k, (label, ratio) in enumerate((r.sd_ratios or {}).items()):
            rows.append(
                {
                    "part": "Variance function" if k == 0 else "",
                    "structure": "Different SDs per stratum" if k == 0 else "",
                    "formula": f"~1 | {v.by}" if k == 0 else "",
                    "parameter": str(label),
                    "estimate": float(ratio),
                }
            )
    elif isinstance(v, VarPower):
        rows.append(
            {
                "part": "Variance function",
                "structure": "Power of variance covariate",
                "formula": f"~{v.covariate or 'fitted(.)'}",
                "parameter": "power",
                "estimate": float(r.power),
            }
        )
    if not rows:
        return None
    note = "As nlme's summary. "
    if c is not None:
        note += (
            "Phi = correlation of two residuals of one group one time unit apart "
            "(Phi^|t - t'| further apart). "
        )
    sigma = f"σ = {float(fit.sigma):.4g}"
    if isinstance(v, VarIdent):
        note += (
            "SD ratios: residual SD of each stratum / that of the reference stratum (1); "
            f"{sigma} is the reference stratum's residual SD."
        )
    elif isinstance(v, VarPower):
        v0 = r.model.variance.v0
        note += (
            f"Residual SD = σ (|v| / {v0:.4g})^power with {sigma}; nlme's σ (the SD at "
            f"|v| = 1) is {r.sigma_scale_nlme:.6g} × ours."
        )
    else:
        note += f"Residual SD {sigma}."
    return ApaTable(
        "residual_structure",
        f"Residual structure for {fit.response}",
        pd.DataFrame(rows, columns=["part", "structure", "formula", "parameter", "estimate"]),
        (
            Column("Part", "part", "text", "l"),
            Column("Structure", "structure", "text", "l"),
            Column("Formula", "formula", "text", "l"),
            Column("Parameter", "parameter", "text", "l"),
            Column("Estimate", "estimate", "num3"),
        ),
        note,
    )


def model_comparison_table(models: Any) -> ApaTable:
    """Fit statistics per model with the LRT against the previous one (a ladder), or fit
    statistics alone (a list of (label, fit)).

    For a ladder, logLik, AIC and BIC are those of the ML fits (REML fits refitted by ML): the
    likelihoods the tests compare, so that chi-square = 2 x the difference of the printed
    logLik. REML likelihoods of models with different fixed parts are not comparable.
    """
    from multilevel.ladder.lrt import ml_fit

    ladder = hasattr(models, "steps")
    if ladder:
        pairs = [(s.step, s.fit) for s in models.steps]
        tests = {t.model_full: t for t in models.tests}
    else:
        pairs, tests = [(str(a), f) for a, f in models], {}
    any_reml = any(f.reml for _, f in pairs)
    rows = []
    for label, f in pairs:
        t = tests.get(label)
        m = ml_fit(f) if ladder else f
        rows.append(
            {
                "model": label,
                "formula": f.formula,
                "npar": f.n_params,
                "loglik": m.loglik,
                "aic": m.aic,
                "bic": m.bic,
                "chisq": t.chisq if t else np.nan,
                "df": t.df if t else np.nan,
                "p_value": t.p_value if t else np.nan,
                "p_value_mixture": t.p_value_mixture
                if t and t.p_value_mixture is not None
                else np.nan,
                "fits_used": t.fits_used if t else "",
            }
        )
    data = pd.DataFrame(rows)
    which = "ML " if ladder else ""
    cols = [
        Column("Model", "model", "text", "l"),
        Column("k", "npar", "int"),
        Column(f"{which}logLik", "loglik"),
        Column(f"{which}AIC", "aic"),
        Column(f"{which}BIC", "bic"),
    ]
    note = "k = number of parameters. "
    if ladder and tests:
        note += (
            "logLik, AIC and BIC of the ML fits"
            + (" (the REML fits refitted by ML)" if any_reml else "")
            + ", the likelihoods the tests compare: χ² = 2 × the difference in logLik. "
        )
        if any_reml:
            note += (
                "REML log-likelihoods, AIC and BIC are not comparable between models with "
                "different fixed parts. "
            )
    elif ladder:
        note += "logLik, AIC and BIC of the ML fit" + (" (refitted)" if any_reml else "") + ". "
    elif any_reml and len({f.n_params - len(f.theta) for _, f in pairs}) > 1:
        note += (
            "REML fits: logLik, AIC and BIC are not comparable between models with different "
            "fixed parts; refit by ML to compare them. "
        )
    if tests:
        cols += [Column("χ²", "chisq"), Column("df", "df", "int"), Column("p", "p_value", "p")]
        if data["p_value_mixture"].notna().any():
            cols.append(Column("p (boundary)", "p_value_mixture", "p"))
            note += (
                "p (boundary): 50:50 chi-square mixture p-value for tests of a variance "
                "on the boundary of its parameter space. "
            )
        reml_tests = [t for t in tests.values() if not t.fits_used.startswith("ML")]
        if reml_tests:
            note += (
                "Tests between REML fits (identical fixed parts): "
                + ", ".join(t.model_full for t in reml_tests)
                + "; their χ² is not the difference of the ML logLik shown. "
            )
        note += "χ² tests each model against the one above it."
    return ApaTable("model_comparison", "Model comparison", data, tuple(cols), note.strip())


def step_summary_table(ladder: Any) -> ApaTable:
    """Per ladder step: sigma^2, tau00, ICC, proportion of variance explained, R^2 (a GLMM
    ladder: :func:`glmm_step_summary_table`)."""
    if getattr(ladder, "family", None):
        return glmm_step_summary_table(ladder)
    rows = []
    for s in ladder.steps:
        rows.append(
            {
                "model": s.step,
                "sigma2": s.sigma2,
                "tau00": s.tau00,
                "icc": s.icc if s.icc is not None else s.icc_conditional,
                "icc_kind": "unconditional" if s.icc is not None else "conditional",
                "pve_level1": s.variance_explained["level1"],
                "pve_level2": s.variance_explained["level2"],
                "r2_marginal": s.r2.marginal,
                "r2_conditional": s.r2.conditional,
            }
        )
    g = ladder.group
    note = (
        f"σ² = within-{g} (residual) variance; τ00 = variance of the {g} intercepts. ICC: "
        "τ00 / (τ00 + σ²) of the null model, conditional on the predictors for the other "
        f"models. PVE = proportion of variance explained (Raudenbush & Bryk): PVE L1 = "
        "(σ²_null − σ²) / σ²_null, the share of the null model's within-group variance the "
        "predictors explain; PVE L2 = (τ00_null − τ00) / τ00_null, the share of its "
        "between-group variance. A negative PVE means that variance grew. R² marginal / "
        "conditional: variance explained by the fixed part / fixed and random parts "
        "(Nakagawa & Schielzeth)."
    )
    return ApaTable(
        "variance_explained",
        "Variance components and variance explained",
        pd.DataFrame(rows),
        (
            Column("Model", "model", "text", "l"),
            Column("σ²", "sigma2"),
            Column("τ00", "tau00"),
            Column("ICC", "icc", "num3"),
            Column("PVE L1", "pve_level1", "num3"),
            Column("PVE L2", "pve_level2", "num3"),
            Column("R² marg.", "r2_marginal", "num3"),
            Column("R² cond.", "r2_conditional", "num3"),
        ),
        note,
    )


def glmm_step_summary_table(ladder: Any) -> ApaTable:
    """Per step of a GLMM ladder: tau00, latent-scale ICC, PVE at level 2, R^2; sigma^2 and
    PVE at level 1 have no GLMM meaning and are left out, with a note saying why."""
    rows = [
        {
            "model": s.step,
            "tau00": s.tau00,
            "level1_variance": s.r2.var_residual,
            "icc": s.icc if s.icc is not None else s.icc_conditional,
            "icc_kind": "unconditional" if s.icc is not None else "conditional",
            "pve_level2": s.variance_explained["level2"],
            "r2_marginal": s.r2.marginal,
            "r2_conditional": s.r2.conditional,
        }
        for s in ladder.steps
    ]
    g = ladder.group
    poisson = str(ladder.family).startswith("poisson")
    fixed = (
        "log(1 + 1/exp(b0)) of the null model (performance's lognormal approximation)"
        if poisson
        else "the latent-scale variance (π²/3 = 3.29 for logit, 1 for probit)"
    )
    note = (
        f"τ00 = variance of the {g} intercepts (link scale). A GLMM estimates no residual "
        f"variance σ²: the level-1 variance is {fixed}, so ICC = τ00 / (τ00 + that variance) "
        "(null model; conditional on the predictors for the others) and the proportion of "
        "level-1 variance explained is not defined. PVE L2 = (τ00_null − τ00) / τ00_null; GLMM "
        "coefficients and τ00 rescale as predictors are added, so it can be negative. R² "
        "marginal / conditional: Nakagawa & Schielzeth on the latent scale."
    )
    return ApaTable(
        "variance_explained",
        "Variance components and variance explained",
        pd.DataFrame(rows),
        (
            Column("Model", "model", "text", "l"),
            Column("τ00", "tau00"),
            Column("ICC", "icc", "num3"),
            Column("PVE L2", "pve_level2", "num3"),
            Column("R² marg.", "r2_marginal", "num3"),
            Column("R² cond.", "r2_conditional", "num3"),
        ),
        note,
    )


def estimates_table(ladder: Any) -> ApaTable:
    """The fixed effects b (SE) of every step side by side, then the variance components."""
    steps = [s.step for s in ladder.steps]
    terms: dict[str, dict[str, tuple[float, float, float]]] = {}
    kinds: dict[str, str] = {}
    for s in ladder.steps:
        fe = s.fit.fixed_effects()
        for term, r in fe.iterrows():
            terms.setdefault(str(term), {})[s.step] = (r.estimate, r.std_error, r.p_value)
            kinds[str(term)] = "fixed"
        for _, r in s.fit.varcorr().iterrows():
            if r["group"] == "Residual":
                name = "Var(Residual)"
            elif pd.isna(r["var2"]):
                name = f"Var({r['var1']} | {r['group']})"
            else:
                name = f"Cov({r['var1']}, {r['var2']} | {r['group']})"
            terms.setdefault(name, {})[s.step] = (r["vcov"], np.nan, np.nan)
            kinds[name] = "random"
    random = [t for t in terms if kinds[t] == "random" and t != "Var(Residual)"]
    order = [t for t in terms if kinds[t] == "fixed"] + random
    order += ["Var(Residual)"] if "Var(Residual)" in terms else []
    rows = []
    for t in order:
        row: dict[str, Any] = {"term": t, "part": kinds[t]}
        for st in steps:
            b, se, p = terms[t].get(st, (np.nan, np.nan, np.nan))
            row[st] = b
            row[f"{st}_se"] = se
            row[f"{st}_p"] = p
        rows.append(row)
    cols = [Column("Term", "term", "text", "l")] + [
        Column(st.replace("_", " "), f"{st},{st}_se", "estse", p=f"{st}_p") for st in steps
    ]
    method = ladder.steps[0].fit.method
    note = (
        f"Fixed effects: b (SE) of each model's {method} fit; * p < .05, ** p < .01, *** p < .001 "
        "(Satterthwaite df). Var and Cov: variance components (Residual = σ²). Empty: not in "
        "that model."
    )
    if getattr(ladder, "family", None):
        note = (
            f"Fixed effects: b (SE) on the link scale of each model's ML fit ({ladder.family}); "
            "* p < .05, ** p < .01, *** p < .001 (Wald z). Var and Cov: variance components; "
            "no residual variance (the family fixes it). Empty: not in that model."
        )
    return ApaTable("estimates", "Estimates by model", pd.DataFrame(rows), tuple(cols), note)


def ladder_tables(ladder: Any) -> list[ApaTable]:
    """The tables of a ladder, in every output format: data, comparison with the tests,
    variance explained, and the estimates of every model."""
    return [
        data_summary_table(ladder.steps[-1].fit, ladder.n_dropped, ladder.dropped_by),
        model_comparison_table(ladder),
        step_summary_table(ladder),
        estimates_table(ladder),
    ]


def data_summary_table(
    fit: Any, n_dropped: int | None = None, dropped_by: dict[str, int] | None = None
) -> ApaTable:
    """Groups per grouping factor and their sizes (min, median, max). ``n_dropped`` (with the
    missing count per column in ``dropped_by``) counts rows dropped before fitting, e.g. by a
    ladder, in addition to those the fit itself dropped."""
    rows: list[dict[str, Any]] = []
    for factor, sizes in fit.group_sizes().items():
        rows.append(
            {
                "group": factor,
                "groups": len(sizes),
                "size_min": int(sizes.min()),
                "size_median": float(np.median(sizes)),
                "size_max": int(sizes.max()),
            }
        )
    data = pd.DataFrame(rows)
    dropped = int(fit.n_dropped + (n_dropped or 0))
    by = dict(dropped_by or {})
    if not by and fit.n_dropped:  # the fit's own count by column (rows in memory only)
        frame = getattr(getattr(fit, "design", None), "frame", None)
        by = dict(getattr(frame, "dropped_by", None) or {})
    note = f"{fit.n_obs} rows used"
    if dropped:
        detail = ", ".join(f"{k}: {v}" for k, v in by.items())
        note += f"; {dropped} of {fit.n_obs + dropped} rows dropped for missing values" + (
            f" (missing in {detail})." if detail else "."
        )
    else:
        note += "; no rows dropped."
    return ApaTable(
        "data_summary",
        "Data summary",
        data,
        (
            Column("Grouping factor", "group", "text", "l"),
            Column("Groups", "groups", "int"),
            Column("Smallest", "size_min", "int"),
            Column("Median size", "size_median", "size"),
            Column("Largest", "size_max", "int"),
        ),
        note,
    )


def estimator_comparison_table(comparison: Any) -> ApaTable:
    """The estimator comparison: estimate, SE, CI, p, SE ratio and design effect per row."""
    data = comparison.table.copy()
    order = {t: i for i, t in enumerate(dict.fromkeys(data["term"]))}
    data = data.sort_values("term", key=lambda c: c.map(order), kind="stable")  # term-major
    pct = f"{100 * comparison.level:g}%"
    note = (
        "SE ratio = SE / multilevel SE; deff = (SE / naive OLS SE)², the variance "
        "inflation relative to treating rows as independent."
    )
    if comparison.kish_design_effect is not None:
        deff = comparison.kish_design_effect
        note += (
            f" Kish design effect 1 + (mean cluster size - 1) ICC = {deff:.2f}, with the ICC of "
            "this model given its predictors (the null model's ICC gives another)."
        )
    return ApaTable(
        "estimator_comparison",
        f"Estimators compared: {comparison.formula}",
        data,
        (
            Column("Term", "term", "text", "l"),
            Column("Estimator", "estimator", "text", "l"),
            Column("b", "estimate"),
            Column("SE", "std_error"),
            Column(f"{pct} CI", "ci_lower,ci_upper", "ci"),
            Column("p", "p_value", "p"),
            Column("SE ratio", "se_ratio"),
            Column("deff", "design_effect"),
        ),
        note,
    )


def tables_for(obj: Any) -> list[ApaTable]:
    """Every table for a fit, a ladder (its tables, then each step in detail) or a
    comparison."""
    if hasattr(obj, "results") and hasattr(obj, "table"):
        return [estimator_comparison_table(obj)]
    if hasattr(obj, "steps"):
        out = ladder_tables(obj)
        for s in obj.steps:
            fe, re = fixed_effects_table(s.fit), random_effects_table(s.fit)
            out += [_renamed(fe, s.step), _renamed(re, s.step)]
            rs = residual_structure_table(s.fit)
            out += [_renamed(rs, s.step)] if rs is not None else []
        return out
    out = [data_summary_table(obj), fixed_effects_table(obj), random_effects_table(obj)]
    rs = residual_structure_table(obj)
    return out + ([rs] if rs is not None else [])


def _renamed(t: ApaTable, step: str) -> ApaTable:
    return ApaTable(
        f"{step}_{t.name}", f"{t.title}: {step.replace('_', ' ')}", t.data, t.columns, t.note
    )


def long_csv(tables: list[ApaTable]) -> str:
    """All tables as one loadable CSV: a first column ``table`` names the table of each row;
    columns a table does not have are empty."""
    frames = [t.data.assign(table=t.name)[["table", *t.data.columns]] for t in tables]
    frames = [f for f in frames if len(f)]
    if not frames:
        return "table\n"
    buf = io.StringIO()
    pd.concat(frames, ignore_index=True, sort=False).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def export_csv(obj: Any, directory: str | Path) -> list[Path]:
    """Write every table of ``obj`` as ``<directory>/<name>.csv``; return the paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in tables_for(obj):
        p = d / f"{t.name}.csv"
        t.to_csv(p)
        paths.append(p)
    return paths
