"""The lecture's (HLM's) names for the parts of a fitted model.

A fixed-effect column of X is a product of predictors, each measured at one level: a column that
varies within groups is a level-1 predictor, one that is constant within groups a level-2
predictor (constant within level-3 groups: level-3). Each column is written as a *path*, one
predictor per level ("" for the constant 1), and named as HLM does (Raudenbush & Bryk 2002):

    Level 1: Y_ij = beta_0j + beta_1j X_ij + r_ij
    Level 2: beta_pj = gamma_p0 + gamma_p1 W_1j + ... + u_pj

so the intercept is gamma00, level-2 predictors of the intercept gamma01, gamma02, level-1 slopes
gamma10, gamma20, cross-level interactions gamma11, gamma21; Var(u_pj, u_p'j) = tau_pp' and
Var(r_ij) = sigma^2. Three levels use pi (level 1), beta (level 2) and gamma (level 3), with
residuals e_ijk, r_pjk, u_pqk and variances sigma^2, tau_pi, tau_beta. Indices number the
predictors of each equation in order of appearance (lme4's column order, then the random terms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import FormulaError

#: per number of levels: coefficient letters, random-effect letters, unit subscripts (level 1..L)
SYMBOLS = {
    2: (("beta", "gamma"), ("r", "u"), ("ij", "j")),
    3: (("pi", "beta", "gamma"), ("e", "r", "u"), ("ijk", "jk", "k")),
}
#: name of the covariance matrix of the random effects at each level 2..L
TAU_NAMES = {2: ("tau",), 3: ("tau_pi", "tau_beta")}

Path = tuple[str, ...]


@dataclass(frozen=True)
class Gamma:
    """A fixed effect: lme4 column ``name`` and its HLM symbol, e.g. gamma11 for cses:meanses."""

    name: str
    symbol: str
    index: str
    path: Path


@dataclass(frozen=True)
class RandomEffect:
    """A random effect at ``level``: lme4 block ``group`` and term, and its symbol (u0j, u1j)."""

    level: int
    group: str
    term: str
    symbol: str
    index: str
    path: Path


@dataclass(frozen=True)
class Tau:
    """A variance component by its lecture name (tau00, tau01, sigma^2) and lme4's names."""

    symbol: str
    level: int
    group: str | None
    var1: str | None
    var2: str | None
    value: float
    constrained: bool = False  # fixed at 0: the two effects are in separate lme4 blocks


@dataclass(frozen=True)
class Notation:
    """All lecture names of one fit: levels, grouping factors, gammas, u's and taus."""

    levels: int
    groups: tuple[str, ...]  # lme4 grouping factors, level 2 first
    group_factors: tuple[tuple[str, ...], ...]
    outcome: str
    gammas: tuple[Gamma, ...]
    random: tuple[RandomEffect, ...]
    taus: tuple[Tau, ...]
    index_of: dict[Path, str]  # every coefficient prefix -> its index digits

    def coefficient(self, prefix: Path) -> str:
        """Symbol of the coefficient with this path prefix: beta1j, gamma10, pi0jk, beta01k."""
        letters, _, units = SYMBOLS[self.levels]
        k = len(prefix)
        sub = units[k] if k < self.levels else ""
        return f"{letters[k - 1]}{self.index_of[prefix]}{sub}"

    def residual(self, level: int, prefix: Path = ()) -> str:
        """Symbol of the random effect at ``level`` for the coefficient ``prefix`` (r_ij, u1j)."""
        _, rand, units = SYMBOLS[self.levels]
        if level == 1:
            return f"{rand[0]}_{units[0]}"
        return f"{rand[level - 1]}{self.index_of[prefix]}{units[level - 1]}"

    def prefixes(self, length: int) -> list[Path]:
        """Coefficient prefixes of a given length, in index order."""
        return [p for p in self.index_of if len(p) == length]

    def gamma_of(self, name: str) -> str:
        return next(g.symbol for g in self.gammas if g.name == name)

    def fixed_table(self) -> pd.DataFrame:
        """lme4 names beside gamma names and the level of each predictor."""
        return pd.DataFrame(
            {
                "gamma": [g.symbol for g in self.gammas],
                "predictors": [" x ".join(p for p in g.path if p) or "1" for g in self.gammas],
            },
            index=pd.Index([g.name for g in self.gammas], name="term"),
        )

    def variance_table(self) -> pd.DataFrame:
        """tau and sigma^2 with lme4's (group, var1, var2) and the estimate."""
        return pd.DataFrame(
            [(t.symbol, t.group, t.var1, t.var2, t.value, t.constrained) for t in self.taus],
            columns=["symbol", "group", "var1", "var2", "estimate", "constrained"],
        )


