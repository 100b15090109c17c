"""Response distributions and link functions of generalized linear (mixed) models.

A family gives, for the linear predictor eta of each row, the conditional log-likelihood and
its derivatives in eta that the Laplace approximation needs. With d(eta) = -2 log p(y | eta)
(prior weights a included):

* ``a = d'/2 = -a (y - mu) g``, g = mu'/V(mu): half the slope of the deviance;
* ``b = a mu' g``: the Fisher (IRLS) weight, as lme4 uses in PIRLS and in log|L|;
* ``e = d''/2``: the observed half curvature (equal to b for canonical links);
* ``c = db/deta``: how the Fisher weight moves with eta (for the gradient of log|L|).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from multilevel.errors import DataError

EPS = float(np.finfo(float).eps)
#: probit links clip eta here, as R's binomial(link = "probit") (-qnorm(eps))
PROBIT_EDGE = 8.125890664701906


@dataclass(frozen=True)
class RowTerms:
    """Per-row quantities at eta (those not asked for are None)."""

    mu: np.ndarray
    dev_: np.ndarray | None  # -2 log p(y | eta) without the constant (Family.constant)
    a: np.ndarray
    b: np.ndarray
    e: np.ndarray
    c: np.ndarray | None

    @property
    def dev(self) -> np.ndarray:
        if self.dev_ is None:
            raise ValueError("the deviance was not computed for these rows (dev=False)")
        return self.dev_


@dataclass(frozen=True)
class Family:
    """A response distribution with a link: ``Binomial(link="logit")``, ``Poisson()``."""

    name: str
    link: str

    @property
    def is_gaussian(self) -> bool:
        """The normal distribution with the identity link: a linear mixed model."""
        return self.name == "gaussian"

    @property
    def canonical(self) -> bool:
        return (self.name, self.link) in (("binomial", "logit"), ("poisson", "log"))

    # ------------------------------------------------------------ link
    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        return self._mu_derivs(eta, order=0)[0]

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        mu = np.asarray(mu, dtype=float)
        if self.link == "logit":
            return special.logit(mu)
        if self.link == "probit":
            return special.ndtri(mu)
        if self.link == "cloglog":
            return np.log(-np.log1p(-mu))
        if self.link == "identity":
            return mu
        return np.log(mu)

    def _mu_derivs(self, eta: np.ndarray, order: int) -> tuple[np.ndarray, ...]:
        """mu, mu' and mu'' (as far as ``order``) with R's clipping at the edges."""
        if self.link == "identity":
            eta = np.asarray(eta, dtype=float)
            return (eta,) if order == 0 else (eta, np.ones_like(eta), np.zeros_like(eta))
        if self.link == "logit":
            mu = special.expit(eta)
            if order == 0:
                return (mu,)
            d1 = np.maximum(mu * (1 - mu), EPS)
            return mu, d1, d1 * (1 - 2 * mu)
        if self.link == "probit":
            eta = np.clip(eta, -PROBIT_EDGE, PROBIT_EDGE)
            mu = special.ndtr(eta)
            if order == 0:
                return (mu,)
            phi = np.exp(-0.5 * eta * eta) / np.sqrt(2 * np.pi)
            return mu, np.maximum(phi, EPS), -eta * phi
        if self.link == "cloglog":
            ee = np.exp(np.minimum(eta, 700.0))
            mu = np.clip(-np.expm1(-ee), EPS, 1 - EPS)
            if order == 0:
                return (mu,)
            d1 = np.maximum(ee * np.exp(-ee), EPS)
            return mu, d1, d1 * (1 - ee)
        mu = np.exp(eta)  # poisson, log
        return (mu, mu, mu)

    # ------------------------------------------------------------ distribution
    def variance(self, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """V(mu) and V'(mu)."""
        if self.name == "binomial":
            return mu * (1 - mu), 1 - 2 * mu
        if self.name == "gaussian":
            return np.ones_like(mu), np.zeros_like(mu)
        return mu, np.ones_like(mu)

    def rows(
        self, eta: np.ndarray, y: np.ndarray, w: np.ndarray, c: bool = False, dev: bool = True
    ) -> RowTerms:
        """Deviance (if ``dev``) and its derivatives at eta (see the module docstring)."""
        if self.canonical:
            if self.name == "binomial":
                # one exp for both mu and softplus(eta) = log(1 + e^eta), stable at any eta
                e = np.exp(-np.abs(eta))
                r = 1.0 / (1.0 + e)
                mu = np.where(eta >= 0, r, e * r)
                d = None
                if dev:
                    d = 2 * w * (np.maximum(eta, 0.0) + np.log1p(e) - y * eta)
                v = w * mu * (1 - mu)
                return RowTerms(mu, d, w * (mu - y), v, v, v * (1 - 2 * mu) if c else None)
            mu = np.exp(eta)
            v = w * mu
            d = 2 * w * (mu - y * eta) if dev else None
            return RowTerms(mu, d, w * (mu - y), v, v, v if c else None)
        mu, d1, d2 = self._mu_derivs(eta, 2)
        V, dV = self.variance(mu)
        V = np.maximum(V, EPS)
        g = d1 / V
        dg = (d2 * V - d1 * d1 * dV) / (V * V)
        r = y - mu
        b = w * d1 * g
        d = -2 * w * self._loglik_kernel(eta, mu, y) if dev else None
        return RowTerms(mu, d, -w * r * g, b, b - w * r * dg, w * (d2 * g + d1 * dg) if c else None)

    def _loglik_kernel(self, eta: np.ndarray, mu: np.ndarray, y: np.ndarray) -> np.ndarray:
        """y log mu + (1 - y) log(1 - mu) for the binomial (stable in the tails)."""
        if self.link == "probit":
            e = np.clip(eta, -PROBIT_EDGE, PROBIT_EDGE)
            return y * special.log_ndtr(e) + (1 - y) * special.log_ndtr(-e)
        if self.link == "cloglog":
            return y * np.log(mu) + (1 - y) * np.log1p(-mu)
        return y * np.log(mu) - mu

    def constant(self, y: np.ndarray, w: np.ndarray) -> float:
        """-2 x the part of the log-likelihood free of mu (binomial coefficients, log y!)."""
        if self.name == "binomial":
            n = np.round(w)
            k = np.round(w * y)
            return float(
                -2
                * np.sum(
                    special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)
                )
            )
        return float(2 * np.sum(w * special.gammaln(y + 1)))

    def saturated_loglik(self, y: np.ndarray, w: np.ndarray) -> float:
        """log-likelihood at mu = y (what lme4 leaves out of its nAGQ > 1 log-likelihood)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.name == "binomial":
                kern = special.xlogy(y, y) + special.xlogy(1 - y, 1 - y)
            else:
                kern = special.xlogy(y, y) - y
        return float(np.sum(w * kern)) - 0.5 * self.constant(y, w)

    def __str__(self) -> str:
        return f"{self.name}({self.link})"


def Binomial(link: str = "logit") -> Family:  # noqa: N802 - reads as R's binomial()
    """The binomial family (0/1 outcomes or successes out of trials); links logit, probit,
    cloglog."""
    if link not in ("logit", "probit", "cloglog"):
        raise ValueError(f"binomial link must be 'logit', 'probit' or 'cloglog', not {link!r}")
    return Family("binomial", link)


#: the family of a linear mixed model (normal errors, identity link), as R's gaussian()
GAUSSIAN = Family("gaussian", "identity")


def Poisson(link: str = "log") -> Family:  # noqa: N802 - reads as R's poisson()
    """The Poisson family for counts, log link."""
    if link != "log":
        raise ValueError(f"poisson link must be 'log', not {link!r}")
    return Family("poisson", "log")


def get_family(family: str | Family) -> Family:
    """``"binomial"``, ``"poisson"``, ``"binomial(link='probit')"``-like names or a Family."""
    if isinstance(family, Family):
        return family
    if not isinstance(family, str):
        raise DataError(f"family must be 'binomial', 'poisson' or a Family, not {family!r}")
    text = family.strip().lower().replace(" ", "")
    for name, make in (("binomial", Binomial), ("poisson", Poisson)):
        if text == name:
            return make()
        if text.startswith(name + "(") and text.endswith(")"):
            inner = text[len(name) + 1 : -1].replace("link=", "").strip("'\"")
            try:
                return make(inner)
            except ValueError as exc:
                raise DataError(str(exc)) from None
    if text == "gaussian":
        raise DataError("family='gaussian' is the linear mixed model: call fit without family")
    raise DataError(f"unknown family {family!r}: use 'binomial' or 'poisson'")
