"""The CI workflow is generated from compat_matrix/matrix.json; these keep the two from drifting."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "compat_matrix"))

import cells  # noqa: E402


def test_workflow_is_generated_from_the_matrix():
    assert cells.WORKFLOW.read_text() == cells.workflow(), (
        "run `python compat_matrix/run.py --write-workflow` after editing matrix.json"
    )


def test_matrix_covers_every_supported_celery_line_and_django_line():
    matrix = cells.load()
    lines = {".".join(cell["celery"].split(".")[:2]) for cell in matrix}
    assert {"4.4", "5.0", "5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7"} <= lines
    djangos = {".".join(cell["django"].split(".")[:2]) for cell in matrix}
    assert {"3.2", "4.2", "5.2", "6.1"} <= djangos
    assert all(set(cells.PINNED) <= set(cell) for cell in matrix)


def test_every_site_suite_runs_in_a_cell_on_the_oldest_and_the_newest_line_it_can():
    from test_site_suites import SUITES, names

    required = {suite: [cell["celery"] for cell in cells.load()
                        if names(cell.get("require_sites", []), suite)]
                for suite in SUITES}
    default_run = {suite for suite in SUITES if names(cells.default_run_sites(), suite)}
    assert all(required.values()), {s: lines for s, lines in required.items() if not lines}
    assert all("5.7.0" in lines or suite in default_run for suite, lines in required.items()), {
        s: lines for s, lines in required.items() if "5.7.0" not in lines}


def test_the_workflow_provides_every_service_and_program_the_suite_needs_under_ci():
    import harness

    workflow = cells.WORKFLOW.read_text()
    jobs = workflow.count("runs-on:")
    assert workflow.count(f"apt-get install -y {' '.join(cells.APT_PACKAGES)}") == jobs
    assert set(harness.PROGRAMS.values()) <= set(cells.APT_PACKAGES), (
        "a server program the fault tests start is not installed by the workflow")
    assert set(harness.SERVICES) <= set(cells.SERVICES), "a service the tests reach is not provided"
    for service, source in cells.SERVICES.items():
        if source.startswith("apt "):
            assert source.split()[1] in cells.APT_PACKAGES
        else:
            assert workflow.count(f"      {service}:\n        image:") == jobs
    site_services = {"redis": "redis", "postgres": "postgres", "rabbitmq": "amqp"}
    sys.path.insert(0, str(ROOT / "tests" / "sites"))
    from sitekit.services import SERVICES as SITE_SERVICES

    assert {site_services[s] for s in SITE_SERVICES} <= set(cells.SERVICES)


def test_the_code_quality_tools_run_in_a_cell_and_in_the_default_run():
    assert [cell["name"] for cell in cells.load() if cell.get("lint")]
    assert "OMNITENANT_REQUIRE_LINT=1" in (ROOT / ".ci" / "run").read_text()
