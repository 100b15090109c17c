"""Split an lme4 formula into response, fixed part and random-effect terms.

lme4 writes a linear mixed model as ``y ~ x1 + x2 + (1 + x1 | g)``: the fixed part is an ordinary
Wilkinson formula (evaluated by formulaic), and each parenthesised ``(expr | group)`` is a random
term. Here we expand lme4's shortcuts exactly as lme4 does:

* ``(1 + x || g)``  -> ``(1 | g) + (0 + x | g)`` (uncorrelated terms);
* ``(1 | a/b)``     -> ``(1 | a) + (1 | b:a)`` (nested; lme4 names the inner factor first);
* ``(1 | a:b)``     -> one grouping factor whose levels are the observed ``a:b`` combinations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from multilevel.errors import FormulaError

_IDENT = re.compile(r"^`[^`]+`$")


def _is_name(name: str) -> bool:
    """A column name as R allows it unquoted (letters incl. non-ASCII, digits, _ and .)."""
    return bool(_IDENT.match(name)) or (
        bool(name) and not name[0].isdigit() and name.replace(".", "_").isidentifier()
    )


@dataclass(frozen=True)
class RandomSpec:
    """One ``(expr | factors)`` term after expansion.

    ``expr`` is the random-effects model formula (e.g. ``"1 + cses"``), ``factors`` the grouping
    columns whose interaction defines the groups (``("cask", "batch")`` for ``cask:batch``), and
    ``source`` the text the user wrote, for error messages.
    """

    expr: str
    factors: tuple[str, ...]
    source: str

    @property
    def group_name(self) -> str:
        """lme4's name of the grouping factor, e.g. ``school`` or ``cask:batch``."""
        return ":".join(self.factors)


@dataclass(frozen=True)
class FormulaSpec:
    """A parsed formula: response column, fixed-part formula (formulaic syntax), random terms."""

    text: str
    response: str
    fixed: str
    random: tuple[RandomSpec, ...]


def _split_top(text: str, seps: str) -> list[tuple[str, str]]:
    """Split ``text`` at characters in ``seps`` that sit outside brackets; keep each separator."""
    parts: list[tuple[str, str]] = []
    depth = 0
    sign = "+"
    start = 0
    quote: str | None = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise FormulaError(f"unbalanced ')' in formula near: {text[: i + 1]!r}")
        elif depth == 0 and ch in seps:
            # a '-' or '+' right after an operator or '(' is unary, part of the next term
            before = text[start:i].strip()
            if before or ch == "+":
                parts.append((sign, before))
                sign = ch
                start = i + 1
            elif ch == "-":
                sign = "-" if sign == "+" else "+"
                start = i + 1
    if depth != 0 or quote:
        raise FormulaError(f"unbalanced brackets or quotes in formula: {text!r}")
    parts.append((sign, text[start:].strip()))
    return parts


def _strip_outer_parens(term: str) -> str | None:
    """Return the inside of ``(...)`` if the parentheses enclose the whole term, else None."""
    if not (term.startswith("(") and term.endswith(")")):
        return None
    depth = 0
    for i, ch in enumerate(term):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and i != len(term) - 1:
                return None
    return term[1:-1]


