"""Counts SQL statements on the tenant table in a worker process (benchmarks, cache tests)."""

count = 0


def install():
    from django.db.backends import utils

    original = utils.CursorWrapper.execute

    def execute(self, sql, params=None):
        global count
        if "tenants_tenant" in sql:
            count += 1
        return original(self, sql, params)

    utils.CursorWrapper.execute = execute
