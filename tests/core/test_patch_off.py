"""tests/patch_off.py, the patch-off check CI runs: how it judges the outcomes it collects."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import patch_off  # noqa: E402

LISTED = "tests/core/test_testing_kit.py::test_delete_queue_takes_a_stopped_workers_queue_and_" \
         "its_messages_off_the_broker[redis]"


def _every_listed_test_passing():
    return [(pattern.replace("*", "x"), "passed") for pattern in patch_off.PASSES_UNPATCHED]


def test_only_the_listed_tests_may_pass_with_the_patch_off():
    results = [*_every_listed_test_passing(), ("tests/core/test_worker.py::test_a[x]", "failed")]
    assert patch_off.check(results) == []
    results.append(("site multitenant: tests/sites/multitenant/test_multitenant.py::test_b",
                    "passed"))
    (problem,) = patch_off.check(results)
    assert problem.startswith("passes with the patch off: site multitenant:")


def test_a_listed_test_that_no_longer_passes_unpatched_is_reported_not_failed():
    results = [(t, "failed" if i == 0 else o) for i, (t, o) in
               enumerate(_every_listed_test_passing())]
    assert patch_off.check(results) == []
    assert patch_off.unused(results) == [next(iter(patch_off.PASSES_UNPATCHED))]


def test_a_run_where_nothing_failed_was_not_a_patch_off_run():
    assert "was it off?" in patch_off.check(_every_listed_test_passing())[-1]


def test_parameters_do_not_matter_to_the_list():
    assert patch_off.allowed(LISTED)
    assert not patch_off.allowed("tests/core/test_worker.py::test_delete_queue_takes_x")
