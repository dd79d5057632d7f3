"""Fair share between tenants (FAIR_SHARDS): a task with a tenant goes to its tenant's shard of
the queue it is routed to; a worker started as usual consumes the queue and its shards; every
task still runs, in its tenant, through retries, countdowns, chains and chords."""

import pytest
from celery import chain, chord

from omnitenant_patch.fair import shard_index, shard_name

SHARDS = 4


@pytest.fixture
def fair(settings_override):
    return settings_override(CELERY={"FAIR_SHARDS": SHARDS})


def _queue(message):
    queue = message["options"]["queue"]
    return getattr(queue, "name", queue)


def test_a_task_with_a_tenant_goes_to_its_tenants_shard_of_its_queue(app, published, fair):
    task = app.tasks["t.whoami"]
    for tenant_id in ("acme", "globex", "acme"):
        task.apply_async(tenant_id=tenant_id)
    task.apply_async(tenant_id="acme", queue="reports")
    task.apply_async(tenant_id=None)
    base = app.conf.task_default_queue
    assert [_queue(m) for m in published] == [
        shard_name(base, shard_index("acme", SHARDS)), shard_name(base, shard_index("globex",
                                                                                   SHARDS)),
        shard_name(base, shard_index("acme", SHARDS)), shard_name("reports", shard_index(
            "acme", SHARDS)), base]


def test_a_publish_naming_its_exchange_or_routing_key_is_left_where_it_is_sent(app, published,
                                                                              fair):
    app.tasks["t.whoami"].apply_async(tenant_id="acme", queue="q", routing_key="q")
    assert _queue(published[0]) == "q"


def test_off_by_default(app, published):
    app.tasks["t.whoami"].apply_async(tenant_id="acme")
    assert _queue(published[0]) == app.conf.task_default_queue


def test_shards_spread_tenants_evenly_and_stay_put():
    counts = [0] * 8
    for i in range(8000):
        counts[shard_index(f"tenant-{i}", 8)] += 1
    assert max(counts) < 1.1 * 1000 and min(counts) > 0.9 * 1000
    assert shard_index("acme", 8) == shard_index("acme", 8)


@pytest.fixture(scope="module", params=["redis", "amqp"])
def fair_worker(request):
    import harness

    started = harness.start_worker(f"{request.param}-prefork-fair", request.param, "prefork",
                                   "sqlite", {"OMNITENANT_TEST_FAIR_SHARDS": str(SHARDS)})
    yield started
    started.stop()


@pytest.mark.worker
def test_a_worker_started_as_usual_runs_every_shard_and_the_plain_queue(fair_worker, fair):
    tenants = ["acme", "globex", "42", None] * 3
    results = [fair_worker.task("t.request").apply_async(tenant_id=t) for t in tenants]
    answers = [fair_worker.get(r) for r in results]
    assert [a["tenant"] for a in answers] == tenants
    queue = fair_worker.queue
    assert [a["routing_key"] for a in answers] == [
        queue if t is None else shard_name(queue, shard_index(t, SHARDS)) for t in tenants]


@pytest.mark.worker
def test_retry_countdown_chain_and_chord_keep_their_tenant_across_shards(fair_worker, fair):
    w = fair_worker
    assert w.get(w.task("t.retry_once").apply_async(tenant_id="globex"))["tenant"] == "globex"
    later = w.task("t.whoami").apply_async(("later",), tenant_id="42", countdown=1)
    assert w.get(later)["tenant"] == "42"
    steps = chain(w.sig("t.step", None, "a"), w.sig("t.step", "b")).apply_async(tenant_id="acme")
    assert w.get(steps) == [["a", "acme"], ["b", "acme"]]
    both = chord([w.sig("t.whoami", i) for i in range(3)], w.sig("t.collect")).apply_async(
        tenant_id="globex")
    assert w.get(both, timeout=60)["tenant"] == "globex"


@pytest.mark.worker
def test_turning_shards_on_and_off_loses_no_queued_task(fair_worker, settings_override):
    """Queued before sharding (plain queue) and after it is turned off on publishers (in shards,
    which workers keep consuming with CONSUME_SHARDS): every task runs."""
    w = fair_worker
    plain = w.task("t.whoami").apply_async(("plain",), tenant_id="acme")  # FAIR_SHARDS off here
    assert w.get(plain)["tenant"] == "acme"
    settings_override(CELERY={"FAIR_SHARDS": SHARDS})
    sharded = w.task("t.whoami").apply_async(("sharded",), tenant_id="globex")
    settings_override(CELERY={"FAIR_SHARDS": 0, "CONSUME_SHARDS": SHARDS})
    after = w.task("t.whoami").apply_async(("after",), tenant_id="globex")
    assert w.get(sharded)["tenant"] == "globex" and w.get(after)["tenant"] == "globex"
