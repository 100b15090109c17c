"""No lost files: an input is never overwritten, a user's file only with --force, writes are
atomic, and our own earlier outputs are recognised (multilevel.cli.files, report.files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import multilevel
from multilevel.cli import main
from multilevel.report.files import atomic_write, save_figure, written_by_us

FORMULA = "Reaction ~ Days + (1 | Subject)"


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "sleep.csv"
    multilevel.datasets.sleepstudy().to_csv(path, index=False)
    return path


def test_report_never_overwrites_its_input(data, capsys):
    before = data.read_bytes()
    assert main(["report", str(data), FORMULA, "-o", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "input data" in err
    assert data.read_bytes() == before
    # not even with --force, nor through another spelling of the same path
    other = str(data.parent / "." / data.name)
    assert main(["report", str(data), FORMULA, "-o", other, "--force"]) == 2
    assert data.read_bytes() == before


def test_plot_never_overwrites_its_input_or_writes_into_a_data_folder(tmp_path, capsys):
    folder = tmp_path / "parts"
    folder.mkdir()
    multilevel.datasets.sleepstudy().to_parquet(folder / "a.parquet")
    argv = ["plot", str(folder), FORMULA, "--kind", "caterpillar", "-o"]
    assert main([*argv, str(folder / "p.png")]) == 2
    assert "inside the input data" in capsys.readouterr().err
    assert not (folder / "p.png").exists()


def test_existing_user_file_needs_force(data, tmp_path, capsys):
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>")
    assert main(["report", str(data), FORMULA, "-o", str(notes)]) == 2
    assert "--force" in capsys.readouterr().err and notes.read_text() == "<p>my notes</p>"
    assert main(["report", str(data), FORMULA, "-o", str(notes), "--force"]) == 0
    assert written_by_us(notes)
    # our own report is replaced without --force (re-running a command works)
    assert main(["report", str(data), FORMULA, "-o", str(notes)]) == 0


def test_our_figures_are_recognised_and_replaced(data, tmp_path, capsys):
    for ext in ("png", "pdf", "svg"):
        out = tmp_path / f"p.{ext}"
        argv = ["plot", str(data), FORMULA, "--kind", "caterpillar", "-o", str(out)]
        assert main(argv) == 0
        assert written_by_us(out), ext
        assert main(argv) == 0  # ours: replaced without --force
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    argv = ["plot", str(data), FORMULA, "--kind", "caterpillar", "-o", str(photo)]
    assert main(argv) == 2
    assert photo.read_bytes().endswith(b"\0" * 100)


def test_csv_folder_rules(data, tmp_path, capsys):
    existing = tmp_path / "tables.csv"
    existing.write_text("a,b\n1,2\n")
    assert main(["report", str(data), FORMULA, "--csv", str(existing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err and existing.read_text() == "a,b\n1,2\n"
    out = tmp_path / "tables"
    assert main(["report", str(data), FORMULA, "--csv", str(out)]) == 0
    assert main(["report", str(data), FORMULA, "--csv", str(out)]) == 0  # ours: replaced
    (out / "fixed_effects.csv").write_text("my,own\n")
    assert main(["report", str(data), FORMULA, "--csv", str(out)]) == 2
    assert (out / "fixed_effects.csv").read_text() == "my,own\n"


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    target.write_text("old")

    def fail(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left


def test_save_figure_checks_format_and_dpi(tmp_path):
    from multilevel.errors import DataError
    from multilevel.plots._common import new_figure

    fig = new_figure(2, 2)
    with pytest.raises(DataError, match=r"extension '\.xyz'.*\.png"):
        save_figure(fig, tmp_path / "p.xyz")
    with pytest.raises(DataError, match="positive"):
        save_figure(fig, tmp_path / "p.png", dpi=0)
    assert not list(tmp_path.iterdir())
