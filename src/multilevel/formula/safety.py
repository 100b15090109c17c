"""A closed namespace for formula expressions, checked before anything is evaluated.

formulaic evaluates expressions such as ``log(x)`` or ``I(x**2)`` as Python code. A formula is
user input (and may come from a web form), so every such expression is parsed with :mod:`ast` and
allowed only if it is arithmetic, comparisons and calls of the functions named here on column
names and literals. Attribute access, subscripts, lambdas, comprehensions and any name starting
with an underscore are rejected before evaluation.
"""

from __future__ import annotations

import ast
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
