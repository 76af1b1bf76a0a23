"""The layers of DESIGN.md hold: imports go downward only, with no cycles.

Runs the import-linter contracts from pyproject.toml, the same check as
`make lint`, so a test run catches an upward import too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "broken" in done.stdout and "0 broken" in done.stdout


def test_no_module_over_600_lines() -> None:
    long = [
        f"{p.relative_to(ROOT)}: {n}"
        for p in (ROOT / "src" / "veritask").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 600
    ]
    assert not long, long
