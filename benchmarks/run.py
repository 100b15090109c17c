"""Side-by-side benchmark: multilevel vs lme4, statsmodels MixedLM and mixedlm, in one command.

    python benchmarks/run.py [--sizes S,M] [--models intercept,slope]
                             [--tools multilevel,lme4,statsmodels,mixedlm] [--methods ml,reml]
                             [--insteval]

Every fit runs in its own subprocess (``benchmarks/tools.py`` or ``benchmarks/lme4_fit.R``), which
times only the fit call; the parent reads that process's peak RSS from ``os.wait4``. The
log-likelihood of each tool is compared with lme4's (same data, same method) and the time ratios
(other tool / multilevel) are printed, with the machine, as a Markdown report; the raw records go
to ``benchmarks/out/results.json``.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import simulate  # noqa: E402

TOOLS = ("multilevel", "lme4", "statsmodels", "mixedlm")
EXTRA_TOOLS = ("multilevel-file",)  # multilevel.fit(path): reading the Parquet file is timed too
LOGLIK_TOL = 1e-6
INSTEVAL_FORMULA = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"
#: InstEval's CSV and lme4's stored fit: shared/bench beside the checkout (or a worktree's)
INSTEVAL_DIR = next(
    (d / "shared" / "bench" for d in HERE.parents if (d / "shared" / "bench").is_dir()),
    HERE.parent.parent / "shared" / "bench",
)


def run_process(cmd: list[str], timeout: float, env: dict | None = None) -> dict:
    """Run ``cmd``; its RESULT json plus wall seconds and peak RSS (MB), or a failure status."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        status = None
        load0 = os.getloadavg()[0]
        try:
            while True:
                pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - t0 > timeout:
                    proc.kill()
                    pid, code, usage = os.wait4(proc.pid, 0)
                    status = f"not run to the end: > {timeout:.0f} s"
                    break
                time.sleep(0.02)
        except BaseException:  # interrupted: leave no fit running behind us
            proc.kill()
            raise
        proc.returncode = os.waitstatus_to_exitcode(code)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    rec: dict = {
        "wall": wall,
        "rss_mb": usage.ru_maxrss / 1024,
        "cmd": shlex.join(cmd),
        "process_cpu": usage.ru_utime + usage.ru_stime,
        "loadavg_1min": [load0, os.getloadavg()[0]],
    }
    if status:
        return rec | {"status": status}
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ") or ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (stderr or stdout).strip().splitlines()[-3:]
        return rec | {"status": f"failed (exit {proc.returncode}): " + " | ".join(tail)}
    return rec | {"status": "ok"} | json.loads(lines[-1].removeprefix("RESULT "))


def export_commit(rev: str) -> tuple[str, Path]:
    """``git archive`` the package at ``rev`` into benchmarks/out; the work tree is untouched."""
    repo = HERE.parent
    sha = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", rev], check=True, capture_output=True, text=True
    ).stdout.strip()
    dest = simulate.OUT / f"src-{sha[:10]}"
    if not (dest / "src" / "multilevel").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", sha, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return sha, dest / "src"


def text_ids_csv(csv: Path) -> Path:
    """The same data as ``csv`` with text group ids (``g`` 42 -> ``sch00042``), written once:
    what users load most often, coded into factors inside the timed fit (no categorical)."""
    out = csv.with_name(csv.stem + "_text_ids.csv")
    if not out.exists():
        import pandas as pd

        df = pd.read_csv(csv)
        df["g"] = "sch" + df["g"].astype(str).str.zfill(5)
        tmp = out.with_suffix(".csv.tmp")
        df.to_csv(tmp, index=False)  # the numbers as read: the same digits as ``csv``
        tmp.rename(out)
    return out


def fit_command(
    tool: str, data: dict[str, Path], formula: str, method: str, factors: str
) -> list[str]:
    if tool == "lme4":
        return ["Rscript", str(HERE / "lme4_fit.R"), str(data["csv"]), formula, method, factors]
    path = data["parquet"] if "parquet" in data else data["csv"]
    return [
        sys.executable,
        str(HERE / "tools.py"),
        tool,
        str(path),
        formula,
        method,
        "--factors",
        factors,
    ]


