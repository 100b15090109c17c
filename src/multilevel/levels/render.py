"""A fitted model written as the lecture writes it: level-1 and level-2 (and level-3) equations,
the reduced-form equation with its fixed and random parts, and the variance components, as
plain text (which :func:`multilevel.levels.parse_levels` reads back), Markdown, LaTeX and
MathML (typeset by any browser, without scripts or network: the HTML report uses it)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from multilevel.levels.notation import SYMBOLS, Notation, Path, notation
from multilevel.residual.notation import residual_lines


@dataclass(frozen=True)
class Equation:
    """``lhs = sum(coef * predictor) + random``; ``terms`` are (coefficient prefix, predictor)."""

    level: int
    lhs: Path | None  # None: the outcome (level 1)
    terms: tuple[tuple[Path, str], ...]
    random: Path | None  # prefix of the random effect in this equation (level >= 2)


def _equations(nt: Notation) -> list[Equation]:
    out = [Equation(1, None, tuple((p, p[0]) for p in nt.prefixes(1)), None)]
    randoms = {(r.level, r.path) for r in nt.random}
    for h in range(2, nt.levels + 1):
        for pre in nt.prefixes(h - 1):
            terms = tuple((p, p[-1]) for p in nt.prefixes(h) if p[:-1] == pre)
            out.append(Equation(h, pre, terms, pre if (h, pre) in randoms else None))
    return out


def _group_text(nt: Notation) -> str:
    if nt.levels == 3:
        inner, outer = nt.group_factors
        if inner[1:] == outer and len(inner) == len(outer) + 1:
            return f"{':'.join(outer)}/{inner[0]}"
        return ", ".join(nt.groups)
    return nt.groups[0]


def _num(x: float, digits: int) -> str:
    return f"{x:.{digits}g}"


# ---------------------------------------------------------------------- one style per output
GREEK = {"beta": "β", "gamma": "γ", "pi": "π", "tau": "τ", "sigma": "σ"}


def _mi(s: str) -> str:
    """A MathML identifier: Greek letters by name, other text escaped (multi-letter: upright)."""
    s = GREEK.get(s, s)
    return f"<mi>{html.escape(s)}</mi>" if len(s) == 1 else f"<mtext>{html.escape(s)}</mtext>"


def _msub(base: str, idx: str, unit: str) -> str:
    """base_{idx unit} in MathML (index digits as a number, unit letters as identifiers)."""
    sub = (f"<mn>{html.escape(idx)}</mn>" if idx else "") + (f"<mi>{unit}</mi>" if unit else "")
    return f"<msub>{base}<mrow>{sub}</mrow></msub>" if sub else base


@dataclass(frozen=True)
class _Style:
    """How symbols, variables, numbers, sums and products are spelled in one output format
    (text, tex or mathml)."""

    name: str

    def coef(self, nt: Notation, prefix: Path) -> str:
        letters, _, units = SYMBOLS[nt.levels]
        k = len(prefix)
        idx = nt.index_of[prefix]
        sub = units[k] if k < nt.levels else ""
        if self.name == "text":
            return nt.coefficient(prefix)
        if self.name == "mathml":
            return _msub(_mi(letters[k - 1]), idx, sub)
        return f"\\{letters[k - 1]}_{{{idx}{sub}}}"

    def rand(self, nt: Notation, level: int, prefix: Path = ()) -> str:
        if self.name == "text":
            return nt.residual(level, prefix)
        _, rand, units = SYMBOLS[nt.levels]
        idx = "" if level == 1 else nt.index_of[prefix]
        if self.name == "mathml":
            return _msub(_mi(rand[level - 1]), idx, units[level - 1])
        return f"{rand[level - 1]}_{{{idx}{units[level - 1]}}}"

    def var(self, nt: Notation, name: str, level: int, subscripts: bool) -> str:
        units = SYMBOLS[nt.levels][2]
        parts = [p for p in name.split(":")]
        if self.name == "text":
            return "*".join(f"{p}_{units[level - 1]}" if subscripts else p for p in parts)
        if self.name == "mathml":
            return "<mo>×</mo>".join(
                _msub(
                    f"<mtext>{html.escape(p)}</mtext>", "", units[level - 1] if subscripts else ""
                )
                for p in parts
            )
        return r" \times ".join(
            r"\mathrm{" + _tex(p) + "}" + (f"_{{{units[level - 1]}}}" if subscripts else "")
            for p in parts
        )

    def times(self, a: str, b: str) -> str:
        if not b:
            return a
        if self.name == "mathml":
            return f"{a}<mo>&#x2062;</mo>{b}"
        return f"{a}*{b}" if self.name == "text" else f"{a}\\,{b}"

    def product(self, factors: list[str]) -> str:
        sep = {"text": "*", "tex": r"\,", "mathml": "<mo>&#x2062;</mo>"}[self.name]
        return sep.join(factors)

    def num(self, x: float, digits: int) -> str:
        """A number; a negative one starts with '-' so that sums can write it as a difference."""
        s = _num(x, digits)
        if self.name != "mathml":
            return s
        return ("-" if s.startswith("-") else "") + f"<mn>{s.lstrip('-')}</mn>"

    def plus(self) -> str:
        return "<mo>+</mo>" if self.name == "mathml" else " + "

    def minus(self) -> str:
        return "<mo>−</mo>" if self.name == "mathml" else " - "

    def zero(self) -> str:
        return "<mn>0</mn>" if self.name == "mathml" else "0"

    def tau(self, symbol: str) -> str:
        if self.name == "text":
            return symbol
        if self.name == "mathml":
            if symbol == "sigma^2":
                return "<msup><mi>σ</mi><mn>2</mn></msup>"
            _, _, idx = symbol.partition("tau")
            for sub in ("_pi", "_beta"):
                if idx.startswith(sub):
                    inner = f"{_mi(sub[1:])}<mo>,</mo><mn>{idx[len(sub) :]}</mn>"
                    return f"<msub><mi>τ</mi><mrow>{inner}</mrow></msub>"
            return f"<msub><mi>τ</mi><mn>{html.escape(idx)}</mn></msub>"
        if symbol == "sigma^2":
            return r"\sigma^2"
        base, _, idx = symbol.partition("tau")
        for sub in ("_pi", "_beta"):
            if idx.startswith(sub):
                return rf"\tau_{{\{sub[1:]}}}{{}}_{{{idx[len(sub) :]}}}"
        return rf"\tau_{{{idx}}}"


def _tex(s: str) -> str:
    return s.replace("\\", r"\backslash ").replace("_", r"\_").replace("^", r"\^{}")


def _family(fit: Any) -> Any:
    """The family of a GLMM (None for a linear mixed model)."""
    return fit.family if getattr(fit, "is_glmm", False) else None


def _outcome(nt: Notation, st: _Style, fit: Any, subscripts: bool) -> str:
    """The left side of the level-1 equation: y_ij, or for a GLMM the link of its mean,
    logit(P(y_ij = 1)) or log(E(y_ij)) (logit(p_ij) for a cbind(successes, failures) outcome)."""
    y = st.var(nt, nt.outcome, 1, subscripts)
    family = _family(fit)
    if family is None:
        return y
    unit = SYMBOLS[nt.levels][2][0]
    if family.name == "binomial" and nt.outcome.replace(" ", "").startswith("cbind("):
        mean = {"text": f"p_{unit}", "tex": f"p_{{{unit}}}", "mathml": _msub(_mi("p"), "", unit)}
    elif family.name == "binomial":
        mean = {
            "text": f"P({y} = 1)",
            "tex": f"P({y} = 1)",
            "mathml": f"<mi>P</mi><mo>(</mo>{y}<mo>=</mo><mn>1</mn><mo>)</mo>",
        }
    else:
        mean = {"text": f"E({y})", "tex": f"E({y})", "mathml": f"<mi>E</mi><mo>(</mo>{y}<mo>)</mo>"}
    link = family.link
    return {
        "text": f"{link}({mean['text']})",
        "tex": rf"\mathrm{{{link}}}({mean['tex']})",
        "mathml": f"<mi>{link}</mi><mo>(</mo>{mean['mathml']}<mo>)</mo>",
    }[st.name]


def level1_variance_note(fit: Any) -> str | None:
    """What replaces sigma^2 in a GLMM: the family fixes the level-1 variance."""
    family = _family(fit)
    if family is None:
        return None
    if family.name == "binomial":
        latent = {"logit": "pi^2/3 = 3.29", "probit": "1", "cloglog": "pi^2/6 = 1.64"}
        return (
            f"no sigma^2: the binomial family fixes the level-1 variance (on the latent "
            f"{family.link} scale {latent.get(family.link, '?')})"
        )
    return "no sigma^2: the Poisson family fixes the level-1 variance (Var(y | u) = E(y | u))"


def _level_lines(nt: Notation, st: _Style, fit: Any = None) -> list[tuple[int, str, str]]:
    """(level, lhs, rhs) of every equation; a GLMM's level 1 has the link and no r_ij."""
    rows = []
    for eq in _equations(nt):
        if eq.level == 1:
            lhs = _outcome(nt, st, fit, st.name != "text")
            terms = [
                st.times(st.coef(nt, p), st.var(nt, x, 1, st.name != "text") if x else "")
                for p, x in eq.terms
            ]
            if _family(fit) is None:
                terms.append(st.rand(nt, 1))
        else:
            assert eq.lhs is not None
            lhs = st.coef(nt, eq.lhs)
            terms = [
                st.times(st.coef(nt, p), st.var(nt, x, eq.level, st.name != "text") if x else "")
                for p, x in eq.terms
            ]
            if eq.random is not None:
                terms.append(st.rand(nt, eq.level, eq.random))
            if not terms:
                terms = [st.zero()]
        rows.append((eq.level, lhs, st.plus().join(terms)))
    return rows


