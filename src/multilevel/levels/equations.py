"""Level equations, as the lecture writes them, translated to one lme4 formula.

    Level 1: math = b0 + b1*tvhours + r
    Level 2: b0 = g00 + g01*pctfrl + u0
             b1 = g10 + g11*pctfrl + u1
    Groups: schoolid

is ``math ~ 1 + tvhours + pctfrl + tvhours:pctfrl + (1 + tvhours | schoolid)``: every coefficient
of the top level (a gamma) is a fixed effect whose column is the product of the predictors on its
path (g11 multiplies pctfrl in the equation of b1, which multiplies tvhours); a ``u`` in the
equation of a coefficient makes it random across the groups of that level. A coefficient without
``u`` is fixed. Three levels (students in classes in schools) work the same way, with
``Groups: school/class`` (lme4's nesting) or ``Groups: class, school`` (level 2 first).

Canonical formula (``LevelModel.formula``): ``1`` (or ``0``), then the fixed effects ordered by
the number of predictors in the product (main effects, then two-way, then three-way products),
within that level-1 predictors first in the order written, then level-2, level-3; then one random
term per level (level 2 first), split into uncorrelated blocks only where a constraint such as
``tau01 = 0`` or ``cov(u0, u1) = 0`` says so.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from multilevel.errors import DataError, FormulaError

Path = tuple[str, ...]

_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 _\-]*?)\s*(?:[(\[]\s*([^)\]]*?)\s*[)\]])?\s*:(.*)$")
_COEF = re.compile(r"^(beta|gamma|pi|b|g|p)(\d+)([ijk]*)$")
_RAND = re.compile(r"^(epsilon|eps|u|r|e)(\d*)([ijk]*)$")
_TAU = re.compile(r"^(tau(?:pi|beta)?)([\d,]+)=0$")
_COV = re.compile(r"^cov\(([^,]+),([^)]+)\)=0$")
_GREEK = {"β": "beta", "γ": "gamma", "π": "pi", "ε": "epsilon"}
_SUBSCRIPT = re.compile(r"_(?:\{)?(?:ij|ijk|jk|j|i|k)(?:\})?$")


class LevelWarning(UserWarning):
    """A level-1 predictor that does not vary within groups (it acts as a level-2 predictor)."""


def _norm(token: str) -> str:
    t = token.strip().lower()
    for g, name in _GREEK.items():
        t = t.replace(g, name)
    return re.sub(r"[\s_{}\\^]", "", t)


def _coef_key(token: str) -> str | None:
    m = _COEF.match(_norm(token))
    return None if m is None else m.group(1)[0] + m.group(2)


def _rand_key(token: str) -> tuple[str, str] | None:
    m = _RAND.match(_norm(token))
    return None if m is None else (m.group(1)[0], m.group(2))


def _split_plus(text: str) -> list[str]:
    """Split at top-level '+' (not inside brackets)."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "+" and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


def _top_star(text: str) -> int:
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "*" and depth == 0:
            return i
    return -1


@dataclass(frozen=True)
class _Term:
    kind: str  # 'coef' or 'random'
    key: str  # b1 / g01 or the random letter+digits
    symbol: str
    predictor: str = ""


def _predictor(text: str, where: str) -> str:
    p = text.strip()
    if not p:
        raise FormulaError(f"{where}: a coefficient is multiplied by nothing")
    while _top_star(p) >= 0:  # x*w inside a predictor is a product of variables
        i = _top_star(p)
        p = f"{p[:i].strip()}:{p[i + 1 :].strip()}"
    return "" if p == "1" else p


def _parse_term(text: str, where: str) -> _Term:
    if not text:
        raise FormulaError(f"{where}: empty term (a stray '+')")
    i = _top_star(text)
    if i >= 0:
        a, b = text[:i].strip(), text[i + 1 :].strip()
    elif " " in text.strip() and "(" not in text.split()[0]:
        a, b = text.split(None, 1)
    else:
        a, b = text, ""
    ka, kb = _coef_key(a), _coef_key(b) if b and _top_star(b) < 0 else None
    if ka:
        return _Term("coef", ka, a.strip(), _predictor(b, where) if b else "")
    if kb:
        return _Term("coef", kb, b.strip(), _predictor(a, where))
    rk = _rand_key(text)
    if rk and not b:
        return _Term("random", rk[0] + rk[1], text.strip())
    raise FormulaError(
        f"{where}: cannot read the term {text!r}; write a coefficient (b1, beta1j, g01, gamma01) "
        "times a predictor, e.g. 'b1*tvhours', or a random effect (u0, u0j, r, e)"
    )