def machine() -> dict:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def cmd(c: list[str]) -> str:
        try:
            return subprocess.run(c, capture_output=True, text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "unavailable"

    import numpy

    info = {
        "nproc": cmd(["nproc"]),
        "memory": next((ln for ln in cmd(["free", "-h"]).splitlines() if ln.startswith("Mem")), ""),
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "R / lme4": cmd(
            [
                "Rscript",
                "-e",
                'cat(R.version.string, "/ lme4", as.character(packageVersion("lme4")))',
            ]
        ),
    }
    for pkg in ("multilevel", "statsmodels", "mixedlm", "scipy", "pandas"):
        try:
            from importlib.metadata import version

            info[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - not installed
            info[pkg] = "not installed"
    return info


def fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def fmt_ratio(x: float | None) -> str:
    """Time ratios: one decimal from 1 up, two significant digits below (0.047 = 21x slower)."""
    return "—" if x is None else format(x, ".1f" if x >= 1 else ".2g")


def verdict(diff: float) -> str:
    """Agreement with lme4: within LOGLIK_TOL, higher (a better optimum), or lower."""
    if abs(diff) <= LOGLIK_TOL:
        return " ✓"
    return " (higher)" if diff > 0 else " ✗ lower"


def report(records: list[dict]) -> str:
    """A Markdown table per (data, model, method), with loglik - lme4's and time ratios.

    ✓ marks a log-likelihood within 1e-6 of lme4's (absolute); a tool may also find a higher one.
    """
    lines: list[str] = []
    keys = []
    for r in records:
        k = (r["data"], r["model"], r["method"])
        if k not in keys:
            keys.append(k)
    for k in keys:
        rows = [r for r in records if (r["data"], r["model"], r["method"]) == k]
        done = [r for r in rows if r["status"].startswith("ok")]
        ref = next((r for r in done if r["tool"].startswith("lme4")), None)
        ours = next((r for r in done if r["tool"] == "multilevel"), None)
        lines += [
            f"### {k[0]}, {k[1]}, {k[2].upper()}",
            "",
            "| tool | fit s (wall) | fit s (CPU) | peak RSS MB | loglik | loglik − lme4 "
            "| tool / multilevel (wall) | (CPU) | load avg | status |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in rows:
            ok = r["status"].startswith("ok")
            diff = r["loglik"] - ref["loglik"] if ok and ref else None
            ratio = r["seconds"] / ours["seconds"] if ok and ours else None
            cpu_ratio = (
                r["cpu"] / ours["cpu"] if ok and ours and r.get("cpu") and ours.get("cpu") else None
            )
            agree = "" if diff is None else verdict(diff)
            load = r.get("loadavg_1min")
            lines.append(
                f"| {r['tool']} | {fmt(r.get('seconds') if ok else None, '.3f')} "
                f"| {fmt(r.get('cpu') if ok else None, '.3f')} | {fmt(r.get('rss_mb'), '.0f')} "
                f"| {fmt(r.get('loglik') if ok else None, '.6f')} | {fmt(diff, '+.2e')}{agree} "
                f"| {fmt_ratio(ratio)} | {fmt_ratio(cpu_ratio)} "
                f"| {'—' if not load else f'{load[0]:.1f}–{load[1]:.1f}'} | {r['status']} |"
            )
        lines.append("")
    return "\n".join(lines)


_BUSY_LOOP = "import os\nwhile os.getppid() == {}:\n    sum(range(10000))"


def _terminate(signum, frame):  # noqa: ANN001 - signal handler
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="S,M", help="any of S,M,L (empty for none)")
    ap.add_argument("--models", default="slope,intercept")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--methods", default="ml", help="ml and/or reml")
    ap.add_argument("--insteval", action="store_true", help="also the crossed InstEval model")
    ap.add_argument(
        "--text-ids",
        action="store_true",
        help="also fit each size and model from a CSV with text group ids, read as users do "
        "(pandas.read_csv, no categorical: coding the ids is timed; lme4 makes g a factor first)",
    )
    ap.add_argument("--insteval-dir", default=str(INSTEVAL_DIR))
    ap.add_argument(
        "--statsmodels-sizes", default="S", help="sizes at which statsmodels runs (it is slow)"
    )
    ap.add_argument("--timeout", type=float, default=600, help="seconds per fit before giving up")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default=str(simulate.OUT / "results.json"))
    ap.add_argument(
        "--at-commit",
        metavar="REV",
        help="benchmark multilevel as committed at REV (git archive into "
        "benchmarks/out), not the work tree",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each fit that takes under --repeat-under s this many times "
        "(fresh processes) and report the median",
    )
    ap.add_argument("--repeat-under", type=float, default=15.0)
    ap.add_argument(
        "--blas-threads",
        type=int,
        metavar="N",
        help="set OPENBLAS/OMP/MKL_NUM_THREADS=N for every tool's process",
    )
    ap.add_argument(
        "--compete",
        type=int,
        default=0,
        metavar="N",
        help="run N CPU-bound processes (busy loops) beside the tools for the whole run: the "
        "machine as users share it",
    )
    ap.add_argument(
        "--report", metavar="JSON", help="only print the report of an earlier run's raw records"
    )
    args = ap.parse_args(argv)
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        print("\n".join(f"- {k}: {v}" for k, v in saved["machine"].items()))
        print(f"\nCommand: `python benchmarks/run.py {shlex.join(saved['argv'])}`\n")
        print(report(saved["records"]))
        return 0

    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS) - set(EXTRA_TOOLS)
    if unknown:
        ap.error(f"unknown tools {sorted(unknown)}; choose from {TOOLS + EXTRA_TOOLS}")
    sizes = [s for s in args.sizes.split(",") if s]
    sm_sizes = set(args.statsmodels_sizes.split(","))
    methods = [m for m in args.methods.split(",") if m]
    info = machine()
    env = None
    if args.blas_threads:
        n = str(args.blas_threads)
        env = os.environ | {"OPENBLAS_NUM_THREADS": n, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}
        info["BLAS threads"] = n
    if args.at_commit:
        sha, src = export_commit(args.at_commit)
        env = (env or dict(os.environ)) | {"PYTHONPATH": str(src)}
        info["multilevel source"] = f"git commit {sha} (exported to {src})"
    else:
        info["multilevel source"] = "work tree " + str(HERE.parent / "src")
    competitors = [
        # each loop ends when run.py does (its parent changes), even if run.py is killed
        subprocess.Popen([sys.executable, "-c", _BUSY_LOOP.format(os.getpid())])
        for _ in range(args.compete)
    ]
    if competitors:
        info["competing CPU-bound processes"] = str(len(competitors))
        atexit.register(lambda: [c.kill() for c in competitors])
        time.sleep(2.0)  # let them take their cores before the first fit
    print("## Machine\n")
    for k, v in info.items():
        print(f"- {k}: {v}")
    print(
        f"\nCommand: `python benchmarks/{Path(__file__).name} {shlex.join(sys.argv[1:])}`\n",
        flush=True,
    )

    records: list[dict] = []

    def run(label: str, model: str, method: str, tool: str, cmd: list[str]) -> None:
        print(
            f"[{time.strftime('%H:%M:%S')}] {label} {model} {method} {tool} ...",
            end=" ",
            flush=True,
        )
        rec = run_process(cmd, args.timeout, env)
        if rec["status"] == "ok" and args.repeat > 1 and rec["seconds"] < args.repeat_under:
            runs = [rec] + [run_process(cmd, args.timeout, env) for _ in range(args.repeat - 1)]
            runs = [r for r in runs if r["status"] == "ok"]
            secs = sorted(r["seconds"] for r in runs)
            rec = rec | {
                "seconds": statistics.median(secs),
                "cpu": statistics.median(r["cpu"] for r in runs),
                "rss_mb": max(r["rss_mb"] for r in runs),
                "seconds_all": [r["seconds"] for r in runs],
                "cpu_all": [r["cpu"] for r in runs],
                "loadavg_1min": [runs[0]["loadavg_1min"][0], runs[-1]["loadavg_1min"][1]],
                "status": f"ok (median of {len(runs)} processes, {secs[0]:.3g}–{secs[-1]:.3g} s)",
            }
        rec |= {"data": label, "model": model, "method": method, "tool": tool}
        records.append(rec)
        print(
            f"{rec['status']} {rec.get('seconds', float('nan')):.3f} s loglik {rec.get('loglik')}",
            flush=True,
        )

    for size in sizes:
        n_obs, n_groups = simulate.SIZES[size]
        label = f"{size} ({n_obs:,} rows, {n_groups:,} groups)"
        for model in [m for m in args.models.split(",") if m]:
            data = simulate.write(size, model, args.seed, csv="lme4" in tools or args.text_ids)
            formula = simulate.FORMULAS[model]
            variants = [(label, data)]
            if args.text_ids:
                text = {"csv": text_ids_csv(data["csv"])}
                variants.append((f"{label}, text ids from CSV", text))
            for (label_v, data_v), method in ((v, m) for v in variants for m in methods):
                for tool in tools:
                    if tool == "statsmodels" and size not in sm_sizes:
                        records.append(
                            {
                                "data": label_v,
                                "model": model,
                                "method": method,
                                "tool": tool,
                                "status": "not run (see --statsmodels-sizes)",
                            }
                        )
                        continue
                    # Python tools read the Parquet file with integer group ids; R makes g a factor
                    factors = "g" if tool == "lme4" else ""
                    cmd = fit_command(tool, data_v, formula, method, factors)
                    run(label_v, model, method, tool, cmd)

    if args.insteval:
        path = Path(args.insteval_dir) / "insteval.csv"
        stored = json.loads((Path(args.insteval_dir) / "insteval_lme4.json").read_text())
        label = "InstEval (73,421 ratings; crossed s x d, dept)"
        for method in methods:
            for tool in [t for t in tools if t != "statsmodels"]:
                cmd = fit_command(tool, {"csv": path}, INSTEVAL_FORMULA, method, "s,d,dept")
                run(label, "crossed", method, tool, cmd)
            fitted = stored["fits"][method]
            records.append(
                {
                    "data": label,
                    "model": "crossed",
                    "method": method,
                    "tool": "lme4 (stored, insteval_lme4.json)",
                    "status": "ok",
                    "seconds": fitted["seconds"],
                    "loglik": fitted["loglik"],
                    "theta": fitted["theta"],
                    "beta": fitted["beta"],
                }
            )

    text = report(records)
    print("\n## Results\n\n" + text)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps({"machine": info, "argv": sys.argv[1:], "records": records}, indent=1)
    )
    print(f"raw records: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
