"""Column names as lme4 prints them: expressions re-written with R's ``deparse`` spacing.

formulaic names a column after the Python code it evaluated (``I(w / 2 - 1)``, ``x ** 2``);
lme4 uses R's deparse of the term (``I(w/2 - 1)``, ``x^2``): spaces around ``+ - *`` and
comparisons, none around ``/ ^ :``, ``, `` between arguments, `` = `` for named arguments.
"""

from __future__ import annotations

import ast

_BINARY = {
    ast.Add: (" + ", 4),
    ast.Sub: (" - ", 4),
    ast.Mult: (" * ", 5),
    ast.Div: ("/", 5),
    ast.Mod: ("%%", 5),
    ast.FloorDiv: ("%/%", 5),
    ast.Pow: ("^", 7),
}
_COMPARE = {
    ast.Eq: " == ",
    ast.NotEq: " != ",
    ast.Lt: " < ",
    ast.LtE: " <= ",
    ast.Gt: " > ",
    ast.GtE: " >= ",
}


def _num(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return repr(value)


def _render(node: ast.AST, parent: int = 0, right: bool = False) -> str:
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        op, prec = _BINARY[type(node.op)]
        # ^ is right-associative; the others are left-associative
        lhs = _render(node.left, prec, right=isinstance(node.op, ast.Pow))
        rhs = _render(node.right, prec, right=not isinstance(node.op, ast.Pow))
        text = f"{lhs}{op}{rhs}"
        return f"({text})" if prec < parent or (prec == parent and right) else text
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = "-" if isinstance(node.op, ast.USub) else "+"
        text = sign + _render(node.operand, 6)
        return f"({text})" if 6 < parent else text
    if isinstance(node, ast.Compare) and all(type(o) in _COMPARE for o in node.ops):
        parts = [_render(node.left, 3)]
        for cmp, comp in zip(node.ops, node.comparators, strict=True):
            parts.append(_COMPARE[type(cmp)] + _render(comp, 3))
        text = "".join(parts)
        return f"({text})" if 3 < parent else text
    if isinstance(node, ast.Call):
        args = [_render(a) for a in node.args]
        args += [f"{k.arg} = {_render(k.value)}" for k in node.keywords]
        return f"{_render(node.func, 9)}({', '.join(args)})"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant):
        return _num(node.value)
    return ast.unparse(node)


def r_deparse(expr: str) -> str:
    """``'I(w / 2 - 1)'`` -> ``'I(w/2 - 1)'``; text that is not Python is returned unchanged."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return expr
    return _render(tree.body)


def _split_level(part: str) -> tuple[str, str]:
    """``'C(w)[T.2]'`` -> (``'C(w)'``, ``'2'``); a part without a level suffix -> (part, '')."""
    if not part.endswith("]"):
        return part, ""
    depth = 0
    for i in range(len(part) - 1, -1, -1):
        if part[i] == "]":
            depth += 1
        elif part[i] == "[":
            depth -= 1
            if depth == 0:
                level = part[i + 1 : -1]
                return part[:i], level[2:] if level.startswith("T.") else level
    return part, ""


def _split_interaction(name: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(name):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == ":" and depth == 0:
            parts.append(name[start:i])
            start = i + 1
    parts.append(name[start:])
    return parts


def lme4_name(name: str) -> str:
    """formulaic's column name -> lme4's: ``Intercept`` -> ``(Intercept)``, ``f[T.b]`` -> ``fb``,
    ``I(x ** 2)`` -> ``I(x^2)``, ``exp(w / 3):f[T.b]`` -> ``exp(w/3):fb``."""
    if name == "Intercept":
        return "(Intercept)"
    out = []
    for part in _split_interaction(name):
        base, level = _split_level(part)
        if "(" in base or " " in base:
            base = r_deparse(base)
        out.append(base + level)
    return ":".join(out)