# ---------------------------------------------------------------------- levels of the fit
def _constant_within(v: np.ndarray, codes: np.ndarray) -> bool:
    """True if ``v`` takes one value (to rounding) in every group given by ``codes``."""
    s = pd.Series(v).groupby(codes)
    spread = float((s.max() - s.min()).max())
    return spread <= 1e-10 * (1.0 + float(np.max(np.abs(v))))


def hierarchy(design) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...], list[np.ndarray]]:
    """Grouping factors of a design ordered level 2 first; checks they are nested.

    Returns (names, factors, codes). Crossed factors cannot be written as level equations.
    """
    seen: dict[str, Any] = {}
    for t in design.terms:
        seen.setdefault(t.grouping_factor, t)
    terms = sorted(seen.values(), key=lambda t: -t.n_levels)
    if len(terms) > 2:
        raise FormulaError(
            f"{len(terms) + 1} levels ({', '.join(t.grouping_factor for t in terms)}): level "
            "equations are written here for two or three levels"
        )
    for inner, outer in zip(terms, terms[1:], strict=False):
        pairs = pd.DataFrame({"i": inner.codes, "o": outer.codes}).drop_duplicates()
        if pairs["i"].duplicated().any():
            lev = inner.levels[int(pairs.loc[pairs["i"].duplicated(), "i"].iloc[0])]
            raise FormulaError(
                f"grouping factors {inner.grouping_factor!r} and {outer.grouping_factor!r} are "
                f"crossed, not nested (level {lev!r} of {inner.grouping_factor!r} occurs in "
                "several groups): level equations need nested groups"
            )
    return (
        tuple(t.grouping_factor for t in terms),
        tuple(t.factors for t in terms),
        [t.codes for t in terms],
    )


def _level(v: np.ndarray, codes: list[np.ndarray]) -> int:
    """1 if ``v`` varies within level-2 groups, else the highest level it is constant within."""
    level = 1
    for h, c in enumerate(codes, start=2):
        if _constant_within(v, c):
            level = h
        else:
            break
    return level


def classify_columns(design) -> dict[str, Path]:
    """Path (one predictor per level, "" for 1) of every fixed-effect column of a design.

    A column's level comes from its values (``fit.design``); an interaction ``a:b`` is split into
    its factors, each placed at the level of its own column (or data column) when there is one.
    Columns named in a random term are level-1 predictors (for three levels: the lowest level
    below that term's group at which they vary).
    """
    _, _, codes = hierarchy(design)
    L = len(codes) + 1
    names = list(design.fixed.names)
    X = design.X
    data = design.frame.data
    col = {n: X[:, k] for k, n in enumerate(names)}

    def vector(name: str) -> np.ndarray | None:
        if name in col:
            return col[name]
        if name in data.columns and pd.api.types.is_numeric_dtype(data[name]):
            return data[name].to_numpy(dtype=float)
        return None

    random_names = {n for t in design.terms for n in t.term_names if n != "(Intercept)"}
    paths: dict[str, Path] = {}
    for name in names:
        if name == "(Intercept)":
            paths[name] = ("",) * L
            continue
        parts: list[list[str]] = [[] for _ in range(L)]
        factors = name.split(":")
        column_level = 1 if name in random_names else _level(col[name], codes)
        for f in factors:
            v = vector(f) if len(factors) > 1 else col[name]
            if f in random_names or len(factors) == 1:
                h = column_level if len(factors) == 1 else 1
            else:
                h = _level(v, codes) if v is not None else 1
            parts[h - 1].append(f)
        paths[name] = tuple(":".join(p) for p in parts)
    return paths


def _random_path(design, term_name: str, level: int, codes: list[np.ndarray]) -> Path:
    """Path (length level - 1) of a random term at ``level``."""
    if term_name == "(Intercept)":
        return ("",) * (level - 1)
    if level == 2:
        return (term_name,)
    # three levels, term at level 3: level-2 predictor if constant within level-2 groups
    v = None
    if term_name in design.fixed.names:
        v = design.X[:, design.fixed.names.index(term_name)]
    elif term_name in design.frame.data.columns:
        v = design.frame.data[term_name].to_numpy(dtype=float)
    if v is not None and _constant_within(v, codes[0]):
        return ("", term_name)
    return (term_name, "")


def _fmt(indices: list[int]) -> str:
    sep = "" if all(i < 10 for i in indices) else "_"
    return sep.join(map(str, indices))


