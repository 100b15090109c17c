"""multilevel: linear mixed (multilevel, hierarchical linear) models with lme4 formulas.

>>> import multilevel
>>> m = multilevel.fit("mathach ~ cses + meanses + (1 + cses | school)", multilevel.datasets.hsb())
"""

from multilevel import datasets
from multilevel.api import FitWarning, fit
from multilevel.errors import DataError, FormulaError, MultilevelError, UnsafeFormulaError
from multilevel.result.fit import LmmFit

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "FitWarning",
    "FormulaError",
    "LmmFit",
    "MultilevelError",
    "UnsafeFormulaError",
    "datasets",
    "fit",
]
