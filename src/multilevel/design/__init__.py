"""Formula + data -> the matrices of a linear mixed model (y, X, and one RandomTerm per bar).

The package is also callable: ``multilevel.design(n_groups, group_size, ...)`` is the planner's
``multilevel.plan`` (issue 13 names it so); a module cannot share its name with a function, so
the package's module class gets a ``__call__`` instead.
"""

import sys
import types
from typing import Any

from multilevel.design.model import ModelDesign, build_design

__all__ = ["ModelDesign", "build_design"]


class _PlannerModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A planned two-level design: the same as :func:`multilevel.plan`."""
        from multilevel.planning import plan

        return plan(*args, **kwargs)


sys.modules[__name__].__class__ = _PlannerModule
