"""One nox session per cell of matrix.json: a uv-built virtualenv on that cell's interpreter with
its pinned Celery, kombu, billiard, vine, redis and Django, then the full test suite (real workers
included). Run through compat_matrix/run.py, which also writes RESULTS.md."""

import os
import sys

import nox

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cells  # noqa: E402

nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"
nox.options.envdir = str(cells.HERE / ".cache" / "nox")

CELLS = {cell["name"]: cell for cell in cells.load()}


def _python(version: str) -> str:
    try:
        return cells.interpreter(version)
    except LookupError:
        return version  # let nox look for it, and say so if it cannot


#: What a cell marked "lint" installs: the code-quality tools of tests/core/test_code_quality.py.
LINT = ["ruff", "mypy", "django-stubs", "celery-types", "import-linter"]


@nox.session(name="cell")
@nox.parametrize(
    ("python", "name"),
    [(_python(c["python"]), c["name"]) for c in CELLS.values()],
    ids=list(CELLS),
)
def cell(session: nox.Session, name: str) -> None:
    spec = CELLS[name]
    # setuptools: Celery <= 5.1 imports pkg_resources, which uv-built venvs do not carry.
    # "beat": the django-celery-beat release that fits the cell's Celery and Django, if any.
    session.install("pytest", "hypothesis", "gevent; python_version >= '3.9'",
                    "psycopg2-binary", "packaging", "setuptools<70",
                    *cells.pins(spec), *spec.get("sites", []),
                    *([spec["beat"]] if spec.get("beat") else []),
                    *(LINT if spec.get("lint") else []))
    session.install("--no-deps", "--reinstall-package", "omnitenant-patch", str(cells.ROOT))
    session.run("python", "-c", "import celery, django, kombu; "
                "print('celery', celery.__version__, 'kombu', kombu.__version__, "
                "'django', django.__version__)")
    junit = cells.HERE / ".cache" / f"{name}.xml"
    session.chdir(str(cells.ROOT))
    required = ",".join(spec.get("require_sites", []))
    # The full soak (10,000 tasks) runs in the default run; each cell soaks 2,000. A cell runs
    # the site suites matrix.json gives it, and no other; an "only_sites" cell nothing else (a
    # line's suites split over two cells, so that they run side by side).
    env = {"OMNITENANT_SOAK_TASKS": os.environ.get("OMNITENANT_SOAK_TASKS", "2000"),
           "OMNITENANT_REQUIRE_SITES": required, "OMNITENANT_RUN_SITES": required,
           "OMNITENANT_REQUIRE_LINT": "1" if spec.get("lint") else "0"}
    if os.environ.get("OMNITENANT_TESTS_TMPDIR"):  # .ci/run checks this one is left empty
        env["TMPDIR"] = os.environ["OMNITENANT_TESTS_TMPDIR"]
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-q",
                f"--junitxml={junit}", *session.posargs,
                *(["tests/core/test_site_suites.py"] if spec.get("only_sites") else []),
                env=env)
