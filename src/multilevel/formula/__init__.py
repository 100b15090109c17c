"""lme4 formulas: parse `y ~ fixed + (expr | group)` into a fixed part and random-term specs."""

from multilevel.formula.parse import FormulaSpec, RandomSpec, parse_formula

__all__ = ["FormulaSpec", "RandomSpec", "parse_formula"]
