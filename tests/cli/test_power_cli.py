"""``multilevel power``: the same numbers as the Python API, every format, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import multilevel
from multilevel.cli import main


def test_planned_design_json_matches_the_api(capsys, tmp_path: Path) -> None:
    png = tmp_path / "power.png"
    code = main(
        [
            "power",
            "--groups",
            "10,20",
            "--group-size",
            "6",
            "--effect",
            "0.6",
            "--icc",
            "0.15",
            "--nsim",
            "120",
            "--seed",
            "3",
            "--workers",
            "1",
            "--target",
            "0.5",
            "--json",
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    api = multilevel.power(
        multilevel.plan(10, 6, fixed={"treat": 0.6}, icc=0.15),
        nsim=120,
        seed=3,
        along="n_groups",
        values=[10, 20],
        workers=1,
    ).table()
    assert [d["power"] for d in out["designs"]] == pytest.approx(list(api["power"]))
    assert [d["n_groups"] for d in out["designs"]] == [10, 20]
    assert out["test"] == "treat" and out["nsim"] == 120
    smallest = out["smallest"]
    assert smallest is None or smallest["power"] >= 0.5
    assert png.stat().st_size > 1000


def test_pilot_csv_and_text(capsys) -> None:
    args = [
        "power",
        "sleepstudy",
        "Reaction ~ Days + (Days | Subject)",
        "--groups",
        "6,12",
        "--set",
        "Days=4",
        "--nsim",
        "40",
        "--seed",
        "1",
        "--workers",
        "1",
    ]
    assert main([*args, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("n_groups,n_obs,power,ci_lower,ci_upper,n_sim")
    assert [line.split(",")[:2] for line in lines[1:]] == [["6", "60"], ["12", "120"]]
    assert main([*args, "--target", "0.99"]) == 0
    text = capsys.readouterr().out
    assert "Power for Days" in text and "No design reaches power 0.99" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["power", "--groups", "10"], "--group-size"),
        (["power", "--groups", "1x", "--group-size", "5"], "whole numbers"),
        (["power", "sleepstudy"], "DATA and FORMULA"),
        (["power", "sleepstudy", "Reaction ~ Days + (1 | Subject)", "--test", "dose"], "dose"),
    ],
)
def test_errors_are_one_line(capsys, argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_planned_binary_design(capsys) -> None:
    argv = [
        "power",
        "--groups",
        "10",
        "--group-size",
        "8",
        "--family",
        "binomial",
        "--intercept",
        "-1",
        "--effect",
        "1",
        "--icc",
        "0.1",
        "--nsim",
        "4",
        "--seed",
        "1",
        "--workers",
        "1",
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "z" and out["designs"][0]["n_sim"] == 4
