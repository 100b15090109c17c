"""The 1M-row random-slope fit with text group ids, as users load them (issue 15 item 4).

Writes the benchmark's M data (1M rows, 10k groups) once to a CSV whose group ids are text
(``sch00042``), then, in a fresh process per source tree, reads it with ``pandas.read_csv`` (ids
come back as text) and times three fits: the first (a fresh process pays any import or warm-up
cost) and the median of the three. Compare two trees (e.g. ``main`` before a change and a work
tree after)::

    .venv/bin/python benchmarks/text_ids.py --src /work/main/src --src src

Numbers depend on the machine and its load: the report gives the load average, and the CPU time
of the fitting process beside the wall time (less sensitive to other processes on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CSV = HERE / "out" / "text_ids_M.csv"
FORMULA = "y ~ x1 + x2 + x3 + w + (1 + x1 | g)"

CHILD = """
import json, time, sys
t0 = time.perf_counter()
import pandas as pd
import multilevel
t_import = time.perf_counter() - t0
df = pd.read_csv(sys.argv[1])
times, cpu = [], []
for _ in range(3):
    t, c = time.perf_counter(), time.process_time()
    fit = multilevel.fit(sys.argv[2], df, reml=False)
    times.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
print(json.dumps({"import": t_import, "fits": times, "cpu": cpu, "loglik": fit.loglik,
                  "dtype": str(df["g"].dtype), "groups": fit.n_groups if hasattr(fit, "n_groups")
                  else None, "file": multilevel.__file__}))
"""


def write_csv() -> None:
    if CSV.exists():
        return
    sys.path.insert(0, str(HERE))
    import simulate

    df = simulate.simulate(1_000_000, 10_000, "slope", seed=1)
    df["g"] = "sch" + df["g"].astype(str).str.zfill(5)
    CSV.parent.mkdir(exist_ok=True)
    df.to_csv(CSV, index=False)


def run(src: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(CSV), FORMULA],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", action="append", required=True, help="a source tree (repeatable)")
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per tree")
    args = ap.parse_args()
    write_csv()
    for src in args.src:
        for _ in range(args.repeat):
            r = run(src)
            fits, cpu = sorted(r["fits"]), sorted(r["cpu"])
            print(
                f"{src}: first fit {r['fits'][0]:.3f} s (CPU {r['cpu'][0]:.3f} s), median "
                f"{fits[1]:.3f} s (CPU {cpu[1]:.3f} s), import "
                f"{r['import']:.2f} s, g dtype {r['dtype']}, loglik {r['loglik']:.6f}, "
                f"load {os.getloadavg()[0]:.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
