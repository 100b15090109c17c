"""``multilevel report DATA FORMULA -o report.html``: a self-contained HTML report, APA tables.

Three kinds of report: one fit (DATA FORMULA), the model ladder (``--ladder`` with --outcome,
--group, --level1, --level2) and the estimator comparison (DATA FORMULA ``--compare``).
``--csv DIR`` writes every table as CSV; ``--format`` prints the tables as Markdown, LaTeX,
HTML or CSV.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from multilevel.cli.files import add_force_option, check_csv_folder, check_output, data_inputs
from multilevel.cli.ladder import add_family_options, family_options
from multilevel.residual import cli as residual_options

EXAMPLES = """examples:
  multilevel report hsb 'mathach ~ cses + (1 + cses | school)' -o report.html
  multilevel report hsb --ladder --outcome mathach --group school --level1 cses \\
      --level2 meanses catholic -o ladder.html --csv tables/
  multilevel report hsb 'mathach ~ cses + meanses + (1 | school)' --compare -o compare.html
  multilevel report sleepstudy 'Reaction ~ Days + (Days | Subject)' --format latex
  multilevel report cbpp.csv 'cbind(incidence, size - incidence) ~ period + (1 | herd)' \
      --family binomial --nagq 10 -o cbpp.html
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report (fit, ladder or comparison) and APA tables",
        description="Fit a model, the model ladder or the estimator comparison and write one "
        "HTML file with the data summary, the model in level and reduced form, tables, "
        "plots, likelihood-ratio tests and plain-language notes. Opens offline.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="CSV or Parquet file, or the name of a built-in data set")
    p.add_argument("formula", nargs="?", help="lme4 formula (not used with --ladder)")
    p.add_argument("-o", "--output", metavar="FILE", help="the HTML report to write")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--ladder", action="store_true", help="report the model ladder")
    kind.add_argument(
        "--compare",
        action="store_true",
        help="report OLS, cluster-robust SEs, fixed effects, GEE and the "
        "multilevel model side by side",
    )
    p.add_argument("--outcome", help="ladder: the outcome column")
    p.add_argument(
        "--group",
        help="ladder: the grouping column; compare: the cluster column "
        "if the formula has no random term",
    )
    p.add_argument(
        "--level1", nargs="+", action="extend", metavar="X", help="ladder: level-1 predictors"
    )
    p.add_argument(
        "--level2", nargs="+", action="extend", metavar="W", help="ladder: level-2 predictors"
    )
    p.add_argument(
        "--center",
        choices=["group", "grand"],
        default=None,
        help="ladder: centre the level-1 predictors",
    )
    p.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    add_family_options(p)
    residual_options.add_options(p)  # hook: multilevel.residual
    p.add_argument("--title", help="title of the report")
    p.add_argument("--csv", metavar="DIR", help="also write every table as DIR/<table>.csv")
    p.add_argument(
        "--format",
        choices=["markdown", "latex", "html", "csv"],
        help="print every table to standard output in this format (csv: one long table with a "
        "'table' column)",
    )
    add_force_option(p)
    p.set_defaults(run=run)


def names(values: list[str] | None) -> list[str]:
    """``--level1 a b --level1 c,d`` -> [a, b, c, d]."""
    out: list[str] = []
    for v in values or []:
        out.extend(s.strip() for s in v.split(",") if s.strip())
    return list(dict.fromkeys(out))


def resolve(spec: str):
    """A path or a built-in data set name (including the simulated 'eclsk')."""
    import os

    from multilevel.cli.fit import resolve_data

    if spec == "eclsk" and not os.path.exists(spec):
        from multilevel.datasets.eclsk import eclsk

        return eclsk()
    return resolve_data(spec)


def build(args: argparse.Namespace):
    """The object the report is about: a fit, a ladder or a comparison."""
    from multilevel.errors import DataError

    data = resolve(args.data)
    if args.ladder:
        missing = [f"--{n}" for n in ("outcome", "group") if not getattr(args, n)]
        if missing:
            raise DataError(f"--ladder needs {' and '.join(missing)}")
        from multilevel.ladder import ladder

        return ladder(
            data,
            outcome=args.outcome,
            group=args.group,
            level1=names(args.level1),
            level2=names(args.level2),
            center=args.center,
            reml=not args.ml,
            **residual_options.from_args(args),
            **family_options(args),
        )
    if not args.formula:
        raise DataError("a formula is needed, e.g. 'y ~ x + (1 | group)' (or use --ladder)")
    if args.compare:
        from multilevel.compare import compare_estimators

        try:
            return compare_estimators(
                data, args.formula, group=args.group, reml=not args.ml, family=args.family
            )
        except ValueError as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(str(exc)) from None
    import multilevel

    return multilevel.fit(
        args.formula,
        data,
        reml=not args.ml,
        **residual_options.from_args(args),
        **family_options(args),
    )


def run(args: argparse.Namespace) -> int:
    from multilevel.errors import DataError

    if not (args.output or args.csv or args.format):
        raise DataError("nothing to write: give -o report.html, --csv DIR or --format")
    inputs = data_inputs(args.data)
    if args.output:  # refused before any fitting, so a mistake costs nothing
        check_output(args.output, inputs, args.force, "report")
    if args.csv:
        check_csv_folder(args.csv, inputs, args.force, {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj = build(args)
    notes = []
    known = set(getattr(obj, "notes", ()))  # a ladder's notes are in its report already
    for w in caught:  # the ladder's own warnings (fits record theirs in the result)
        if issubclass(w.category, UserWarning) and "Ladder" in w.category.__name__:
            print(f"warning: {w.message}", file=sys.stderr)
            if str(w.message) not in known and "rows dropped" not in str(w.message):
                notes.append(f"Message from the ladder: {w.message}")
    from multilevel.report import export_csv, tables_for, write_report
    from multilevel.report.tables import long_csv

    tables = tables_for(obj)
    if args.format == "csv":
        sys.stdout.write(long_csv(tables))
    elif args.format:
        for t in tables:
            sys.stdout.write(t.render(args.format).rstrip("\n") + "\n\n")
    if args.csv:
        headers = {t.name: t.to_csv().split("\n", 1)[0] for t in tables}
        check_csv_folder(args.csv, inputs, args.force, headers)
        for path in export_csv(obj, args.csv):
            print(f"table written to {path}", file=sys.stderr)
    if args.output:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            write_report(obj, args.output, title=args.title, notes=notes)
        print(f"report written to {args.output}", file=sys.stderr)
    return 0
