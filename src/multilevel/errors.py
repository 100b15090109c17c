"""Our own exceptions: every failure a user can cause ends in one of these, with a specific
message."""

from __future__ import annotations


class MultilevelError(Exception):
    """Base class: a clear, user-facing error (the CLI prints it without a traceback)."""


class FormulaError(MultilevelError, ValueError):
    """The formula cannot be parsed or names something that cannot be used; names the term."""


class DataError(MultilevelError, ValueError):
    """The data cannot support the model: missing columns, wrong types, too few levels, ..."""


class UnsafeFormulaError(FormulaError):
    """A formula expression tries to do something other than arithmetic on columns."""


class ModelComparisonError(MultilevelError, ValueError):
    """Models cannot be compared (not nested, different rows, ...)."""


class FitWarning(UserWarning):
    """A fit that did not converge, is singular, or lost rows: also recorded in the result."""


class NoRowsError(DataError, AttributeError):
    """A fit from chunks asked for its rows (fitted values, residuals, the design).

    Also an AttributeError, so ``getattr(fit, "design", None)`` is None for such a fit."""
