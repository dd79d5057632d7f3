"""The package is ruff- and mypy-clean (with django-stubs and celery-types), as its pyproject
configures them. Skipped where those tools are not installed (they need Python >= 3.10)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("tool, arguments", [
    ("ruff", ["check", "omnitenant_patch", "tests", "benchmarks", "compat_matrix"]),
    ("mypy", []),
])
def test_the_code_passes(tool, arguments):
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed for this interpreter")
    done = subprocess.run([sys.executable, "-m", tool, *arguments], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
