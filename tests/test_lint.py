"""The code passes ruff with the project's rules (pyproject.toml, [tool.ruff]): unused imports and
variables, import order, likely bugs (bugbear), outdated idioms. `make lint` runs the same check."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["lib", "jobs", "airflow_dags", "tests", "scripts"]


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    out = subprocess.run([str(ruff), "check", "--no-cache", *CHECKED], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
