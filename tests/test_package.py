"""The package's front: every public name, imported on first use, and the same names for type
checkers (``__init__.pyi``)."""

from __future__ import annotations

import ast
import subprocess
import sys
import types
from pathlib import Path

import multilevel

STUB = Path(multilevel.__file__).with_suffix(".pyi")


def test_import_loads_nothing_heavy_until_a_name_is_used():
    """``import multilevel`` (and so the command line's ``--help``) loads neither pandas nor
    scipy; the first use of ``multilevel.fit`` does."""
    code = (
        "import sys, multilevel\n"
        "before = {'pandas', 'scipy', 'formulaic'} & set(sys.modules)\n"
        "multilevel.fit\n"
        "after = {'pandas', 'scipy', 'formulaic'} <= set(sys.modules)\n"
        "print(sorted(before), after)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True"]


def test_every_public_name_resolves():
    for name in multilevel.__all__:
        value = getattr(multilevel, name)
        assert value is not None
        if name in ("datasets", "levels", "simulate"):
            assert isinstance(value, types.ModuleType)
        else:
            assert not isinstance(value, types.ModuleType), name
    assert set(dir(multilevel)) >= set(multilevel.__all__)


def test_ladder_stays_the_function_when_its_subpackage_is_imported():
    code = (
        "import multilevel.ladder.lrt, multilevel\n"
        "from multilevel import ladder\n"
        "print(callable(multilevel.ladder), callable(ladder), multilevel.ladder.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "multilevel.ladder.ladder"]


def test_the_stub_lists_the_same_names():
    tree = ast.parse(STUB.read_text())
    imported = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    listed = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__"
    )
    assert imported == set(multilevel._EXPORTS) == set(multilevel.__all__) == set(listed)
