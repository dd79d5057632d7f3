"""The package is ruff- and mypy-clean (with django-stubs and celery-types) and keeps its import
layers (import-linter), as pyproject configures them.

The tools need Python >= 3.10: where they are not installed the tests skip, unless
``OMNITENANT_REQUIRE_LINT=1`` says this run must have them (.ci/run's default run and the matrix
cell marked ``"lint"`` set it): then they fail.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("tool, command", [
    ("ruff", ["-m", "ruff", "check", "omnitenant_patch", "tests", "benchmarks", "compat_matrix"]),
    ("mypy", ["-m", "mypy"]),
    ("importlinter", ["-c", "from importlinter.cli import lint_imports_command as run; run()"]),
])
def test_the_code_passes(tool, command):
    if importlib.util.find_spec(tool) is None:
        message = f"{tool} is not installed for this interpreter"
        if os.environ.get("OMNITENANT_REQUIRE_LINT") == "1":
            pytest.fail(f"{message}, and OMNITENANT_REQUIRE_LINT=1 requires it", pytrace=False)
        pytest.skip(message)
    done = subprocess.run([sys.executable, *command], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