@dataclass(frozen=True)
class LevelModel:
    """Parsed level equations: the fixed effects and random effects as paths of predictors.

    ``fixed[k]`` has one entry per level (the predictor it multiplies there, "" for 1);
    ``random[h - 2]`` lists the random effects at level h as paths of length h - 1, and
    ``blocks[h - 2]`` partitions them into correlated blocks (one block unless constrained).
    """

    outcome: str
    groups: tuple[str, ...]  # lme4 grouping factor expressions, level 2 first ('class:school')
    fixed: tuple[Path, ...]
    random: tuple[tuple[Path, ...], ...]
    blocks: tuple[tuple[tuple[int, ...], ...], ...]
    symbols: tuple[str, ...] = ()  # the gamma symbols as written, parallel to ``fixed``

    @property
    def levels(self) -> int:
        return len(self.groups) + 1

    @property
    def fixed_terms(self) -> tuple[str, ...]:
        """lme4 names of the fixed-effect columns, '(Intercept)' for the constant."""
        return tuple(":".join(p for p in path if p) or "(Intercept)" for path in self.fixed)

    def predictors(self, level: int) -> tuple[str, ...]:
        """Predictors measured at ``level`` (1 = within groups), in the order written."""
        paths = list(self.fixed) + [p for lev in self.random for p in lev]
        out = [p[level - 1] for p in paths if len(p) >= level and p[level - 1]]
        return tuple(dict.fromkeys(out))

    @property
    def formula(self) -> str:
        """The canonical lme4 formula (see the module docstring)."""
        cols = [t for t in self.fixed_terms if t != "(Intercept)"]
        head = "1" if "(Intercept)" in self.fixed_terms else "0"
        parts = [head, *cols]
        for h, (paths, blocks) in enumerate(zip(self.random, self.blocks, strict=True), start=2):
            for block in blocks:
                names = [":".join(q for q in paths[i] if q) for i in block]
                inner = [n for n in names if n]
                expr = " + ".join((["1"] if "" in names else ["0"]) + inner)
                parts.append(f"({expr} | {self.groups[h - 2]})")
        return f"{self.outcome} ~ " + " + ".join(parts)

    def __str__(self) -> str:
        return self.formula


def _resolve_groups(spec: str | Sequence[str]) -> tuple[str, ...]:
    """'school/class' (lme4 nesting) -> ('class:school', 'school'); 'class, school' or a list
    -> as given (level 2 first)."""
    if isinstance(spec, str):
        if "/" in spec:
            outer: tuple[str, ...] = ()
            levels = []
            for name in (s.strip() for s in spec.split("/")):
                outer = (name,) + outer
                levels.append(":".join(outer))
            return tuple(reversed(levels))
        return tuple(s.strip() for s in spec.split(",") if s.strip())
    return tuple(str(s).strip() for s in spec)


def _section(head: str) -> str:
    h = re.sub(r"[\s_\-]", "", head.lower())
    m = re.fullmatch(r"(?:level|l)(\d)", h)
    if m:
        return f"level{m.group(1)}"
    if h in (
        "group",
        "groups",
        "grouping",
        "groupingfactor",
        "groupingfactors",
        "cluster",
        "clusters",
    ):
        return "groups"
    if h in ("constraint", "constraints"):
        return "constraints"
    return "other"


def _lines(text: str) -> tuple[dict[int, list[tuple[int, str]]], list[str], list[tuple[int, str]]]:
    """Sort the lines into equations per level, group specs and constraints."""
    eqs: dict[int, list[tuple[int, str]]] = {}
    groups: list[str] = []
    constraints: list[tuple[int, str]] = []
    section = None
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _HEADER.match(line) if "=" not in line.split(":", 1)[0] else None
        if m:
            section = _section(m.group(1))
            rest = m.group(3).strip()
            if section.startswith("level"):
                level = int(section[5:])
                eqs.setdefault(level, [])
                if m.group(2) and level >= 2:
                    groups.append(f"{level}={m.group(2)}")
                if rest:
                    eqs[level].append((no, rest))
            elif section == "groups" and rest:
                groups.append(rest)
            elif section == "constraints" and rest:
                constraints.extend((no, c) for c in rest.split(";"))
            continue
        if section == "other":
            continue
        if _TAU.match(_norm(line)) or _COV.match(_norm(line)):
            constraints.append((no, line))
            continue
        if section is None:
            raise FormulaError(
                f"line {no}: {line!r} is not under a 'Level 1:' / 'Level 2:' heading"
            )
        if section.startswith("level"):
            eqs[int(section[5:])].append((no, line))
        elif section == "groups":
            groups.append(line)
        elif section == "constraints":
            constraints.append((no, line))
    return eqs, groups, constraints


