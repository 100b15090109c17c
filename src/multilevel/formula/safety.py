"""A closed namespace for formula expressions, checked before anything is evaluated.

formulaic evaluates expressions such as ``log(x)`` or ``I(x**2)`` as Python code. A formula is
user input (and may come from a web form), so every such expression is parsed with :mod:`ast` and
allowed only if it is arithmetic, comparisons and calls of the functions named here on column
names and literals. Attribute access, subscripts, lambdas, comprehensions and any name starting
with an underscore are rejected before evaluation.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from multilevel.errors import UnsafeFormulaError


def _identity(x: Any) -> Any:
    return x


def factor(x: Any) -> Any:
    """R's ``factor(x)``: treat a column as categorical (levels sorted, as R does)."""
    import pandas as pd

    return pd.Categorical(x)


#: Functions a formula may call. formulaic's own stateful transforms (C, center, scale, poly, bs)
#: are resolved by formulaic itself and allowed by name.
SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "I": _identity,
    "factor": factor,
    "log": np.log,
    "log10": np.log10,
    "log2": np.log2,
    "log1p": np.log1p,
    "exp": np.exp,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "floor": np.floor,
    "ceiling": np.ceil,
    "round": np.round,
    "sign": np.sign,
    "pmin": np.minimum,
    "pmax": np.maximum,
}
FORMULAIC_TRANSFORMS = frozenset({"C", "center", "scale", "standardize", "poly", "bs", "cr", "cs"})
ALLOWED_CALLS = frozenset(SAFE_FUNCTIONS) | FORMULAIC_TRANSFORMS
ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.keyword,
    ast.Tuple,
    ast.List,
    ast.IfExp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.unaryop,
    ast.boolop,
    ast.cmpop,
)
MAX_CONSTANT_EXPONENT = 1000  # x ** 2 is arithmetic; 10 ** 10 ** 10 is a denial of service
#: largest constant subexpression, in bits: R computes in doubles (below 2^1024), and Python's
#: exact integers beyond this size cost time that Ctrl-C cannot interrupt ((1000**1000)**1000)
MAX_CONSTANT_BITS = 2048
#: largest number of basis columns a transform may be asked for (poly(x, 10**6) is a memory bomb)
MAX_BASIS_COLUMNS = 100
BASIS_TRANSFORMS = frozenset({"poly", "bs", "cr", "cs"})

_R_POWER = re.compile(r"\^")


def r_to_python(expr: str) -> str:
    """Translate R arithmetic inside an expression to Python (``x^2`` -> ``x**2``)."""
    return _R_POWER.sub("**", expr)


def check_expression(expr: str, term: str | None = None) -> None:
    """Raise :class:`UnsafeFormulaError` unless ``expr`` is plain arithmetic on names.

    ``term`` is the formula term the expression came from, for the error message.
    """
    where = f" in term '{term}'" if term else ""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsafeFormulaError(f"cannot read expression {expr!r}{where}: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED_NODES):
            raise UnsafeFormulaError(
                f"expression {expr!r}{where} uses {type(node).__name__}, which formulas may not "
                "use; only arithmetic and the functions "
                f"{', '.join(sorted(ALLOWED_CALLS))} are allowed"
            )
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise UnsafeFormulaError(f"name {node.id!r}{where} is not allowed in a formula")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in ALLOWED_CALLS:
                name = ast.unparse(node.func)
                raise UnsafeFormulaError(
                    f"function {name!r}{where} is not allowed in a formula; allowed: "
                    f"{', '.join(sorted(ALLOWED_CALLS))}"
                )
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            if len(node.value) > 200:
                raise UnsafeFormulaError(f"string constant too long{where}")
        if isinstance(node, ast.BinOp):
            _check_binop(node, expr, where)
    _check_constant_sizes(tree.body, expr, where)


def _has_name(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) for n in ast.walk(node))


