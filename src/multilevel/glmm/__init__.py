"""Generalized linear mixed models (binary, binomial and count outcomes), as lme4's glmer.

A GLMM fit is the one result class of every fit (:class:`multilevel.result.fit.MixedFit`,
``GlmmFit`` is its old name) with a binomial or Poisson ``family``."""

from multilevel.glmm.fit import fit_glmm
from multilevel.glmm.icc import LatentIcc, latent_icc
from multilevel.result.fit import GlmmFit

__all__ = ["GlmmFit", "LatentIcc", "fit_glmm", "latent_icc"]
