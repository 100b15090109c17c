"""``make demo``: the High School and Beyond model ladder, fitted and printed."""

from __future__ import annotations

import multilevel

LADDER = [
    ("(a) random-effects ANOVA (null model)", "mathach ~ 1 + (1 | school)"),
    ("(b) random-intercept regression", "mathach ~ cses + (1 | school)"),
    ("(c) intercepts-as-outcomes", "mathach ~ cses + meanses + catholic + (1 | school)"),
    (
        "(d) slopes-as-outcomes",
        "mathach ~ cses * (meanses + catholic) + (1 + cses | school)",
    ),
]


def main() -> None:
    hsb = multilevel.datasets.hsb()
    for title, formula in LADDER:
        print("=" * 78)
        print(title)
        print("=" * 78)
        print(multilevel.fit(formula, hsb).summary().to_text())
        print()


if __name__ == "__main__":
    main()