def _group_spec(found: list[str], group: Any, n_levels: int) -> tuple[str, ...]:
    by_level = {int(g.split("=", 1)[0]): g.split("=", 1)[1] for g in found if "=" in g}
    plain = [g for g in found if "=" not in g]
    candidates = []
    if group is not None:
        candidates.append(("the group argument", _resolve_groups(group)))
    if plain:
        candidates.append(("the Groups line", _resolve_groups(", ".join(plain))))
    if by_level:
        if sorted(by_level) != list(range(2, n_levels + 1)):
            raise FormulaError(
                "name the group of every level in the headings, e.g. 'Level 2 (school):'"
            )
        candidates.append(("the Level headings", tuple(by_level[h] for h in sorted(by_level))))
    if not candidates:
        raise FormulaError(
            "no grouping variable: add a line 'Groups: schoolid' (or 'Groups: school/class' "
            "for three levels), or pass group='schoolid'"
        )
    src, groups = candidates[0]
    for other, g in candidates[1:]:
        if g != groups:
            raise FormulaError(f"{src} gives groups {groups} but {other} gives {g}")
    if len(groups) != n_levels - 1:
        raise FormulaError(
            f"{n_levels} levels need {n_levels - 1} grouping factor(s) (level 2 first, or "
            f"'outer/inner'); {src} gives {len(groups)}: {', '.join(groups)}"
        )
    return groups


def _strip_subscript(name: str, data: Any) -> str:
    """``tvhours_ij`` -> ``tvhours`` when the data has tvhours but not tvhours_ij."""
    if data is None or not hasattr(data, "columns") or name in data.columns:
        return name
    base = _SUBSCRIPT.sub("", name)
    return base if base in data.columns else name


def parse_levels(
    text: str, group: str | Sequence[str] | None = None, data: Any = None
) -> LevelModel:
    """Parse level equations into a :class:`LevelModel` (``.formula`` is the lme4 formula).

    ``group`` names the grouping variable(s) unless the text has a ``Groups:`` line; ``data``
    (optional) lets subscripted names such as ``tvhours_ij`` resolve to columns.
    """
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("the level equations are empty; start with 'Level 1: y = b0 + r'")
    eqs, found_groups, constraints = _lines(text)
    if 1 not in eqs or not eqs[1]:
        raise FormulaError("no 'Level 1:' equation (e.g. 'Level 1: math = b0 + b1*tvhours + r')")
    L = max(eqs)
    missing = [h for h in range(1, L + 1) if not eqs.get(h)]
    if missing:
        raise FormulaError(f"Level {missing[0]} has no equations but Level {L} has")
    groups = _group_spec(found_groups, group, L)
    if len(eqs[1]) != 1:
        raise FormulaError(f"line {eqs[1][1][0]}: Level 1 has one equation (the outcome's)")

    coef_path: dict[str, Path] = {}  # defined coefficients (keys) -> path, per level below
    pending: dict[str, tuple[int, str]] = {}  # coefficients still needing an equation
    fixed: list[tuple[Path, str]] = []
    random: list[list[tuple[Path, str]]] = [[] for _ in range(L - 1)]
    outcome = ""
    for level in range(1, L + 1):
        for no, eq in eqs[level]:
            where = f"line {no} (Level {level}: {eq!r})"
            if eq.count("=") != 1:
                raise FormulaError(f"{where}: an equation needs one '='")
            lhs, rhs = (s.strip() for s in eq.split("="))
            if level == 1:
                outcome = _strip_subscript(lhs, data)
                if not outcome or _coef_key(outcome):
                    raise FormulaError(f"{where}: the left side must be the outcome variable")
                prefix: Path = ()
            else:
                key = _coef_key(lhs)
                if key is None or key not in pending or pending[key][0] != level - 1:
                    known = ", ".join(k for k, (lv, _) in pending.items() if lv == level - 1)
                    raise FormulaError(
                        f"{where}: {lhs!r} is not a coefficient of a Level {level - 1} equation"
                        + (f" without an equation yet (those are: {known})" if known else "")
                    )
                prefix = coef_path[key]
                del pending[key]
            seen_pred: set[str] = set()
            n_random = 0
            for t in (_parse_term(s, where) for s in _split_plus(rhs)):
                if t.kind == "random":
                    n_random += 1
                    if n_random > 1:
                        raise FormulaError(f"{where}: more than one random term")
                    if level == 1:
                        if t.key[0] == "u":
                            raise FormulaError(
                                f"{where}: {t.symbol!r} is a group-level random effect; at Level 1 "
                                "write the residual (r or e) and put u0, u1 in Level 2 equations"
                            )
                        continue
                    random[level - 2].append((prefix, t.key))
                    continue
                pred = _strip_subscript(t.predictor, data)
                if pred in seen_pred:
                    name = pred or "the intercept"
                    raise FormulaError(f"{where}: {name} appears twice")
                seen_pred.add(pred)
                path = prefix + (pred,)
                if level == L:
                    fixed.append((path, t.symbol))
                else:
                    if t.key in coef_path:
                        raise FormulaError(f"{where}: coefficient {t.symbol!r} is used twice")
                    coef_path[t.key] = path
                    pending[t.key] = (level, t.symbol)
    if pending:
        key, (lv, sym) = next(iter(pending.items()))
        raise FormulaError(
            f"Level {lv} coefficient {sym!r} has no Level {lv + 1} equation; add e.g. "
            f"'{sym} = g{key[1:]}0' (fixed) or '{sym} = g{key[1:]}0 + u{key[1:]}' (random)"
        )
    return _build(outcome, groups, fixed, random, constraints, L)


