"""How many BLAS threads the fit's dense kernels get.

Small dense kernels gain nothing from BLAS threads but pay their synchronisation, badly so on a
busy machine (a 1145 x 1145 Cholesky took 3.3 s with two threads instead of 0.06 s with one on
a loaded 2-core machine; 17-20 ms with one on the same machine when quiet). A fit runs on one
BLAS thread. Finding the BLAS libraries costs about 10 ms, so it is done once per process, and
not at all when every kernel is tiny (one grouping factor and few fixed effects: p x p and
Q x Q matrices, which BLAS never threads).

The one large kernel, the Cholesky of a crossed fit's dense Schur complement (or of a wide X),
gets the default threads only if they pay *now*, judged on the fit's own factorizations
(:class:`MeasuredThreads`: no probe of its own). Threads are tried only if the other cores were
measurably idle while the fit ran on one (/proc/stat; the load average elsewhere): on a loaded
2-core machine one threaded 1145 x 1145 Cholesky took 0.2-0.9 s, so a fit on busy cores stays
on one thread, as lme4 does. Should the cores turn busy between the measurement and the trial,
one threaded trial far slower than one thread (GIVE_UP) ends the trials: that call is the only
one the fit runs slower than single-threaded.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from threadpoolctl import ThreadpoolController

#: dense systems up to this size run on one BLAS thread; larger ones may get more
SMALL_SYSTEM = 400
#: below this many fixed effects a one-factor fit has no kernel BLAS would thread
TINY_P = 50
#: factorizations timed on one thread, then as many on the default, before the choice
TRIALS = 2
#: threads are tried only if this fraction of the extra cores was idle meanwhile
IDLE_NEEDED = 0.75
#: the default threads are kept only if faster than this fraction of one thread's time (best
#: against best: single timings of a 1145 x 1145 Cholesky vary by 30% on a quiet machine)
MUST_WIN = 0.9

#: this process's CPU seconds, all its threads (a name of its own, so tests can stand in for it)
process_cpu = time.process_time
#: a threaded trial this many times slower than one thread's best ends the trials at once
GIVE_UP = 3.0
#: /proc/stat's clock ticks per second (USER_HZ)
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

T = TypeVar("T")
_controller: ThreadpoolController | None = None


def _blas() -> ThreadpoolController:
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


def _default_threads() -> int:
    """The BLAS libraries' own thread count (before any limit of ours)."""
    counts = [lib.num_threads for lib in _blas().lib_controllers if lib.user_api == "blas"]
    return max(counts, default=1)


def cores() -> int:
    """The CPUs this process may run on (its affinity: fewer than the machine's in a
    container or under taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy() -> bool:
    """Whether the load average already fills the cores (threads would wait for each other)."""
    cpus = cores()
    return cpus < 2 or os.getloadavg()[0] > cpus - 0.5


def _cpu_ticks() -> tuple[int, int] | None:
    """(idle, total) clock ticks of all CPUs since boot (Linux), else None."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[3] + (fields[4] if len(fields) > 4 else 0), sum(fields)


class IdleCores:
    """How many cores beyond the one this process runs on were left free by other processes
    since this was made (None where it cannot be read).

    The idle ticks of /proc/stat undercount them: this process's own extra threads (OpenBLAS
    workers spinning after a threaded call, say) look busy there, and a fresh fit's first
    fraction of a second is full of them, so this process's CPU time is counted as free. That
    counts any other busy thread of this process as free too (two fits in two Python threads);
    the chooser then still keeps threads only where they are measured to pay."""

    def __init__(self) -> None:
        self.start = _cpu_ticks()
        self.own_start = process_cpu()

    def since(self) -> float | None:
        now = _cpu_ticks()
        if self.start is None or now is None or now[1] <= self.start[1]:
            return None
        idle, total = now[0] - self.start[0], now[1] - self.start[1]
        cpus = os.cpu_count() or 1  # /proc/stat counts every CPU
        own = (process_cpu() - self.own_start) * TICKS_PER_SECOND
        free = cpus * min(idle + own, total) / total - 1.0
        return min(max(free, 0.0), cpus - 1.0)


class MeasuredThreads:
    """Runs a kernel on one BLAS thread or on ``threads``, whichever the kernel's own timings
    favour: the first TRIALS calls on one thread; then, if the other cores were free meanwhile,
    TRIALS calls on ``threads``; the faster (best against best; the threaded one must win by
    10%, not by noise) runs every later call."""

    def __init__(
        self,
        threads: int,
        clock: Callable[[], float] = time.perf_counter,
        idle: Callable[[], float | None] | None = None,
    ):
        self.threads = threads
        self.clock = clock
        self.idle = idle if idle is not None else IdleCores().since
        self.times: dict[int, list[float]] = {1: [], threads: []}
        self.choice: int | None = None if threads > 1 else 1

    def run(self, kernel: Callable[[], T]) -> T:
        if self.choice is not None:
            return self._with(self.choice, kernel) if self.choice != 1 else kernel()
        n = 1 if len(self.times[1]) < TRIALS else self.threads
        start = self.clock()
        out = self._with(n, kernel) if n != 1 else kernel()
        self.times[n].append(self.clock() - start)
        one = min(self.times[1])
        if n == 1 and len(self.times[1]) == TRIALS:
            idle = self.idle()
            if busy() if idle is None else idle < IDLE_NEEDED * (self.threads - 1):
                self.choice = 1  # the other cores are taken: threads would wait
        elif n != 1 and self.times[n][-1] > GIVE_UP * one:
            self.choice = 1  # far slower: the cores were not free after all; no second trial
        elif n != 1 and len(self.times[n]) == TRIALS:
            self.choice = self.threads if min(self.times[n]) < MUST_WIN * one else 1
        return out

    @staticmethod
    def _with(n: int, kernel: Callable[[], T]) -> T:
        with _blas().limit(limits=n, user_api="blas"):
            return kernel()


@contextlib.contextmanager
def kernel_threads(n_rest: int, p: int) -> Iterator[MeasuredThreads | None]:
    """Context of a fit: one BLAS thread. For a large dense system on more than one core it
    yields a :class:`MeasuredThreads` for its Cholesky (which tries threads only on cores that
    stand idle meanwhile), else None."""
    if n_rest == 0 and p < TINY_P:
        yield None
        return
    large = n_rest + p > SMALL_SYSTEM
    threads = _default_threads() if large else 1
    with _blas().limit(limits=1, user_api="blas"):
        # no load-average gate here: it lags a minute behind (a quiet machine just after a busy
        # one reads busy); the chooser measures the cores while the fit runs
        yield MeasuredThreads(threads) if large and threads > 1 and cores() > 1 else None


def stencil_workers(chooser: MeasuredThreads | None, idle: IdleCores) -> int:
    """How many deviance evaluations of the convergence check's stencil run at once: two when
    the fit's Cholesky runs on one BLAS thread and another core stood idle while the optimizer
    ran (measured since ``idle`` was made), else one."""
    if chooser is None or chooser.choice != 1 or cores() < 2:
        return 1
    free = idle.since()
    if free is None:
        return 1 if busy() else 2
    return 2 if free >= IDLE_NEEDED else 1
