"""The layer contracts (pyproject.toml, docs/ARCHITECTURE.md#apps-and-layers) hold today, and
they catch a breach: a copy of the code with one upward import fails them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every package the contracts name, so that the copy is the whole layered code.
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "root_packages"]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=where, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def copy_of_the_code(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_code_keeps_its_layers():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("core/phones.py", "from messaging import models", "core is the ground floor"),
    ("optout/selectors.py", "from events import models", "Apps are layered"),
    ("events/actions.py", "from messaging.api import serializers",
     "No app imports another app's views or API"),
])
def test_an_upward_import_breaks_a_contract(copy_of_the_code, module, line, broken):
    target = copy_of_the_code / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = _lint(copy_of_the_code)
    assert result.returncode != 0
    verdicts = [row for row in result.stdout.splitlines() if row.startswith(broken)]
    assert verdicts and " BROKEN" in verdicts[0], result.stdout