def _build(outcome, groups, fixed, random, constraints, L) -> LevelModel:
    def key(path: Path) -> tuple:
        return (
            sum(bool(p) for p in path),
            tuple(_order[h].get(p, math.inf) if p else math.inf for h, p in enumerate(path)),
        )

    _order: list[dict[str, int]] = [{} for _ in range(L)]
    for path, _ in fixed:
        for h, p in enumerate(path):
            if p:
                _order[h].setdefault(p, len(_order[h]))
    full = [(tuple(":".join(q for q in path if q).split(":")), path) for path, _ in fixed]
    seen: dict[frozenset, Path] = {}
    for cols, path in full:
        k = frozenset(c for c in cols if c)
        if k in seen:
            raise FormulaError(
                f"the fixed effect {':'.join(cols) or '1'} arises twice "
                f"(paths {seen[k]} and {path})"
            )
        seen[k] = path
    ordered = sorted(fixed, key=lambda ps: key(ps[0]))
    blocks = []
    for h in range(2, L + 1):
        blocks.append(_blocks(random[h - 2], constraints, h, L))
    return LevelModel(
        outcome=outcome,
        groups=groups,
        fixed=tuple(p for p, _ in ordered),
        random=tuple(tuple(p for p, _ in lev) for lev in random),
        blocks=tuple(blocks),
        symbols=tuple(s for _, s in ordered),
    )


def _blocks(effects: list[tuple[Path, str]], constraints, level: int, L: int) -> tuple:
    """Correlated blocks of the random effects at one level, from zero-covariance constraints."""
    n = len(effects)
    if n == 0:
        return ()
    letter = {2: "u"} if L == 2 else {2: "r", 3: "u"}
    zero: set[frozenset[int]] = set()
    keys = [k for _, k in effects]
    for no, c in constraints:
        pair = _constraint_pair(_norm(c), level, L, letter.get(level, "u"))
        if pair is None:
            continue
        idx = []
        for k in pair:
            if k not in keys:
                raise FormulaError(
                    f"line {no}: {c!r} names {k}, not a Level {level} random effect "
                    f"(they are {', '.join(keys)})"
                )
            idx.append(keys.index(k))
        zero.add(frozenset(idx))
    # connected components of the 'may covary' graph
    comp = list(range(n))
    for a in range(n):
        for b in range(a + 1, n):
            if frozenset((a, b)) not in zero:
                ca, cb = comp[a], comp[b]
                comp = [ca if c == cb else c for c in comp]
    out = []
    for c in dict.fromkeys(comp):
        block = tuple(i for i in range(n) if comp[i] == c)
        for a in block:
            for b in block:
                if a < b and frozenset((a, b)) in zero:
                    raise FormulaError(
                        f"cannot set cov({keys[a]}, {keys[b]}) = 0 alone: lme4 can only make "
                        "whole blocks of random effects uncorrelated"
                    )
        out.append(block)
    return tuple(out)


