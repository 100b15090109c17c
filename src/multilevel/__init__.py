"""multilevel: linear mixed (multilevel, hierarchical linear) models with lme4 formulas.

>>> import multilevel
>>> m = multilevel.fit("mathach ~ cses + meanses + (1 + cses | school)", multilevel.datasets.hsb())
"""

from typing import Any

from multilevel import datasets, levels
from multilevel.api import fit
from multilevel.compare import compare_estimators, simulate_type1
from multilevel.errors import (
    DataError,
    FitWarning,
    FormulaError,
    MultilevelError,
    UnsafeFormulaError,
)
from multilevel.family import Binomial, Family, Poisson
from multilevel.ladder import icc, ladder, lrt, lrt_sequence, r2
from multilevel.levels import fit_levels, level_equations, parse_levels
from multilevel.residual import AR1, CAR1, VarIdent, VarPower
from multilevel.result.fit import GlmmFit, LargeFit, LmmFit, MixedFit
from multilevel.sources import fit_large
from multilevel.sources.dask import fit_dask

__version__ = "0.1.0"

#: imported on first use (simulation and power analysis; keeps ``import multilevel`` fast)
_LAZY = {
    "simulate": "multilevel.simulate",
    "power": "multilevel.planning",
    "plan": "multilevel.planning",
    "latent_icc": "multilevel.glmm",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        return module if name == "simulate" else getattr(module, name)
    raise AttributeError(f"module 'multilevel' has no attribute {name!r}")


__all__ = [
    "AR1",
    "Binomial",
    "CAR1",
    "Family",
    "GlmmFit",
    "Poisson",
    "VarIdent",
    "VarPower",
    "latent_icc",
    "DataError",
    "FitWarning",
    "FormulaError",
    "LargeFit",
    "LmmFit",
    "MixedFit",
    "MultilevelError",
    "UnsafeFormulaError",
    "compare_estimators",
    "datasets",
    "fit",
    "fit_dask",
    "fit_large",
    "fit_levels",
    "icc",
    "ladder",
    "level_equations",
    "levels",
    "lrt",
    "lrt_sequence",
    "parse_levels",
    "plan",
    "power",
    "r2",
    "simulate",
    "simulate_type1",
]
