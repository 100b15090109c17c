"""``make demo``: the lecture, end to end, on built-in data.

1. High School and Beyond: the model ladder (a)-(d) fitted and summarised as lme4 would.
2. ECLS-K-like data (simulated, shaped like the lecture's example): ICC with its interval, the
   ladder with likelihood-ratio tests, the final model as level-1/level-2/reduced-form equations,
   and the alternatives the lecture contrasts (naive OLS, cluster-robust SEs, fixed effects, GEE,
   one child per school) side by side.
3. A self-contained HTML report of the ECLS-K ladder (tables, plots, tests, plain-language notes).
4. A binary outcome (High School and Beyond: math achievement of at least 13): the logistic
   multilevel model with its latent-scale ICC, level equations with the link, a likelihood-ratio
   test, and the alternatives side by side (GEE's marginal log-odds are smaller: attenuation).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import multilevel

HSB_LADDER = [
    ("(a) random-effects ANOVA (null model)", "mathach ~ 1 + (1 | school)"),
    ("(b) random-intercept regression", "mathach ~ cses + (1 | school)"),
    ("(c) intercepts-as-outcomes", "mathach ~ cses + meanses + catholic + (1 | school)"),
    ("(d) slopes-as-outcomes", "mathach ~ cses * meanses + cses * catholic + (1 + cses | school)"),
]


def _rule(title: str) -> None:
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def hsb_ladder() -> None:
    hsb = multilevel.datasets.hsb()
    for title, formula in HSB_LADDER:
        _rule(f"High School and Beyond {title}")
        print(multilevel.fit(formula, hsb).summary().to_text())


def eclsk_lecture(report_path: Path | None) -> None:
    data = multilevel.datasets.eclsk()
    _rule("ECLS-K-like data: how much of the variance in math lies between schools?")
    null = multilevel.fit("math ~ 1 + (1 | schoolid)", data)
    print(multilevel.icc(null))
    _rule("ECLS-K-like data: the model ladder (level-1: tvhours; level-2: pctfrl)")
    ladder = multilevel.ladder(data, "math", "schoolid", ["tvhours"], ["pctfrl"])
    print(ladder.to_text())
    final = ladder.steps[-1].fit
    _rule("Slopes-as-outcomes, in the lecture's notation")
    print(multilevel.level_equations(final).to_text())
    _rule("Why multilevel: the alternatives on the same data")
    comparison = multilevel.compare_estimators(data, "math ~ tvhours + (1 + tvhours | schoolid)")
    print(comparison.to_text())
    if report_path is not None:
        from multilevel.report import write_report

        write_report(ladder, report_path, title="ECLS-K-like data: the multilevel model ladder")
        print(f"\nSelf-contained HTML report of the ECLS-K ladder written to {report_path}")


def binary_outcome() -> None:
    hsb = multilevel.datasets.hsb()
    hsb["passed"] = (hsb["mathach"] >= 13).astype(int)
    _rule("A binary outcome: passed (math achievement >= 13), children in schools")
    null = multilevel.fit("passed ~ 1 + (1 | school)", hsb, family="binomial")
    from multilevel.glmm import latent_icc

    icc = latent_icc(null)
    print(
        f"latent-scale ICC tau00 / (tau00 + pi^2/3) = {icc.icc:.4f} "
        f"[{icc.lower:.4f}, {icc.upper:.4f}] (95% profile interval)"
    )
    slopes = multilevel.fit("passed ~ cses * meanses + (1 + cses | school)", hsb, family="binomial")
    print(slopes.summary().to_text())
    _rule("The logistic multilevel model in the lecture's notation")
    print(slopes.level_equations())
    intercepts = multilevel.fit("passed ~ cses * meanses + (1 | school)", hsb, family="binomial")
    print()
    print(multilevel.lrt(intercepts, slopes))
    _rule("Binary outcome: GLM, cluster-robust SEs, GEE, one child per school, multilevel")
    print(
        multilevel.compare_estimators(
            hsb, "passed ~ cses + meanses + (1 | school)", family="binomial"
        ).to_text()
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", multilevel.FitWarning)
        hsb_ladder()
        eclsk_lecture(Path(argv[0]) if argv else Path("report-eclsk-ladder.html"))
        binary_outcome()
    print(f"\n(demo finished in {time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