def _constraint_pair(c: str, level: int, L: int, letter: str) -> tuple[str, str] | None:
    m = _COV.match(c)
    if m:
        a, b = _rand_key(m.group(1)), _rand_key(m.group(2))
        if a is None or b is None:
            raise FormulaError(f"cannot read the constraint {c!r}; write e.g. cov(u0, u1) = 0")
        if a[0] != letter:
            return None
        return a[0] + a[1], b[0] + b[1]
    m = _TAU.match(c)
    if m is None:
        return None
    name, digits = m.group(1), m.group(2)
    lv = {"tau": 2, "taupi": 2, "taubeta": 3}[name]
    if lv != level:
        return None
    if "," in digits:
        i, j = digits.split(",", 1)
    elif len(digits) % 2 == 0:
        i, j = digits[: len(digits) // 2], digits[len(digits) // 2 :]
    else:
        raise FormulaError(f"cannot split the indices of {c!r}; write e.g. tau01 = 0")
    return letter + i, letter + j


# ---------------------------------------------------------------------- data checks
def _values(data: pd.DataFrame, predictor: str) -> np.ndarray:
    from multilevel.design.fixed import encode
    from multilevel.design.frame import python_expr

    if predictor in data.columns and pd.api.types.is_numeric_dtype(data[predictor]):
        return data[predictor].to_numpy(dtype=float)[:, None]
    X, _, _ = encode(python_expr(f"0 + {predictor}"), data, f"predictor {predictor!r}")
    return X


def check_levels(data: Any, model: LevelModel) -> None:
    """Raise DataError if a level-h predictor (h >= 2) varies within a level-h group; warn
    (LevelWarning) if a level-1 predictor never varies within groups."""
    from multilevel.design.frame import build_frame, load_data
    from multilevel.design.random import group_codes
    from multilevel.formula.parse import parse_formula

    frame = build_frame(parse_formula(model.formula), load_data(data)).data
    codes = []
    for g in model.groups:
        c, labels = group_codes(frame, tuple(g.split(":")))
        codes.append((g, c, labels))
    for (g_in, c_in, lab_in), (g_out, c_out, _) in zip(codes, codes[1:], strict=False):
        pairs = pd.DataFrame({"i": c_in, "o": c_out}).drop_duplicates()
        dup = pairs["i"].duplicated()
        if dup.any():
            raise DataError(
                f"groups {g_in!r} are not nested in {g_out!r}: {g_in} "
                f"{lab_in[pairs['i'][dup].iloc[0]]!r} "
                f"occurs in several {g_out} groups; use 'Groups: {g_out}/{g_in}' if {g_in} labels "
                "repeat across groups"
            )
    for level in range(1, model.levels + 1):
        for pred in model.predictors(level):
            X = _values(frame, pred)
            if level == 1:
                g, c, _ = codes[0]
                if all(_spread(X[:, k], c).max() <= _tol(X[:, k]) for k in range(X.shape[1])):
                    warnings.warn(
                        f"level-1 predictor {pred!r} never varies within {g} groups: it is a "
                        f"level-{2} predictor; its slope cannot vary across {g}",
                        LevelWarning,
                        stacklevel=2,
                    )
                continue
            g, c, labels = codes[level - 2]
            for k in range(X.shape[1]):
                spread = _spread(X[:, k], c)
                if spread.max() > _tol(X[:, k]):
                    j = int(np.argmax(spread))
                    vals = X[c == j, k]
                    raise DataError(
                        f"level-{level} predictor {pred!r} varies within {g} {labels[j]!r} "
                        f"(from {vals.min():g} to {vals.max():g}); a level-{level} predictor must "
                        "be constant within each group: use its group mean "
                        "(multilevel.levels.center) or move it to a lower-level equation"
                    )


def _spread(v: np.ndarray, codes: np.ndarray) -> np.ndarray:
    s = pd.Series(v).groupby(codes)
    return (s.max() - s.min()).to_numpy()


def _tol(v: np.ndarray) -> float:
    return 1e-10 * (1.0 + float(np.max(np.abs(v))))


def fit_levels(
    text: str,
    data: Any,
    group: str | Sequence[str] | None = None,
    reml: bool = True,
    check: bool = True,
):
    """Parse level equations, check the predictors' levels against the data, and fit."""
    from multilevel.api import fit
    from multilevel.design.frame import load_data

    df = load_data(data)
    model = parse_levels(text, group=group, data=df)
    if check:
        check_levels(df, model)
    return fit(model.formula, df, reml=reml)
