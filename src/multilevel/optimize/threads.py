"""How many BLAS threads the fit's dense kernels get.

Small dense kernels gain nothing from BLAS threads but pay their synchronisation, badly so on a
busy machine (a 1145 x 1145 Cholesky took 3.3 s with two threads instead of 0.06 s with one, on a
loaded 2-core machine). One thread is set for them. Finding the BLAS libraries costs about 10 ms,
so it is done once per process, and not at all when every kernel is tiny (one grouping factor
and few fixed effects: p x p and Q x Q matrices, which BLAS never threads).

Large systems (a crossed fit's dense Schur complement) get more threads only if they pay *now*:
the Cholesky of a matrix of that size is timed with one thread and with the default, and the
faster wins. On a machine busy with other CPU-bound processes the default loses (threads wait
for each other), so a fit never runs slower than single-threaded, as lme4 does.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import numpy as np
import scipy.linalg as sla
from threadpoolctl import ThreadpoolController

#: dense systems up to this size run on one BLAS thread; larger ones get the default
SMALL_SYSTEM = 400
#: below this many fixed effects a one-factor fit has no kernel BLAS would thread
TINY_P = 50

_controller: ThreadpoolController | None = None


def _blas() -> ThreadpoolController:
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


def kernel_threads(n_rest: int, p: int) -> Any:
    """Context manager for the fit: one BLAS thread for small dense systems; for large ones,
    whichever of one thread and the default factors a system of their size faster now."""
    if n_rest == 0 and p < TINY_P:
        return contextlib.nullcontext()
    if n_rest + p > SMALL_SYSTEM and (os.cpu_count() or 1) > 1 and threads_pay(n_rest + p):
        return contextlib.nullcontext()
    return _blas().limit(limits=1, user_api="blas")


#: the timed Cholesky is at most this size (its cost grows as size^3; the decision does not)
PROBE_LIMIT = 1200


def threads_pay(size: int, repeats: int = 2) -> bool:
    """True if the default BLAS threads factor a size x size SPD matrix faster than one thread
    does (best of ``repeats`` wall times each, a few tens of ms in all).

    A machine whose load average already fills its cores is not probed (on a loaded 2-core
    machine one threaded 1144^2 Cholesky took seconds): one thread.
    """
    cpus = os.cpu_count() or 1
    if os.getloadavg()[0] > cpus - 0.5:
        return False
    m = min(size, PROBE_LIMIT)
    rng = np.random.default_rng(0)
    B = rng.standard_normal((m, 8))
    S = B @ B.T + m * np.eye(m)

    def best() -> float:
        out = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            sla.cholesky(S, lower=True, check_finite=False)
            out = min(out, time.perf_counter() - t)
        return out

    with _blas().limit(limits=1, user_api="blas"):
        one = best()
    repeats = 1  # the threaded run once: if threads are slow now, they are very slow
    return best() < 0.8 * one  # threads must win clearly, not by noise