def _find_bar(inner: str) -> tuple[int, int] | None:
    """Position and width of the top-level ``|`` or ``||`` in a random term, if any."""
    depth = 0
    i = 0
    while i < len(inner):
        ch = inner[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "|" and depth == 0:
            width = 2 if inner[i : i + 2] == "||" else 1
            return i, width
        i += 1
    return None


def _check_name(name: str, source: str) -> str:
    name = name.strip()
    if not name or not _is_name(name):
        raise FormulaError(
            f"grouping factor {name!r} in random term '{source}' is not a column name; "
            "write (expr | g), (expr | a/b) or (expr | a:b) with column names"
        )
    return name.strip("`")


def _expand_groups(group: str, source: str) -> list[tuple[str, ...]]:
    """``a/b/c`` -> [(a,), (b, a), (c, b, a)]; ``a:b`` -> [(a, b)]; ``a`` -> [(a,)]."""
    if "/" in group:
        levels = [g.strip() for g in group.split("/")]
        out: list[tuple[str, ...]] = []
        outer: tuple[str, ...] = ()
        for lev in levels:
            factors = tuple(_check_name(f, source) for f in lev.split(":"))
            outer = factors + outer
            out.append(outer)
        return out
    return [tuple(_check_name(f, source) for f in group.split(":"))]


def _has_intercept(expr_parts: list[tuple[str, str]]) -> bool:
    """Does a random-effects expression include an intercept (lme4: yes unless 0 or -1)?"""
    intercept = True
    for sign, t in expr_parts:
        if t in ("0", "-1") or (t == "1" and sign == "-"):
            intercept = False
        elif t == "1" and sign == "+":
            intercept = True
    return intercept


def _expand_double_bar(expr: str) -> list[str]:
    """``1 + x + z`` under ``||`` -> ``["1", "0 + x", "0 + z"]`` (one term per column)."""
    parts = _split_top(expr, "+-")
    out = ["1"] if _has_intercept(parts) else []
    for sign, t in parts:
        if t in ("0", "1", "-1", ""):
            continue
        if sign == "-":
            raise FormulaError(f"cannot remove {t!r} in an uncorrelated term '({expr} || ...)'")
        out.append(f"0 + {t}")
    return out


def _parse_random(inner: str, source: str) -> list[RandomSpec]:
    bar = _find_bar(inner)
    assert bar is not None
    pos, width = bar
    expr = inner[:pos].strip()
    group = inner[pos + width :].strip()
    if not expr:
        raise FormulaError(f"random term '{source}' has nothing before '|'; write (1 | {group})")
    if not group:
        raise FormulaError(f"random term '{source}' has no grouping factor after '|'")
    if _find_bar(group) is not None:
        raise FormulaError(f"random term '{source}' has more than one '|'")
    factor_sets = _expand_groups(group, source)
    exprs = _expand_double_bar(expr) if width == 2 else [expr]
    return [RandomSpec(e, fs, source) for fs in factor_sets for e in exprs]


_POWER = re.compile(r"(\^|\*\*)(\s*)(\d+)")
_NAME = re.compile(r"`[^`]+`|[A-Za-z_.][A-Za-z0-9_.]*")
#: formulaic expands (a + b + ...)^k by repeated products: names^k steps (R's answer is small)
MAX_POWER_EXPANSION = 20_000


def _bound_powers(expr: str, source: str) -> str:
    """Formula-level powers ``(a + b + c)^k`` with k clamped to the number of names (R gives the
    same terms: no interaction has more factors than there are names), refused when expanding
    them would take names^k steps beyond MAX_POWER_EXPANSION."""
    names = len(set(_NAME.findall(expr))) or 1
    out, depth, i = [], 0, 0
    while i < len(expr):
        ch = expr[i]
        depth += (ch == "(") - (ch == ")")
        m = _POWER.match(expr, i) if depth == 0 else None
        if m is None:
            out.append(ch)
            i += 1
            continue
        k = min(int(m.group(3)), names)
        if names**k > MAX_POWER_EXPANSION:
            raise FormulaError(
                f"the power '{m.group(0).strip()}' in '{source}' interacts {names} names up to "
                f"order {k}; write the interactions wanted explicitly (e.g. (a + b + c)^2)"
            )
        out.append(f"{m.group(1)}{m.group(2)}{k}")
        i = m.end()
    return "".join(out)


def parse_formula(text: str) -> FormulaSpec:
    """Parse an lme4 formula string into a :class:`FormulaSpec`.

    >>> spec = parse_formula("y ~ x + (1 + x | g)")
    >>> spec.response, spec.fixed, spec.random[0].expr, spec.random[0].factors
    ('y', 'x', '1 + x', ('g',))
    """
    if not isinstance(text, str):
        raise FormulaError(
            f"the formula must be a string such as 'y ~ x + (1 | group)', not {type(text).__name__}"
        )
    if not text.strip():
        raise FormulaError("the formula is empty; write e.g. 'y ~ x + (1 | group)'")
    if text.count("~") != 1:
        raise FormulaError(
            f"a formula needs exactly one '~' between the outcome and the predictors: {text!r}"
        )
    lhs, rhs = (s.strip() for s in text.split("~"))
    if not lhs:
        raise FormulaError(f"no outcome on the left of '~' in {text!r}")
    if not rhs:
        raise FormulaError(f"nothing on the right of '~' in {text!r}; write '1' for the null model")
    response = lhs.strip("`")
    fixed_parts: list[str] = []
    random: list[RandomSpec] = []
    for sign, term in _split_top(rhs, "+-"):
        if not term:
            raise FormulaError(f"empty term (a stray '+' or '-') in {text!r}")
        inner = _strip_outer_parens(term)
        if inner is not None and _find_bar(inner) is not None:
            if sign == "-":
                raise FormulaError(f"a random term cannot be subtracted: '-{term}'")
            random.extend(_parse_random(inner, term))
        else:
            if "|" in term:
                raise FormulaError(
                    f"term '{term}' contains '|' outside a parenthesised random term; "
                    "write random terms as (expr | group)"
                )
            fixed_parts.append(term if sign == "+" else f"- {term}")
    fixed = " + ".join(p for p in fixed_parts if not p.startswith("- "))
    removed = " ".join(p for p in fixed_parts if p.startswith("- "))
    if not fixed:  # as R: only '- 1' (or '0') removes the intercept; '-x' alone removes nothing
        fixed = "1"
    fixed = _bound_powers(f"{fixed} {removed}".strip(), "the fixed part")
    random = [replace(r, expr=_bound_powers(r.expr, r.source)) for r in random]
    return FormulaSpec(text=text.strip(), response=response, fixed=fixed, random=tuple(random))
