"""The closing-note table of issue 12: hostile input classes and how each case ended.

Runs the hostile-input tests (tests/test_hostile.py, tests/test_hostile_fuzz.py) with
``KC_HOSTILE_TABLE`` set and prints the tally they write: cases tried, successes, clear
errors (KComplexityError, or CLI exit 1/2 with one message line), crashes, hangs and
silent wrong results. The fuzz examples are derandomized: every run tries the same cases.

    python benchmarks/hostile_table.py
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "table.md"
        env = {**os.environ, "KC_HOSTILE_TABLE": str(table)}
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "tests/test_hostile.py", "tests/test_hostile_fuzz.py"], cwd=ROOT, env=env,
                             capture_output=True, text=True)
        print(run.stdout.strip().splitlines()[-1])
        print(table.read_text() if table.exists() else "no table written")
        sys.exit(run.returncode)
