"""What every tenancy-library site suite shares: services, databases, real workers, the probe
task's view of where a query ran, and the scenarios every library must pass.

A site is a small Django project built the way its library's docs say, in
``tests/sites/<library>/``, with ``patch_celery()`` at the end of its settings. Its
``conftest.py`` builds the databases and tenants and describes them in a ``Site``;
its test module imports the scenarios. Each scenario is judged by the rows the task
read and the schema and database PostgreSQL used, never by a context variable alone.
"""