def _small_constant(node: ast.AST) -> bool:
    """A numeric literal (or +/- or a ratio of literals) of modest size, e.g. 2, -1, 1/3."""
    if isinstance(node, ast.Constant):
        return (
            isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
            and abs(node.value) <= MAX_CONSTANT_EXPONENT
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return _small_constant(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div | ast.Add | ast.Sub):
        return _small_constant(node.left) and _small_constant(node.right)
    return False


def _check_binop(node: ast.BinOp, expr: str, where: str) -> None:
    """Arithmetic that could exhaust memory or time before evaluation is refused: constant
    exponents beyond 1000, and repetition of strings, lists or tuples."""
    for side in (node.left, node.right):
        if isinstance(side, ast.List | ast.Tuple) or (
            isinstance(side, ast.Constant) and isinstance(side.value, str | bytes)
        ):
            raise UnsafeFormulaError(
                f"expression {expr!r}{where} does arithmetic on a string or list; formulas may "
                "only do arithmetic on numbers and columns"
            )
    if isinstance(node.op, ast.Pow) and not _has_name(node.right):
        if not _small_constant(node.right):
            raise UnsafeFormulaError(
                f"expression {expr!r}{where} raises to a constant power that is not a number "
                f"between -{MAX_CONSTANT_EXPONENT} and {MAX_CONSTANT_EXPONENT}"
            )


def _check_constant_sizes(root: ast.AST, expr: str, where: str) -> None:
    """Refuse any constant subexpression whose value may exceed 2^MAX_CONSTANT_BITS, and basis
    transforms asked for more than MAX_BASIS_COLUMNS columns, before anything is evaluated.

    Bounds are propagated up the tree without evaluating (|a*b| <= |a||b|, |a^b| <= |a|^|b|),
    so a chain of small exponents such as ``((1000**1000)**1000)**1000`` is caught too.
    """
    for node in ast.walk(root):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in BASIS_TRANSFORMS:
            for arg in [*node.args[1:], *(k.value for k in node.keywords)]:
                bits = _bits(arg)
                if bits is not None and bits > math.log2(MAX_BASIS_COLUMNS + 1):
                    raise UnsafeFormulaError(
                        f"expression {expr!r}{where} asks {ast.unparse(node.func)}() for "
                        f"{ast.unparse(arg)} columns; at most {MAX_BASIS_COLUMNS} are allowed"
                    )
    big = _largest_constant(root)
    if big is not None:
        raise UnsafeFormulaError(
            f"constant {ast.unparse(big)!r} in expression {expr!r}{where} may reach "
            f"2^{MAX_CONSTANT_BITS} or more; formulas compute in double precision (up to about "
            "1.8e308): write a smaller constant"
        )


def _largest_constant(node: ast.AST) -> ast.AST | None:
    """The innermost constant subexpression whose size bound exceeds MAX_CONSTANT_BITS."""
    bits = _bits(node)
    if bits is not None:
        if bits <= MAX_CONSTANT_BITS:
            return None
        for child in ast.iter_child_nodes(node):  # the smallest offending part reads best
            inner = _largest_constant(child)
            if inner is not None:
                return inner
        return node
    for child in ast.iter_child_nodes(node):
        inner = _largest_constant(child)
        if inner is not None:
            return inner
    return None


def _bits(node: ast.AST) -> float | None:
    """An upper bound on log2(1 + |value|) of a constant subexpression; None if it uses a name
    (a column: numpy arithmetic in doubles, bounded in time by the number of rows)."""
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool | int | float) and not isinstance(v, complex):
            return math.log2(1.0 + abs(float(v))) if abs(float(v)) < math.inf else 1024.0
        return 0.0  # strings etc. are refused elsewhere; None (a keyword value) is no number
    if isinstance(node, ast.Name):
        return None
    if isinstance(node, ast.UnaryOp):
        return _bits(node.operand)
    if isinstance(node, ast.BinOp):
        a, b = _bits(node.left), _bits(node.right)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Add | ast.Sub):
            return max(a, b) + 1.0
        if isinstance(node.op, ast.Mult):
            return a + b
        if isinstance(node.op, ast.Pow):
            exponent = 2.0**b if b < 1024 else math.inf  # |exponent| < 2^b
            return a * exponent if a > 0 else 0.0
        if isinstance(node.op, ast.Div):
            return min(a + 1075.0, 1024.0)  # a float: at most 2^1024 (inf beyond)
        return a  # //, %: no larger than the left operand
    if isinstance(node, ast.Compare | ast.BoolOp):
        return _max_bits([c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)], 1.0)
    if isinstance(node, ast.IfExp):
        return _max_bits([node.test, node.body, node.orelse], 0.0)
    if isinstance(node, ast.Call):
        args = [*node.args, *(k.value for k in node.keywords)]
        bits = _max_bits(args, 0.0) if args else None
        return None if bits is None else min(bits, 1024.0)  # numpy: a double at most
    return None


def _max_bits(nodes: list[ast.expr], floor: float) -> float | None:
    """The largest size bound among constant subexpressions; None if any uses a name."""
    out = floor
    for node in nodes:
        bits = _bits(node)
        if bits is None:
            return None
        out = max(out, bits)
    return out
