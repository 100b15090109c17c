"""theta -> profiled deviance, from cross-products computed once."""

from multilevel.objective.crossprod import CrossProducts, cross_products
from multilevel.objective.deviance import Evaluation, ProfiledDeviance

__all__ = ["CrossProducts", "Evaluation", "ProfiledDeviance", "cross_products"]
