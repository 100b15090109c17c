"""Generalized linear mixed models (binary, binomial and count outcomes), as lme4's glmer."""

from multilevel.glmm.fit import fit_glmm
from multilevel.glmm.icc import LatentIcc, latent_icc
from multilevel.glmm.result import GlmmFit

__all__ = ["GlmmFit", "LatentIcc", "fit_glmm", "latent_icc"]
