"""Fuzzing the ``multilevel fit`` command with CSV files: exit 0 with complete output, or exit 2
with one line ``error: ...`` on stderr, nothing on stdout and no traceback.

``main`` is called in-process (fast); two tests run the real console entry point in a
subprocess to check what a shell user sees.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, example, given, reject, settings
from hypothesis import strategies as st

import multilevel
from fuzz.strategies import KNOWN_BUGS, csv_bytes, formulas
from multilevel.cli import main

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FLAGS = st.sampled_from([[], ["--json"], ["--ml"], ["--format", "markdown"], ["--json", "--ml"]])


def _reject_constant(token: str) -> float:
    raise AssertionError(f"JSON output contains {token}")


def run_cli(argv: list[str], known_bugs: bool = False) -> tuple[int, str, str]:
    """Run ``multilevel`` in-process; return (exit code, stdout, stderr) and check the contract.

    ``known_bugs=True`` (fuzz tests only) discards examples raising a type in KNOWN_BUGS.
    """
    out, err = io.StringIO(), io.StringIO()
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        warnings.simplefilter("always")
        try:
            rc = main(argv)
        except KNOWN_BUGS:
            if not known_bugs:
                raise
            reject()
    stdout, stderr = out.getvalue(), err.getvalue()
    leaked = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, multilevel.FitWarning)
    ]
    assert not leaked, f"warnings other than FitWarning: {leaked}"
    assert rc in (0, 2), rc
    assert "Traceback" not in stderr
    if rc == 2:
        assert stdout == "", "partial output on stdout after an error"
        assert stderr.startswith("error: ")
        assert len(stderr.strip().splitlines()) == 1, f"more than one line: {stderr!r}"
    else:
        assert stdout.strip()
        if "--json" in argv:
            doc = json.loads(stdout, parse_constant=_reject_constant)
            assert {"loglik", "beta", "sigma", "converged"} <= set(doc)
    return rc, stdout, stderr


def _write(directory: str, content: bytes, name: str = "data.csv") -> str:
    path = Path(directory) / name
    path.write_bytes(content)
    return str(path)


@SETTINGS
@given(content=csv_bytes(), formula=formulas(mangle=False), flags=FLAGS)
def test_fit_cli_on_random_csv(content, formula, flags):
    with tempfile.TemporaryDirectory() as d:
        run_cli(["fit", *flags, "--", _write(d, content), formula], known_bugs=True)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(formula=formulas(), flags=FLAGS)
def test_fit_cli_on_random_formula(formula, flags):
    rng = np.random.default_rng(1)
    data = pd.DataFrame(
        {
            "y": rng.normal(size=24),
            "x": rng.normal(size=24),
            "z": np.linspace(1, 2, 24),
            "g": np.repeat(list("abcd"), 6),
            "h": np.tile(list("pq"), 12),
        }
    )
    with tempfile.TemporaryDirectory() as d:
        csv = _write(d, data.to_csv(index=False).encode())
        run_cli(["fit", *flags, "--", csv, formula], known_bugs=True)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(content=csv_bytes(extreme=True), formula=formulas(extreme=True, mangle=False))
@example(
    content=b"y,x,g\n1e300,1,a\n-2e300,2,a\n3e300,3,b\n1e300,5,b\n-1e300,1,c\n2e300,0,c\n",
    formula="y ~ x + (1 | g)",
)
def test_fit_cli_extreme(content, formula):
    with tempfile.TemporaryDirectory() as d:
        run_cli(["fit", "--json", "--", _write(d, content), formula])


@pytest.mark.parametrize(
    "name,content",
    [
        ("empty.csv", b""),
        ("header.csv", b"y,x,g\n"),
        ("blank.csv", b"\n\n\n"),
        ("binary.csv", b"\xff\xfe\x00\x01garbage\x00"),
        ("quote.csv", b'y,x,g\n1,2,"a\n'),
        ("fake.parquet", b"y,x,g\n1,2,a\n"),
        ("semicolons.csv", b"y;x;g\n1;2;a\n2;3;b\n"),
    ],
)
def test_unreadable_files(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    rc, _, err = run_cli(["fit", str(path), "y ~ x + (1 | g)"])
    # a ;-separated file is read (multilevel.read.csvfile): its error is then about its 2 groups
    assert rc == 2 and str(path) in err or "column" in err or "rows" in err or "levels" in err


def test_missing_file_and_directory(tmp_path):
    assert run_cli(["fit", str(tmp_path / "nope.csv"), "y ~ 1 + (1 | g)"])[0] == 2
    assert run_cli(["fit", str(tmp_path), "y ~ 1 + (1 | g)"])[0] == 2


def test_error_is_exactly_one_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_bytes(b"y,x,g\n1,2\n3,4,5,6\n")
    rc, _, err = run_cli(["fit", str(path), "y ~ x + (1 | g)"])
    assert rc == 2 and err.count("\n") == 1


def test_huge_outcome_through_cli(tmp_path):
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "y": rng.normal(size=40) * 1e300,
            "x": rng.normal(size=40),
            "g": np.repeat(list("abcdefgh"), 5),
        }
    )
    path = tmp_path / "huge.csv"
    data.to_csv(path, index=False)
    run_cli(["fit", "--json", str(path), "y ~ x + (1 | g)"])


def test_no_partial_plot_file_on_error(tmp_path):
    """``compare --plot FILE`` must not leave a file behind when the model cannot be fitted."""
    path = tmp_path / "d.csv"
    pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [1.0, 2, 3, 5], "g": list("aabb")}).to_csv(path)
    plot = tmp_path / "forest.png"
    rc, _, _ = run_cli(["compare", str(path), "y ~ x + (1 | nope)", "--plot", str(plot)])
    assert rc == 2 and not plot.exists()


def _console(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "multilevel.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_console_error_is_one_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("y,x,g\n1,2,a\n2,3,b\n3,1,a\n4,4,b\n")
    res = _console("fit", str(path), "y ~ x + ((1 | g)", cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("error: unbalanced") and res.stderr.count("\n") == 1


def test_console_success_json(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "d.csv"
    pd.DataFrame(
        {"y": rng.normal(size=30), "x": rng.normal(size=30), "g": np.repeat(list("abcde"), 6)}
    ).to_csv(path, index=False)
    res = _console("fit", str(path), "y ~ x + (1 | g)", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["n_obs"] == 30 and doc["n_groups"] == {"g": 5}
