"""The Laplace deviance of a GLMM with one grouping factor, vectorised over groups.

With b_j = Lambda u_j and eta_i = o_i + x_i'beta + z_i'Lambda u_j, the penalised deviance
P_j(u) = sum_{i in j} d_i(eta_i) + |u|^2 separates by group, so PIRLS is a batch of q x q Newton
steps (with step halving per group), and the Laplace deviance

    F(theta, beta) = sum_j [ P_j(u_j) + log det(I + Lambda' Z_j'W_j Z_j Lambda) ]

(W the Fisher weights at the modes u_j) needs only per-group sums over rows. Its exact gradient
in (theta, beta) follows from the implicit function theorem (du/dphi = -J^-1 d grad/dphi, J the
curvature of P) and dW/deta: a few more sums over the rows per evaluation. lme4's deviance
(``devfun`` of ``glmer``, nAGQ = 1) is the same function, up to its constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.family import Family, RowTerms

#: PIRLS stops when every group's Newton decrement is below this (deviance units); one last
#: full step then leaves the modes accurate to about its square
DECREMENT_TOL = 1e-11
MAX_PIRLS = 60
#: below this Newton decrement (in every group) steps are taken without checking the deviance
SAFE_DECREMENT = 0.05


@dataclass
class GroupedState:
    """The modes and the row quantities at the last evaluation (reused as the next start)."""

    u: np.ndarray  # (G, q)
    eta: np.ndarray
    rows: RowTerms
    iterations: int


def _inv_batch(A: np.ndarray) -> np.ndarray:
    q = A.shape[-1]
    if q == 1:
        return 1.0 / A
    if q == 2:
        a, b, c, d = A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1]
        det = a * d - b * c
        out = np.empty_like(A)
        out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = d, -b, -c, a
        return out / det[:, None, None]
    return np.linalg.inv(A)


def _logdet_batch(A: np.ndarray) -> np.ndarray:
    q = A.shape[-1]
    if q == 1:
        return np.log(A[:, 0, 0])
    if q == 2:
        return np.log(A[:, 0, 0] * A[:, 1, 1] - A[:, 0, 1] * A[:, 1, 0])
    return 2 * np.log(np.diagonal(np.linalg.cholesky(A), axis1=1, axis2=2)).sum(axis=1)


class GroupedLaplace:
    """F(theta, beta) and its gradient for terms on one grouping factor (q effects per group)."""

    def __init__(
        self,
        X: np.ndarray,
        Z: np.ndarray,
        codes: np.ndarray,
        G: int,
        y: np.ndarray,
        w: np.ndarray,
        offset: np.ndarray,
        family: Family,
        theta_rows: np.ndarray,
        theta_cols: np.ndarray,
    ) -> None:
        self.X, self.Z, self.codes, self.G = X, Z, codes, G
        self.y, self.w, self.offset, self.family = y, w, offset, family
        self.n, self.p = X.shape
        self.q = Z.shape[1]
        self.theta_rows, self.theta_cols = theta_rows, theta_cols
        self.constant = family.constant(y, w)
        ones = [bool(np.all(Z[:, k] == 1.0)) for k in range(self.q)]
        xones = [bool(np.all(X[:, k] == 1.0)) for k in range(self.p)]
        self._zones = ones

        def prod(a: np.ndarray, a_one: bool, b: np.ndarray, b_one: bool) -> np.ndarray | None:
            if a_one and b_one:
                return None  # the row weight itself
            if a_one:
                return b
            if b_one:
                return a
            return a * b

        self.pairs = [(k, m) for k in range(self.q) for m in range(k, self.q)]
        self.zz = [prod(Z[:, k], ones[k], Z[:, m], ones[m]) for k, m in self.pairs]
        self.zx = [
            [prod(Z[:, k], ones[k], X[:, m], xones[m]) for m in range(self.p)]
            for k in range(self.q)
        ]
        self.state: GroupedState | None = None
        self.pirls_iterations = 0
        # du/dphi at the last gradient (G, q, k): predicts the modes at the next phi
        self._du: np.ndarray | None = None
        self._du_at = np.zeros(0)

    def snapshot(self) -> tuple[GroupedState | None, np.ndarray | None, np.ndarray]:
        """The modes and row terms of the last evaluation (never mutated, only replaced)."""
        return self.state, self._du, self._du_at

    def restore(self, snap: tuple[GroupedState | None, np.ndarray | None, np.ndarray]) -> None:
        """Back to a snapshot: as if the last evaluation were the one it was taken after."""
        self.state, self._du, self._du_at = snap

    # ------------------------------------------------------------------ small pieces
    def Lambda(self, theta: np.ndarray) -> np.ndarray:
        L = np.zeros((self.q, self.q))
        L[self.theta_rows, self.theta_cols] = theta
        return L

    def _gsum(self, v: np.ndarray, col: np.ndarray | None) -> np.ndarray:
        wts = v if col is None else v * col
        return np.bincount(self.codes, weights=wts, minlength=self.G)

    def gsum_z(self, v: np.ndarray) -> np.ndarray:
        """(G, q): sum over rows of v z."""
        return np.stack(
            [self._gsum(v, None if self._zones[k] else self.Z[:, k]) for k in range(self.q)], 1
        )

    def gsum_zz(self, v: np.ndarray) -> np.ndarray:
        """(G, q, q): sum over rows of v z z'."""
        S = np.empty((self.G, self.q, self.q))
        for (k, m), col in zip(self.pairs, self.zz, strict=True):
            S[:, k, m] = S[:, m, k] = self._gsum(v, col)
        return S

    def gsum_zx(self, v: np.ndarray) -> np.ndarray:
        """(G, q, p): sum over rows of v z x'."""
        S = np.empty((self.G, self.q, self.p))
        for k in range(self.q):
            for m in range(self.p):
                S[:, k, m] = self._gsum(v, self.zx[k][m])
        return S

    def zb(self, b: np.ndarray) -> np.ndarray:
        """z_i' b_j(i) for every row."""
        out = np.zeros(self.n)
        for k in range(self.q):
            bk = b[:, k][self.codes]
            out += bk if self._zones[k] else self.Z[:, k] * bk
        return out

    def zMz(self, M: np.ndarray) -> np.ndarray:
        """z_i' M_j(i) z_i for a (G, q, q) symmetric M."""
        out = np.zeros(self.n)
        for (k, m), col in zip(self.pairs, self.zz, strict=True):
            v = M[:, k, m][self.codes] * (1.0 if k == m else 2.0)
            out += v if col is None else v * col
        return out

    def _curv(self, S: np.ndarray, L: np.ndarray) -> np.ndarray:
        """I + Lambda' S_j Lambda for every group."""
        A = np.einsum("ki,gkl,lj->gij", L, S, L)
        A += np.eye(self.q)
        return A

    # ------------------------------------------------------------------ PIRLS
    def _newton_step(
        self, rt: RowTerms, L: np.ndarray, grad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Newton step on P_j (observed curvature e), or a Fisher-scoring step (weights b)
        where the observed curvature is not positive (non-canonical links far from the
        mode). Newton's quadratic convergence keeps the modes exact enough for the gradient."""
        J = self._curv(self.gsum_zz(rt.b if self.family.canonical else rt.e), L)
        delta = -np.einsum("gij,gj->gi", _inv_batch(J), grad)
        dec = -(grad * delta).sum(1)
        if not self.family.canonical:
            bad = ~(dec > 0) | ~np.isfinite(dec)
            if bad.any():
                Jb = self._curv(self.gsum_zz(rt.b), L)
                db = -np.einsum("gij,gj->gi", _inv_batch(Jb), grad)
                delta[bad] = db[bad]
                dec[bad] = -(grad[bad] * db[bad]).sum(1)
        return delta, dec

    def pirls(self, theta: np.ndarray, beta: np.ndarray, c: bool = False) -> GroupedState:
        """Modes u_j of every group at (theta, beta), from the last modes as the start.

        Newton steps (Fisher scoring for other than canonical links); a step is checked and
        halved per group only while some group's Newton decrement is above SAFE_DECREMENT
        (close to the mode a full step always lowers the convex penalised deviance), so most
        iterations cost one pass without the deviance itself. The row terms of the result
        hold the deviance (and dW/deta if ``c``)."""
        L = self.Lambda(theta)
        eta0 = self.offset + self.X @ beta
        u = self.state.u.copy() if self.state is not None else np.zeros((self.G, self.q))
        if self._du is not None and self.state is not None:  # first-order prediction
            phi = np.concatenate([theta, beta])
            if phi.shape == self._du_at.shape:
                u += self._du @ (phi - self._du_at)
        eta = eta0 + self.zb(u @ L.T)
        rt = self.family.rows(eta, self.y, self.w, dev=False)
        P: np.ndarray | None = None
        it = 0
        for _ in range(MAX_PIRLS):
            it += 1
            grad = self.gsum_z(rt.a) @ L + u
            delta, dec = self._newton_step(rt, L, grad)
            if not np.all(np.isfinite(dec)):
                if not np.any(u):
                    break
                u = np.zeros((self.G, self.q))  # the last modes are no start here
                eta = eta0.copy()
                rt = self.family.rows(eta, self.y, self.w, dev=False)
                P = None
                continue
            dmax = float(dec.max(initial=0.0))
            if dmax < SAFE_DECREMENT:
                u = u + delta
                eta = eta0 + self.zb(u @ L.T)
                rt = self.family.rows(eta, self.y, self.w, dev=False)
                P = None
                if dmax < DECREMENT_TOL:
                    break
                continue
            if P is None:
                d0 = self.family.rows(eta, self.y, self.w).dev
                P = self._gsum(d0, None) + (u * u).sum(1)
            step = np.ones(self.G)
            for _ in range(30):
                u_new = u + step[:, None] * delta
                eta_new = eta0 + self.zb(u_new @ L.T)
                rt_new = self.family.rows(eta_new, self.y, self.w)
                P_new = self._gsum(rt_new.dev, None) + (u_new * u_new).sum(1)
                worse = ~(P_new <= P + 1e-10 * (1.0 + np.abs(P)))  # NaN is worse
                if not worse.any():
                    break
                step[worse] *= 0.5
            else:  # no decrease in 30 halvings: those groups keep their modes
                step[worse] = 0.0
                u_new = u + step[:, None] * delta
                eta_new = eta0 + self.zb(u_new @ L.T)
                rt_new = self.family.rows(eta_new, self.y, self.w)
                P_new = self._gsum(rt_new.dev, None) + (u_new * u_new).sum(1)
            u, eta, rt, P = u_new, eta_new, rt_new, P_new
        rt = self.family.rows(eta, self.y, self.w, c=c)
        self.pirls_iterations += it
        self.state = GroupedState(u, eta, rt, it)
        return self.state

    # ------------------------------------------------------------------ objective
    def deviance(self, phi: np.ndarray, nth: int) -> float:
        """Laplace deviance -2 log L at phi = (theta, beta)."""
        theta, beta = phi[:nth], phi[nth:]
        st = self.pirls(theta, beta)
        L = self.Lambda(theta)
        H = self._curv(self.gsum_zz(st.rows.b), L)
        return float(st.rows.dev.sum() + (st.u**2).sum() + _logdet_batch(H).sum() + self.constant)

    def deviance_and_gradient(self, phi: np.ndarray, nth: int) -> tuple[float, np.ndarray]:
        """Laplace deviance and its exact gradient in (theta, beta)."""
        theta, beta = phi[:nth], phi[nth:]
        st = self.pirls(theta, beta, c=True)
        L = self.Lambda(theta)
        rt = st.rows
        Sb = self.gsum_zz(rt.b)
        H = self._curv(Sb, L)
        value = float(rt.dev.sum() + (st.u**2).sum() + _logdet_batch(H).sum() + self.constant)
        Hinv = _inv_batch(H)
        if self.family.canonical:
            Se, Jinv = Sb, Hinv
        else:
            Se = self.gsum_zz(rt.e)
            Jinv = _inv_batch(self._curv(Se, L))
        assert rt.c is not None
        M = np.einsum("ik,gkl,jl->gij", L, Hinv, L)
        t = rt.c * self.zMz(M)
        Saz = self.gsum_z(rt.a)
        Stz = self.gsum_z(t)
        u = st.u
        # beta
        du_db = -np.einsum("gij,kj,gkp->gip", Jinv, L, self.gsum_zx(rt.e))
        g_beta = 2 * (self.X.T @ rt.a) + self.X.T @ t + np.einsum("gk,kj,gjp->p", Stz, L, du_db)
        # theta
        g_theta = np.empty(nth)
        LtSb = np.einsum("ki,gkl->gil", L, Sb)
        du_all = np.empty((self.G, self.q, nth + self.p))
        du_all[:, :, nth:] = du_db
        for m in range(nth):
            dL = np.zeros((self.q, self.q))
            dL[self.theta_rows[m], self.theta_cols[m]] = 1.0
            dLu = u @ dL.T
            rhs = Saz @ dL + np.einsum("ki,gkl,gl->gi", L, Se, dLu)
            du = -np.einsum("gij,gj->gi", Jinv, rhs)
            du_all[:, :, m] = du
            g_theta[m] = (
                2 * (Saz * dLu).sum()
                + 2 * np.einsum("gij,gjk,ki->", Hinv, LtSb, dL)
                + (Stz * (dLu + du @ L.T)).sum()
            )
        self._du, self._du_at = du_all, phi.copy()
        return value, np.concatenate([g_theta, g_beta])

    def agq_deviance(self, phi: np.ndarray, nth: int, nagq: int) -> float:
        """Adaptive Gauss-Hermite deviance (one scalar random effect): nodes at the modes,
        scaled by each group's curvature, as lme4's nAGQ > 1 (full -2 log L, constant in)."""
        theta, beta = phi[:nth], phi[nth:]
        st = self.pirls(theta, beta)
        L = self.Lambda(theta)
        H = self._curv(self.gsum_zz(st.rows.b), L)[:, 0, 0]
        s = 1.0 / np.sqrt(H)
        z, wq = np.polynomial.hermite_e.hermegauss(nagq)
        wq = wq / np.sqrt(2 * np.pi)
        eta0 = st.eta - self.zb(st.u @ L.T)
        P0 = self._gsum(st.rows.dev, None) + st.u[:, 0] ** 2
        acc = np.zeros(self.G)
        for zk, wk in zip(z, wq, strict=True):
            uk = st.u[:, 0] + s * zk
            devk = self.family.rows(eta0 + self.zb((uk * L[0, 0])[:, None]), self.y, self.w).dev
            Pk = self._gsum(devk, None) + uk**2
            acc += wk * np.exp(0.5 * zk * zk - 0.5 * (Pk - P0))
        return float((P0 + np.log(H) - 2 * np.log(acc)).sum() + self.constant)

    # ------------------------------------------------------------------ at the optimum
    def modes(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """b_j = Lambda u_j and Var(b_j | y) = Lambda H_j^-1 Lambda' at the last PIRLS."""
        assert self.state is not None
        L = self.Lambda(theta)
        H = self._curv(self.gsum_zz(self.state.rows.b), L)
        return self.state.u @ L.T, np.einsum("ik,gkl,jl->gij", L, _inv_batch(H), L)

    def unscaled_vcov(self, theta: np.ndarray) -> np.ndarray:
        """(R_X'R_X)^-1 from the PIRLS weights at the modes (lme4's ``unsc``)."""
        assert self.state is not None
        L = self.Lambda(theta)
        b = self.state.rows.b
        H = self._curv(self.gsum_zz(b), L)
        LZWX = np.einsum("ki,gkp->gip", L, self.gsum_zx(b))
        XWX = self.X.T @ (b[:, None] * self.X)
        RX = XWX - np.einsum("gip,gij,gjr->pr", LZWX, _inv_batch(H), LZWX)
        return np.linalg.inv(RX)

    def fixed_information(self, theta: np.ndarray) -> np.ndarray:
        """R_X'R_X at the last modes: half the deviance's curvature in beta, up to the
        (small) curvature of log|L|."""
        return np.linalg.inv(self.unscaled_vcov(theta))
