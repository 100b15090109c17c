"""multilevel: linear mixed (multilevel, hierarchical linear) models with lme4 formulas.

>>> import multilevel
>>> m = multilevel.fit("mathach ~ cses + meanses + (1 + cses | school)", multilevel.datasets.hsb())
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

#: every public name -> (module, attribute; None for the module itself). Imported on first use,
#: so ``import multilevel`` and the command line's ``--help`` do not load pandas, scipy and
#: formulaic before they are needed; ``__init__.pyi`` lists the same names for type checkers.
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "AR1": ("multilevel.residual", "AR1"),
    "Binomial": ("multilevel.family", "Binomial"),
    "CAR1": ("multilevel.residual", "CAR1"),
    "DataError": ("multilevel.errors", "DataError"),
    "Family": ("multilevel.family", "Family"),
    "FitWarning": ("multilevel.errors", "FitWarning"),
    "FormulaError": ("multilevel.errors", "FormulaError"),
    "GlmmFit": ("multilevel.result.fit", "GlmmFit"),
    "LargeFit": ("multilevel.result.fit", "LargeFit"),
    "LmmFit": ("multilevel.result.fit", "LmmFit"),
    "MixedFit": ("multilevel.result.fit", "MixedFit"),
    "MultilevelError": ("multilevel.errors", "MultilevelError"),
    "Poisson": ("multilevel.family", "Poisson"),
    "UnsafeFormulaError": ("multilevel.errors", "UnsafeFormulaError"),
    "VarIdent": ("multilevel.residual", "VarIdent"),
    "VarPower": ("multilevel.residual", "VarPower"),
    "compare_estimators": ("multilevel.compare", "compare_estimators"),
    "datasets": ("multilevel.datasets", None),
    "fit": ("multilevel.api", "fit"),
    "fit_dask": ("multilevel.sources.dask", "fit_dask"),
    "fit_large": ("multilevel.sources", "fit_large"),
    "fit_levels": ("multilevel.levels", "fit_levels"),
    "icc": ("multilevel.ladder", "icc"),
    "ladder": ("multilevel.ladder", "ladder"),
    "latent_icc": ("multilevel.glmm", "latent_icc"),
    "level_equations": ("multilevel.levels", "level_equations"),
    "levels": ("multilevel.levels", None),
    "lrt": ("multilevel.ladder", "lrt"),
    "lrt_sequence": ("multilevel.ladder", "lrt_sequence"),
    "parse_levels": ("multilevel.levels", "parse_levels"),
    "plan": ("multilevel.planning", "plan"),
    "power": ("multilevel.planning", "power"),
    "r2": ("multilevel.ladder", "r2"),
    "simulate": ("multilevel.simulate", None),
    "simulate_type1": ("multilevel.compare", "simulate_type1"),
}


class _Package(types.ModuleType):
    """The package module: ``multilevel.ladder`` is the function ``ladder``, not the subpackage
    of the same name that the import system binds here when one of its modules is imported."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType) and _EXPORTS[name][1]:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'multilevel' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = sorted(_EXPORTS)
