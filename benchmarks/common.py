"""What bench.py, enqueue.py and workers.py share: importing this module puts tests/core on
``sys.path`` and selects Redis db 12 before it imports the tests' real-worker harness; then the
Redis URL the tasks count under, the scratch directory and callgrind's command line."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "core"))
os.environ.setdefault("OMNITENANT_TEST_REDIS_DB", "12")

import harness  # noqa: E402  (the tests' real-worker harness)

REDIS_URL = f"redis://127.0.0.1:6379/{harness.REDIS_DB}"
TMP = Path(tempfile.mkdtemp(prefix="omnitenant-bench-"))

CALLGRIND = ("valgrind", "--tool=callgrind")


def ratio(mine, theirs):
    return None if mine is None or theirs is None else mine / theirs