def _index_prefixes(paths: list[Path]) -> dict[Path, str]:
    """Index digits of every prefix of the paths: 0 for "", else the order of appearance of the
    predictor among the equation's predictors (the equation is fixed by the shorter prefix)."""
    order: dict[Path, list[str]] = {}
    prefixes: list[Path] = []
    for path in paths:
        for k in range(1, len(path) + 1):
            pre = path[:k]
            if pre not in prefixes:
                prefixes.append(pre)
            if pre[-1]:
                order.setdefault(pre[:-1], [])
                if pre[-1] not in order[pre[:-1]]:
                    order[pre[:-1]].append(pre[-1])
    out: dict[Path, str] = {}
    for pre in prefixes:
        idx = [0 if not pre[k] else order[pre[:k]].index(pre[k]) + 1 for k in range(len(pre))]
        out[pre] = _fmt(idx)
    # index order: sort by the digits so that equations come out as beta0, beta1, ...
    keyed = sorted(
        out.items(),
        key=lambda kv: (
            len(kv[0]),
            [int(c) for c in kv[1].split("_")] if "_" in kv[1] else [int(c) for c in kv[1]],
        ),
    )
    return dict(keyed)


def _tau_symbol(levels: int, level: int, a: str, b: str | None) -> str:
    base = TAU_NAMES[levels][level - 2]
    if b is None:  # a variance: tau00, tau_pi11; with two-digit indices tau_beta10
        return f"{base}{a}{a}" if len(a) == 1 else f"{base}{a}"
    sep = "" if len(a) == 1 and len(b) == 1 else ","
    return f"{base}{a}{sep}{b}"


def notation(fit) -> Notation:
    """The lecture's names for every fixed effect and variance component of ``fit``."""
    design = fit.design
    groups, factors, codes = hierarchy(design)
    L = len(groups) + 1
    level_of_group = {g: h for h, g in enumerate(groups, start=2)}
    fixed_paths = classify_columns(design)
    rand: list[tuple[int, str, str, Path]] = []
    for vc in fit.random_effects:
        h = level_of_group[vc.grouping_factor]
        for term in vc.terms:
            rand.append((h, vc.group, term, _random_path(design, term, h, codes)))
    all_paths = [fixed_paths[n] for n in fit.fixed_names] + [r[3] for r in rand]
    seen_fixed: dict[Path, str] = {}
    for n in fit.fixed_names:
        if fixed_paths[n] in seen_fixed:
            raise FormulaError(
                f"fixed effects {seen_fixed[fixed_paths[n]]!r} and {n!r} are the same product of "
                "predictors; cannot write them as separate gammas"
            )
        seen_fixed[fixed_paths[n]] = n
    index_of = _index_prefixes(all_paths)
    letters, rletters, units = SYMBOLS[L]
    gammas = tuple(
        Gamma(
            n, f"{letters[-1]}{index_of[fixed_paths[n]]}", index_of[fixed_paths[n]], fixed_paths[n]
        )
        for n in fit.fixed_names
    )
    randoms = tuple(
        RandomEffect(
            h,
            g,
            t,
            f"{rletters[h - 1]}{index_of[p] if p else ''}{units[h - 1]}",
            index_of[p] if p else "",
            p,
        )
        for h, g, t, p in rand
    )
    taus: list[Tau] = []
    for h in range(2, L + 1):
        here = [r for r in randoms if r.level == h]
        blocks = {vc.group: vc for vc in fit.random_effects}
        for r in here:
            vc = blocks[r.group]
            i = vc.terms.index(r.term)
            taus.append(
                Tau(
                    _tau_symbol(L, h, r.index or "0", None),
                    h,
                    r.group,
                    r.term,
                    None,
                    float(vc.covariance[i, i]),
                )
            )
        for a in range(len(here)):
            for b in range(a + 1, len(here)):
                ra, rb = here[a], here[b]
                same = ra.group == rb.group
                value = 0.0
                if same:
                    vc = blocks[ra.group]
                    value = float(vc.covariance[vc.terms.index(ra.term), vc.terms.index(rb.term)])
                taus.append(
                    Tau(
                        _tau_symbol(L, h, ra.index or "0", rb.index or "0"),
                        h,
                        ra.group if same else None,
                        ra.term,
                        rb.term,
                        value,
                        not same,
                    )
                )
    if not getattr(fit, "is_glmm", False):  # a GLMM's family fixes the level-1 variance: no sigma^2
        taus.append(Tau("sigma^2", 1, None, None, None, float(fit.sigma**2)))
    return Notation(L, groups, factors, fit.response, gammas, randoms, tuple(taus), index_of)


def gamma_table(fit, ddf: str = "satterthwaite") -> pd.DataFrame:
    """``fit.fixed_effects()`` with the gamma name of each term as its first column."""
    nt = notation(fit)
    table = fit.fixed_effects(ddf)
    table.insert(0, "gamma", [nt.gamma_of(n) for n in table.index])
    return table


def tau_table(fit) -> pd.DataFrame:
    """Variance components by their lecture names (tau00, tau11, tau01, sigma^2)."""
    return notation(fit).variance_table()
