"""A GLMM written as the lecture writes it: level-1 and level-2 equations with the link.

    Level 1: logit(P(passed_ij = 1)) = b0j + b1j*cses_ij
    Level 2: b0j = g00 + g01*meanses_j + u0j,   b1j = g10 + u1j

A fixed predictor is level 2 when it is constant within every group of the (first) grouping
factor, level 1 otherwise; a product of a level-1 and a level-2 predictor is a cross-level
interaction and enters that level-1 slope's equation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from multilevel.glmm.result import GlmmFit

LINK_TEXT = {"logit": "logit", "probit": "probit", "cloglog": "cloglog", "log": "log"}


def _is_level2(col: np.ndarray, codes: np.ndarray, G: int) -> bool:
    lo = np.full(G, np.inf)
    hi = np.full(G, -np.inf)
    np.minimum.at(lo, codes, col)
    np.maximum.at(hi, codes, col)
    return bool(np.all(hi - lo <= 1e-12 * (1 + np.abs(hi))))


def level_equations_text(fit: GlmmFit) -> str:
    """The model in level equations with estimates (gammas, taus) in brackets."""
    d = fit.design
    t0 = d.terms[0]
    codes, G = t0.codes, t0.n_levels
    X = d.X
    names = list(fit.fixed_names)
    est = dict(zip(names, fit.beta, strict=True))
    level2 = {
        n
        for j, n in enumerate(names)
        if n != "(Intercept)" and ":" not in n and _is_level2(X[:, j], codes, G)
    }
    level1 = [n for n in names if n != "(Intercept)" and ":" not in n and n not in level2]
    random = set(t0.term_names)
    for t in d.terms[1:]:
        if t.grouping_factor == t0.grouping_factor:
            random |= set(t.term_names)
    y = fit.response
    mean = f"P({y}_ij = 1)" if fit.family.name == "binomial" else f"E({y}_ij)"
    link = LINK_TEXT[fit.link]
    slopes = " + ".join(f"b{k}j*{p}_ij" for k, p in enumerate(level1, start=1))
    lines = [f"Level 1: {link}({mean}) = b0j" + (f" + {slopes}" if slopes else "")]
    g = "(Intercept)"
    eq0 = [f"g00[{est.get(g, 0.0):.3f}]"]
    for k, q in enumerate(sorted(level2), start=1):
        eq0.append(f"g0{k}[{est[q]:.3f}]*{q}_j")
    used = {g, *level2, *level1}
    lines.append("Level 2: b0j = " + " + ".join(eq0) + (" + u0j" if g in random else ""))
    for k, p in enumerate(level1, start=1):
        terms = [f"g{k}0[{est[p]:.3f}]"]
        for m, q in enumerate(sorted(level2), start=1):
            for inter in (f"{p}:{q}", f"{q}:{p}"):
                if inter in est:
                    terms.append(f"g{k}{m}[{est[inter]:.3f}]*{q}_j")
                    used.add(inter)
        lines.append(
            f"         b{k}j = " + " + ".join(terms) + (f" + u{k}j" if p in random else "")
        )
    other = [n for n in names if n not in used]
    if other:
        lines.append("Other fixed terms: " + ", ".join(f"{n} [{est[n]:.3f}]" for n in other))
    for vc in fit.random_effects:
        for i, term in enumerate(vc.terms):
            idx = (
                "0"
                if term == "(Intercept)"
                else str(level1.index(term) + 1)
                if term in level1
                else "?"
            )
            lines.append(f"tau{idx}{idx} = Var(u{idx}j) [{vc.group}] = {vc.variances[i]:.4f}")
    if fit.family.name == "binomial":
        lines.append(
            "Level-1 variance on the latent scale: pi^2/3 = 3.29 (logit), 1 (probit); no sigma^2"
        )
    return "\n".join(lines)
