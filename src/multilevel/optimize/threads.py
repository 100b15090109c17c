"""How many BLAS threads the fit's dense kernels get.

Small dense kernels gain nothing from BLAS threads but pay their synchronisation, badly so on a
busy machine (a 1145 x 1145 Cholesky took 3.3 s with two threads instead of 0.06 s with one, on a
loaded 2-core machine). One thread is set for them. Finding the BLAS libraries costs about 10 ms,
so it is done once per process, and not at all when every kernel is tiny (one grouping factor
and few fixed effects: p x p and Q x Q matrices, which BLAS never threads).
"""

from __future__ import annotations

import contextlib
from typing import Any

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
    """Context manager for the fit: one BLAS thread for small dense systems, else unchanged."""
    if n_rest == 0 and p < TINY_P:
        return contextlib.nullcontext()
    if n_rest + p > SMALL_SYSTEM:
        return contextlib.nullcontext()
    return _blas().limit(limits=1, user_api="blas")