def _reduced(
    nt: Notation, st: _Style, fit: Any, digits: int, with_estimates: bool
) -> tuple[str, str, str]:
    """(outcome, fixed part, random part) of the reduced-form equation."""
    est = dict(zip(fit.fixed_names, fit.beta, strict=True))

    def product(path: Path) -> str:
        return st.product([st.var(nt, p, h, True) for h, p in enumerate(path, start=1) if p])

    fixed = []
    for g in nt.gammas:
        coef = st.num(est[g.name], digits) if with_estimates else st.coef(nt, g.path)
        fixed.append(st.times(coef, product(g.path)))
    text = ""
    for k, term in enumerate(fixed):
        if k and term.startswith("-"):
            text += st.minus() + term[1:]
        else:
            text += (st.plus() if k else "") + term
    random = [st.times(st.rand(nt, r.level, r.path), product(r.path)) for r in nt.random]
    if _family(fit) is None:
        random.append(st.rand(nt, 1))
    return _outcome(nt, st, fit, True), text or st.zero(), st.plus().join(random)


@dataclass(frozen=True)
class LevelEquations:
    """A fit in the lecture's notation; ``to_text``, ``to_markdown``, ``to_latex``."""

    fit: Any
    notation: Notation
    centering: tuple[str, ...] = ()
    digits: int = 4

    def level_text(self) -> str:
        """Only the equations, groups and constraints: what ``parse_levels`` reads back."""
        st = _Style("text")
        lines = []
        prev = 0
        for level, lhs, rhs in _level_lines(self.notation, st, self.fit):
            head = f"Level {level}: " if level != prev else " " * len(f"Level {level}: ")
            lines.append(f"{head}{lhs} = {rhs}")
            prev = level
        lines.append(f"Groups: {_group_text(self.notation)}")
        zero = self._zero_covariances()
        if zero:
            lines.append("Constraints: " + "; ".join(f"cov({a}, {b}) = 0" for a, b in zero))
        return "\n".join(lines)

    def _zero_covariances(self) -> list[tuple[str, str]]:
        nt = self.notation
        out = []
        for t in nt.taus:
            if t.constrained:
                a = next(r for r in nt.random if r.term == t.var1 and r.level == t.level)
                b = next(r for r in nt.random if r.term == t.var2 and r.level == t.level)
                out.append((a.symbol, b.symbol))
        return out

    def _variance_rows(self) -> list[tuple[str, str, float, bool]]:
        """(symbol, what, estimate, constrained) for every tau and sigma^2."""
        nt = self.notation
        sym: dict[tuple[int, str | None], str] = {(r.level, r.term): r.symbol for r in nt.random}
        rows = []
        for t in nt.taus:
            if t.symbol == "sigma^2":
                what = f"Var({nt.residual(1)})"
            elif t.var2 is None:
                what = f"Var({sym[(t.level, t.var1)]})"
            else:
                what = f"Cov({sym[(t.level, t.var1)]}, {sym[(t.level, t.var2)]})"
            rows.append((t.symbol, what, t.value, t.constrained))
        return rows

    def reduced_text(self, with_estimates: bool = False) -> str:
        """The reduced-form equation on one line, with symbols or with the estimates."""
        st = _Style("text")
        y, fixed, random = _reduced(self.notation, st, self.fit, self.digits, with_estimates)
        return f"{y} = {fixed} + {random}"

    def to_text(self) -> str:
        st = _Style("text")
        out = [self.level_text(), "", "Reduced form:"]
        y, fixed, random = _reduced(self.notation, st, self.fit, self.digits, False)
        pad = " " * (len(y) + 5)
        out += [f"  {y} = {fixed}    (fixed)", f"{pad}+ {random}    (random)"]
        _, fixed_e, _ = _reduced(self.notation, st, self.fit, self.digits, True)
        out += [f"  {y} = {fixed_e}", f"{pad}+ {random}"]
        out += ["", "Fixed effects:"]
        fe = self.fit.fixed_effects()
        for g in self.notation.gammas:
            row = fe.loc[g.name]
            out.append(
                f"  {g.symbol:<10} {g.name:<28} {row.estimate:>12.{self.digits}g} "
                f"(SE {row.std_error:.{self.digits}g})"
            )
        out += ["", "Variance components:"]
        for symbol, what, value, constrained in self._variance_rows():
            note = "  (fixed at 0: uncorrelated)" if constrained else ""
            out.append(f"  {symbol:<10} {what:<24} {value:>12.{self.digits}g}{note}")
        level1 = level1_variance_note(self.fit)
        if level1:
            out.append(f"  ({level1})")
        residual = residual_lines(self.fit, "text", self.digits)  # hook: multilevel.residual
        if residual:
            out += ["", "Residual structure (level 1):"] + [f"  {line}" for line in residual]
        if self.centering:
            out += ["", "Centering:"] + [f"  {c}" for c in self.centering]
        return "\n".join(out)

    def to_markdown(self) -> str:
        st = _Style("tex")
        out = []
        prev = 0
        for level, lhs, rhs in _level_lines(self.notation, st, self.fit):
            head = f"**Level {level}:** " if level != prev else ""
            out.append(f"- {head}${lhs} = {rhs}$")
            prev = level
        y, fixed, random = _reduced(self.notation, st, self.fit, self.digits, False)
        _, fixed_e, _ = _reduced(self.notation, st, self.fit, self.digits, True)
        out += [
            "",
            "**Reduced form**",
            "",
            f"$${y} = \\underbrace{{{fixed}}}_{{\\text{{fixed}}}} + "
            f"\\underbrace{{{random}}}_{{\\text{{random}}}}$$",
            "",
            f"$${y} = {fixed_e} + {random}$$",
            "",
        ]
        out += ["| gamma | term | estimate | std. error |", "|:--|:--|--:|--:|"]
        fe = self.fit.fixed_effects()
        for g in self.notation.gammas:
            row = fe.loc[g.name]
            out.append(
                f"| ${st.coef(self.notation, g.path)}$ | {g.name} | "
                f"{row.estimate:.{self.digits}g} | {row.std_error:.{self.digits}g} |"
            )
        out += ["", "| variance component | | estimate |", "|:--|:--|--:|"]
        for symbol, what, value, constrained in self._variance_rows():
            out.append(
                f"| ${st.tau(symbol)}$ | {what} | "
                f"{'0 (fixed)' if constrained else f'{value:.{self.digits}g}'} |"
            )
        level1 = level1_variance_note(self.fit)
        if level1:
            out.append(f"\n*{level1}*")
        out.append(f"\nGroups: {_group_text(self.notation)}")
        residual = residual_lines(self.fit, "tex", self.digits)  # hook: multilevel.residual
        if residual:
            out += ["", "**Residual structure (level 1)**", ""] + [f"- ${x}$" for x in residual]
        if self.centering:
            out += [""] + [f"> Centering: {c}" for c in self.centering]
        return "\n".join(out)

    def to_latex(self) -> str:
        st = _Style("tex")
        out = [r"\begin{align*}"]
        prev = 0
        for level, lhs, rhs in _level_lines(self.notation, st, self.fit):
            head = rf"\text{{Level {level}:}}" if level != prev else ""
            out.append(f"{head} && {lhs} &= {rhs} \\\\")
            prev = level
        y, fixed, random = _reduced(self.notation, st, self.fit, self.digits, False)
        _, fixed_e, _ = _reduced(self.notation, st, self.fit, self.digits, True)
        out.append(
            rf"\text{{Reduced form:}} && {y} &= \underbrace{{{fixed}}}_{{\text{{fixed}}}}"
            rf" + \underbrace{{{random}}}_{{\text{{random}}}} \\"
        )
        out.append(rf"&& {y} &= {fixed_e} + {random} \\")
        rows = [
            f"{st.tau(s)} &= {'0' if c else f'{v:.{self.digits}g}'}"
            for s, _, v, c in self._variance_rows()
        ]
        out.append(
            r"\text{Variance components:} && "
            + r", \quad ".join(r.replace("&=", "=") for r in rows)
        )
        for line in residual_lines(self.fit, "tex", self.digits):  # hook: multilevel.residual
            out[-1] += r" \\"
            out.append(rf"\text{{Residual structure:}} && {line}")
        out.append(r"\end{align*}")
        if self.centering:
            out += [f"% Centering: {c}" for c in self.centering]
        return "\n".join(out)

    def to_mathml(self) -> str:
        """The level equations, the reduced form (symbols, then estimates) and the variance
        components as HTML with MathML: typeset by the browser, no script or network."""
        st = _Style("mathml")

        def block(label: str, body: str) -> str:
            text = f'<mtext>{html.escape(label)}</mtext><mspace width="1em"/>' if label else ""
            return f'<div><math display="block"><mrow>{text}{body}</mrow></math></div>'

        out = ['<div class="equations">']
        prev = 0
        for level, lhs, rhs in _level_lines(self.notation, st, self.fit):
            label = f"Level {level}:" if level != prev else ""
            out.append(block(label, f"{lhs}<mo>=</mo>{rhs}"))
            prev = level
        y, fixed, random = _reduced(self.notation, st, self.fit, self.digits, False)
        _, fixed_e, _ = _reduced(self.notation, st, self.fit, self.digits, True)
        out.append(
            block(
                "Reduced form:",
                f'{y}<mo>=</mo><munder><munder accentunder="true"><mrow>{fixed}</mrow>'
                "<mo>⏟</mo></munder><mtext>fixed</mtext></munder><mo>+</mo><munder>"
                f'<munder accentunder="true"><mrow>{random}</mrow><mo>⏟</mo></munder>'
                "<mtext>random</mtext></munder>",
            )
        )
        out.append(block("Estimated:", f"{y}<mo>=</mo>{fixed_e}<mo>+</mo>{random}"))
        parts = [
            f"{st.tau(sym)}<mo>=</mo>"
            + ("<mn>0</mn>" if c else st.num(v, self.digits).replace("-", "<mo>−</mo>", 1))
            for sym, _, v, c in self._variance_rows()
        ]
        out.append(block("Variance components:", '<mo>,</mo><mspace width="0.8em"/>'.join(parts)))
        level1 = level1_variance_note(self.fit)
        if level1:
            out.append(f'<p class="meta">{html.escape(level1)}</p>')
        out.append(f'<p class="meta">Groups: {html.escape(_group_text(self.notation))}</p>')
        out += [f'<p class="meta">Centering: {html.escape(c)}</p>' for c in self.centering]
        out.append("</div>")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def _centering_notes(fit: Any) -> tuple[str, ...]:
    attrs = getattr(fit.design.frame.data, "attrs", {}) or {}
    used = set(fit.design.frame.data.columns)
    return tuple(c["note"] for c in attrs.get("centering", ()) if c.get("column") in used)


def level_equations(
    fit: Any, digits: int = 4, centering: tuple[str, ...] | None = None
) -> LevelEquations:
    """The fit as level equations (one grouping factor, or nested grouping factors)."""
    notes = _centering_notes(fit) if centering is None else tuple(centering)
    return LevelEquations(fit, notation(fit), notes, digits)


def level_text(fit: Any) -> str:
    """The level equations of a fit as text that :func:`parse_levels` reads back."""
    return level_equations(fit).level_text()
