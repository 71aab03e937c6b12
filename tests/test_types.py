"""The package type-checks: mypy with the settings in pyproject.toml reports no error."""
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")  # in the 'test' extra; the torch-free core environment has no mypy

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_reports_no_error():
    run = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Success: no issues found" in run.stdout
