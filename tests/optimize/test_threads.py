"""BLAS threads for the fit's kernels: one thread unless more threads measurably pay now."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info

from multilevel.optimize import threads


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_busy_machine_gets_one_thread_without_probing(monkeypatch):
    """Issue 15 item 5: with the cores already busy, a large crossed system runs on one BLAS
    thread (two threads fighting made a fit slower than lme4's), and no threaded probe runs."""
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (8.0, 8.0, 8.0))
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    probed = []
    monkeypatch.setattr(threads.sla, "cholesky", lambda *a, **k: probed.append(1))
    assert not threads.threads_pay(1144)
    assert not probed
    with threads.kernel_threads(1128, 16):
        assert _blas_threads() and set(_blas_threads()) == {1}


def test_threads_kept_only_when_the_timed_kernel_is_faster(monkeypatch):
    """On an idle machine the choice follows the measured Cholesky times."""
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    clock = iter([0.0, 1.0, 0.0, 1.0, 0.0, 0.2])  # one thread: 1 s (twice); default: 0.2 s
    monkeypatch.setattr(threads.time, "perf_counter", lambda: next(clock))
    assert threads.threads_pay(1144)
    clock = iter([0.0, 1.0, 0.0, 1.0, 0.0, 0.95])  # default not clearly faster
    monkeypatch.setattr(threads.time, "perf_counter", lambda: next(clock))
    assert not threads.threads_pay(1144)


@pytest.mark.parametrize(("n_rest", "p"), [(0, 60), (300, 5)])
def test_small_systems_run_on_one_thread(n_rest, p):
    with threads.kernel_threads(n_rest, p):
        assert set(_blas_threads()) == {1}
