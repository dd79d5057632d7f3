"""Run the compatibility matrix with nox and write RESULTS.md; exit non-zero if any cell failed.

    python compat_matrix/run.py                  # every cell, three at a time
    python compat_matrix/run.py --cell celery-4.4 # one cell
    python compat_matrix/run.py --jobs 1         # one cell at a time
    python compat_matrix/run.py --write-workflow # regenerate .github/workflows/ci.yml

The tests wait on workers and brokers far more than they compute, so cells run side by side
(each has its own queues, databases and files); the longest (last time) start first.
Each cell's output goes to compat_matrix/.cache/<cell>.log, printed when a cell fails.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cells  # noqa: E402

RESULTS = cells.HERE / "RESULTS.md"


def run_cell(name: str) -> dict:
    junit = cells.HERE / ".cache" / f"{name}.xml"
    junit.unlink(missing_ok=True)
    log = cells.HERE / ".cache" / f"{name}.log"
    log.parent.mkdir(exist_ok=True)
    started = time.monotonic()
    with open(log, "wb") as out:
        code = subprocess.call(
            [sys.executable, "-m", "nox", "-f", str(cells.HERE / "noxfile.py"),
             "-s", f"cell({name})"],
            cwd=str(cells.ROOT), stdout=out, stderr=subprocess.STDOUT,
        )
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    if junit.exists():
        suite = ET.parse(junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        total = int(suite.get("tests", 0))
        counts["failed"] = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        counts["skipped"] = int(suite.get("skipped", 0))
        counts["passed"] = total - counts["failed"] - counts["skipped"]
    ok = code == 0 and junit.exists() and counts["failed"] == 0 and counts["passed"] > 0
    result = dict(counts, name=name, ok=ok, seconds=time.monotonic() - started)
    with _PRINT:
        print(f"{name}: {'pass' if ok else 'FAIL'} ({counts['passed']} passed, "
              f"{counts['failed']} failed, {counts['skipped']} skipped) in "
              f"{result['seconds']:.0f} s", flush=True)
        if not ok:
            print("\n".join(log.read_text(errors="replace").splitlines()[-300:]), flush=True)
    return result


_PRINT = threading.Lock()


def last_times() -> dict:
    """Each cell's time in the last RESULTS.md (the longest start first)."""
    times = {}
    if RESULTS.exists():
        for line in RESULTS.read_text().splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) > 12 and parts[-2].endswith(" s"):
                times[parts[1]] = float(parts[-2][:-2])
    return times


def run_cells(names: list, jobs: int) -> list:
    """Run ``names``, ``jobs`` at a time, the longest last time first (a cell not in the last
    results before them); results in matrix order."""
    times = last_times()
    pending = sorted(names, key=lambda n: -times.get(n, float("inf")))
    results = {}

    def worker() -> None:
        while True:
            with _PRINT:
                if not pending:
                    return
                name = pending.pop(0)
            results[name] = run_cell(name)

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[name] for name in names]


def write_results(results: list, total_seconds: float) -> None:
    by_name = {c["name"]: c for c in cells.load()}
    lines = [
        "# Compatibility matrix results",
        "",
        "Written by `python compat_matrix/run.py` (cells from `compat_matrix/matrix.json`).",
        f"Machine: {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()} driving nox; total {total_seconds / 60:.1f} min.",
        "",
        "| cell | Celery | kombu | billiard | vine | Django | Python | result | passed | failed "
        "| skipped | time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c = by_name[r["name"]]
        lines.append(
            f"| {r['name']} | {c['celery']} | {c['kombu']} | {c['billiard']} | {c['vine']} "
            f"| {c['django']} | {c['python']} | {'pass' if r['ok'] else '**FAIL**'} "
            f"| {r['passed']} | {r['failed']} | {r['skipped']} | {r['seconds']:.0f} s |"
        )
    RESULTS.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cell", action="append", help="run only these cells")
    parser.add_argument("--jobs", type=int, default=3, help="cells run at once (default 3)")
    parser.add_argument("--write-workflow", action="store_true")
    args = parser.parse_args()
    if args.write_workflow:
        cells.WORKFLOW.parent.mkdir(parents=True, exist_ok=True)
        cells.WORKFLOW.write_text(cells.workflow())
        return 0
    names = args.cell or [c["name"] for c in cells.load()]
    started = time.monotonic()
    results = run_cells(names, args.jobs)
    write_results(results, time.monotonic() - started)
    print(RESULTS.read_text())
    failed = [r["name"] for r in results if not r["ok"]]
    if failed:
        print(f"compat matrix: {len(failed)} cell(s) failed: {', '.join(failed)}")
        return 1
    print(f"compat matrix: {len(results)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
