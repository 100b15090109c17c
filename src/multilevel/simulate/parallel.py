"""Simulations run in chunks on the cores available, reproducible whatever the number of workers.

The simulations are cut into chunks that depend only on their number (never on the number of
workers), every simulation draws from its own child of one SeedSequence, and the chunks' results
are put back in order: one worker or eight give the same numbers, bit for bit.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

from multilevel.simulate.progress import SimulationProgress

#: simulations per chunk: large enough for the batched refits, small enough to share the work
CHUNK = 250

#: the job of the current pool, set in each worker by the initializer
_JOB: Any = None


def available_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def chunks(total: int, size: int = CHUNK) -> list[tuple[int, int]]:
    """[start, stop) ranges of ``size`` simulations covering ``total``."""
    return [(a, min(a + size, total)) for a in range(0, total, size)]


def _one_blas_thread() -> Any:
    """Small dense kernels: one BLAS thread (threads only add synchronisation here)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def _init(job: Any) -> None:
    global _JOB
    _JOB = job
    _one_blas_thread()  # for the worker's lifetime


def _call(task: Any) -> Any:
    return _JOB(task)


def run_chunks(
    job: Callable[[Any], Any],
    tasks: Sequence[Any],
    sizes: Sequence[int],
    workers: int | None = None,
    progress: SimulationProgress | None = None,
) -> list[Any]:
    """``[job(t) for t in tasks]`` on up to ``workers`` processes (None: all cores), in order.

    ``sizes`` are the simulations in each task, for the progress bar. With one worker (or one
    task) everything runs in this process.
    """
    n_workers = available_workers() if workers is None else int(workers)
    if n_workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    n_workers = min(n_workers, len(tasks))
    out: list[Any] = [None] * len(tasks)
    if n_workers <= 1:
        # one BLAS thread, as in the workers: the same arithmetic, hence the same numbers
        with _one_blas_thread():
            for i, t in enumerate(tasks):
                out[i] = job(t)
                if progress is not None:
                    progress.update(sizes[i])
        return out
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(
        max_workers=n_workers, mp_context=ctx, initializer=_init, initargs=(job,)
    ) as pool:
        futures = {pool.submit(_call, t): i for i, t in enumerate(tasks)}
        for fut in as_completed(futures):
            i = futures[fut]
            out[i] = fut.result()
            if progress is not None:
                progress.update(sizes[i])
    return out


def stack(parts: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate(list(parts), axis=0)
