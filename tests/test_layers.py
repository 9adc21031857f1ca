"""The packages' layers (.importlinter) hold, and the check would catch an import that breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = [
    line.strip()
    for line in (ROOT / ".importlinter")
    .read_text()
    .split("root_packages =")[1]
    .split("include_external_packages")[0]
    .splitlines()
    if line.strip()
]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / ".importlinter")],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_the_packages(tmp_path: Path) -> Path:
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_layers_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_import_upward_from_the_core_is_caught(tmp_path: Path) -> None:
    root = copy_of_the_packages(tmp_path)
    answers = root / "core" / "answers.py"
    answers.write_text(answers.read_text() + "\nfrom actions import smart_answer  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "core.answers -> actions.smart_answer" in result.stdout


def test_a_circle_inside_a_package_is_caught(tmp_path: Path) -> None:
    root = copy_of_the_packages(tmp_path)
    clock = root / "core" / "clock.py"
    clock.write_text(clock.read_text() + "\nfrom core import service_hours  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "No import circle" in result.stdout and "BROKEN" in result.stdout
