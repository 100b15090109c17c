"""A ladder as text and Markdown: the same tables as its HTML, LaTeX and CSV renderings
(:func:`multilevel.report.tables.ladder_tables`), the formulas, and the notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multilevel.ladder.ladder import Ladder


def _heading(ld: Ladder) -> str:
    fit = ld.steps[0].fit
    method = f"{ld.family} GLMM ML ({fit.integration})" if fit.is_glmm else fit.method
    return (
        f"Model ladder for {ld.outcome} in {ld.group} ({method} fits"
        + (f", {ld.center}-mean centred level-1 predictors" if ld.center else "")
        + f"; {ld.n_obs} rows"
        + (f", {ld.n_dropped} dropped for missing values" if ld.n_dropped else "")
        + ")"
    )


def _notes(ld: Ladder) -> list[str]:
    """What the ladder did with its input, then each test's note."""
    out = list(ld.notes)
    out += [f"{t.model_reduced} -> {t.model_full}: {t.note}" for t in ld.tests if t.note]
    return out


def _equations(ld: Ladder) -> list[str]:
    """Per step: the level equations and the reduced form (with the link of a GLMM)."""
    out = []
    for s in ld.steps:
        try:
            eq = s.equations()
        except Exception:  # noqa: BLE001 - designs without level equations: formula only
            continue
        out += [f"  {s.step}:", *(f"    {line}" for line in eq.level_text().splitlines())]
        out.append(f"    Reduced form: {eq.reduced_text()}")
    return out


def ladder_text(ld: Ladder) -> str:
    from multilevel.report.tables import ladder_tables

    parts = [_heading(ld), ""]
    for table in ladder_tables(ld):
        parts += [table.to_text(), ""]
    parts.append("Models:")
    parts += [f"  {s.step}: {s.fit.formula}" for s in ld.steps]
    equations = _equations(ld)
    if equations:
        parts += ["", "Equations:", *equations]
    notes = _notes(ld)
    if notes:
        parts += ["", "Notes:", *(f"  - {n}" for n in notes)]
    return "\n".join(parts)


def ladder_markdown(ld: Ladder) -> str:
    from multilevel.report.tables import ladder_tables

    parts = [f"**{_heading(ld)}**", ""]
    for table in ladder_tables(ld):
        parts += [table.to_markdown(), ""]
    parts += [f"- `{s.step}`: `{s.fit.formula}`" for s in ld.steps]
    notes = _notes(ld)
    if notes:
        parts += ["", "**Notes**", "", *(f"- {n}" for n in notes)]
    return "\n".join(parts)
