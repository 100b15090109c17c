"""``multilevel compare`` and ``multilevel simulate`` from the command line."""

from __future__ import annotations

import json

from multilevel.cli import main
from refdata import close, reference

FORMULA = "mathach ~ cses + meanses + catholic + (1 | school)"
NAMES = [
    "ols",
    "ols_cluster_cr0",
    "ols_cluster_hc0",
    "ols_cluster_cr1",
    "fixed_effects",
    "gee_exchangeable",
    "gee_independence",
    "one_per_group",
    "multilevel",
]


def test_compare_json(capsys):
    assert main(["compare", "hsb", FORMULA, "--json", "--draws", "10"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in out["estimators"]] == NAMES
    ols = out["estimators"][0]["coefficients"]
    ref = reference("hsb")["alternative_estimators"]["ols"]["coefficients"]
    assert [c["name"] for c in ols] == [c["name"] for c in ref]
    for got, want in zip(ols, ref, strict=True):
        assert close(got["estimate"], want["estimate"], rtol=1e-8)
        assert close(got["std_error"], want["std_error"], rtol=1e-8)
    fe = out["estimators"][4]["coefficients"]
    assert fe[2] == {"name": "meanses", "estimate": None, "std_error": None, "df": fe[2]["df"]}


def test_compare_text_and_plot(tmp_path, capsys):
    png = tmp_path / "forest.png"
    argv = [
        "compare",
        "hsb",
        "mathach ~ cses + meanses",
        "--group",
        "school",
        "--plot",
        str(png),
        "--estimators",
        "ols,ols_cluster_cr1,fixed_effects,multilevel",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "not estimable" in text and "ols_cluster_cr1" in text and "SE/ML" in text
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_compare_errors_exit_2(capsys):
    assert main(["compare", "hsb", "mathach ~ cses"]) == 2
    assert "no random term" in capsys.readouterr().err
    assert main(["compare", "hsb", FORMULA, "--estimators", "ols,lasso"]) == 2
    assert "unknown estimator" in capsys.readouterr().err


def test_simulate_json_and_plot(tmp_path, capsys):
    png = tmp_path / "type1.png"
    argv = [
        "simulate",
        "--seed",
        "3",
        "--reps",
        "6",
        "--groups",
        "8",
        "--group-size",
        "5",
        "--level",
        "1",
        "--jobs",
        "1",
        "--estimators",
        "ols,ols_cluster_cr1,multilevel",
        "--json",
        "--plot",
        str(png),
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["reps"] == 6 and out["settings"]["level"] == 1
    assert [r["estimator"] for r in out["results"]] == ["ols", "ols_cluster_cr1", "multilevel"]
    assert all(r["n_valid"] == 6 for r in out["results"])
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_simulate_text_and_bad_icc(capsys):
    argv = [
        "simulate",
        "--reps",
        "3",
        "--groups",
        "5",
        "--group-size",
        "4",
        "--jobs",
        "1",
        "--estimators",
        "ols,fixed_effects",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Type I error" in text and "fixed_effects" in text
    assert main(["simulate", "--icc", "2", "--reps", "2", "--jobs", "1"]) == 2
    assert "icc" in capsys.readouterr().err


def test_help_has_examples(capsys):
    for cmd in ("compare", "simulate"):
        try:
            main([cmd, "--help"])
        except SystemExit as exc:
            assert exc.code == 0
        assert "examples:" in capsys.readouterr().out
