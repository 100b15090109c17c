"""``multilevel lrt DATA FORMULA0 FORMULA1``: likelihood-ratio test of two nested models."""

from __future__ import annotations

import argparse
import json
import sys

EXAMPLES = """examples:
  multilevel lrt hsb 'mathach ~ cses + (1 | school)' 'mathach ~ cses + (1 + cses | school)'
  multilevel lrt pastes 'strength ~ 1 + (1 | batch:cask)' 'strength ~ 1 + (1 | batch/cask)' --ml
  multilevel lrt data.csv 'y ~ x + (1 | g)' 'y ~ x + w + (1 | g)' --json

Both models are fitted to the same rows (those complete in the variables of both formulas). As
lme4's anova, REML fits are refitted by ML before the test (--reml-test keeps REML when the
fixed parts are identical, e.g. to test a random slope). When the bigger model adds a variance,
its null value is on the boundary, and the p-value of the 50:50 chi-square mixture is given too.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lrt",
        help="likelihood-ratio test of two nested models",
        description="Fit two nested lme4 formulas to the same rows and test the smaller "
        "against the bigger one by a likelihood-ratio (chi-square) test.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="CSV or Parquet file, or the name of a built-in data set")
    p.add_argument("formula0", help="the reduced model, e.g. 'y ~ x + (1 | g)'")
    p.add_argument("formula1", help="the full model, e.g. 'y ~ x + (1 + x | g)'")
    p.add_argument("--ml", action="store_true", help="fit both models by maximum likelihood")
    p.add_argument(
        "--reml-test",
        action="store_true",
        help="compare the REML fits when the fixed parts are identical (lme4's refit = FALSE)",
    )
    p.add_argument("--json", action="store_true", help="print the test as JSON")
    p.set_defaults(run=run)


def common_rows(data, formulas: list[str]):
    """The rows complete in the variables of every formula (one set of rows for both fits)."""
    import numpy as np

    from multilevel.design.frame import load_data, needed_columns
    from multilevel.formula.parse import parse_formula

    df = load_data(data)
    columns = [str(c) for c in df.columns]
    used: list[str] = []
    for f in formulas:
        needed, _ = needed_columns(parse_formula(f), columns)
        used += [n for n in needed if n not in used]
    complete = ~df[used].isna().any(axis=1).to_numpy()
    return (df if complete.all() else df.loc[complete]), int(np.sum(~complete))


def run(args: argparse.Namespace) -> int:
    import warnings

    import multilevel
    from multilevel.cli.fit import resolve_data
    from multilevel.ladder import lrt

    data, n_dropped = common_rows(resolve_data(args.data), [args.formula0, args.formula1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", multilevel.FitWarning)
        m0 = multilevel.fit(args.formula0, data, reml=not args.ml)
        m1 = multilevel.fit(args.formula1, data, reml=not args.ml)
    res = lrt(m0, m1, refit=not args.reml_test)
    if args.json:
        out = {**res.to_dict(), "n_obs": m0.n_obs, "n_dropped": n_dropped}
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    sys.stdout.write(lrt_text(res, m0.n_obs, n_dropped) + "\n")
    return 0


def lrt_text(res, n_obs: int, n_dropped: int) -> str:
    """The test as lme4's anova table plus the boundary p-value and the notes."""
    from multilevel.ladder.ladder import p_text

    rows = [
        ("reduced", res.model_reduced, res.npar_reduced, res.loglik_reduced, res.deviance_reduced),
        ("full", res.model_full, res.npar_full, res.loglik_full, res.deviance_full),
    ]
    lines = [
        f"Likelihood-ratio test on {n_obs} rows"
        + (f" ({n_dropped} dropped for missing values in either model)" if n_dropped else "")
        + f", {res.fits_used} fits",
        "",
        f"{'':8} {'npar':>4} {'logLik':>12} {'deviance':>12}  formula",
    ]
    lines += [f"{a:8} {k:>4} {ll:>12.3f} {dev:>12.3f}  {f}" for a, f, k, ll, dev in rows]
    lines += [
        "",
        f"Chisq = {res.chisq:.4f}, df = {res.df}, p = {p_text(res.p_value)}"
        + (
            ""
            if res.p_value_mixture is None
            else f"; boundary (50:50 chi-square mixture) p = {p_text(res.p_value_mixture)}"
        ),
    ]
    if res.note:
        lines += ["", "Notes:"] + [f"  - {n}" for n in res.note.split("; ")]
    return "\n".join(lines)
