"""Tasks that report the tenant they ran in. All are shared tasks, so every Celery app
(the worker's and the tests' client apps) knows them."""

from celery import Task, shared_task

from omnitenant_patch import TenantContext


def seen():
    tenant = TenantContext.get_tenant()
    return None if tenant is None else tenant.tenant_id


@shared_task(name="t.whoami")
def whoami(label=None):
    return {"tenant": seen(), "label": label}


@shared_task(name="t.tenant_name")
def tenant_name():
    """The name of the tenant as this worker has it: shows a stale cached tenant."""
    tenant = TenantContext.get_tenant()
    return None if tenant is None else tenant.name


@shared_task(name="t.step")
def step(prev, label):
    return (prev or []) + [[label, seen()]]


@shared_task(name="t.collect")
def collect(results):
    return {"tenant": seen(), "header": results}


@shared_task(name="t.request", bind=True)
def request_probe(self):
    headers = self.request.headers or {}
    return {
        "tenant": seen(),
        "id": self.request.id,
        "retries": self.request.retries,
        "called_directly": self.request.called_directly,
        "has_delivery_info": bool(self.request.delivery_info),
        "routing_key": (self.request.delivery_info or {}).get("routing_key"),
        "headers_type": type(self.request.headers).__name__,
        "custom_header": headers.get("x_probe", getattr(self.request, "x_probe", None)),
    }


@shared_task(name="t.retry_once", bind=True)
def retry_once(self):
    if self.request.retries < 1:
        raise self.retry(countdown=0, max_retries=3)
    return {"tenant": seen(), "retries": self.request.retries, "id": self.request.id}


@shared_task(
    name="t.autoretry_once", bind=True, autoretry_for=(RuntimeError,),
    max_retries=3, default_retry_delay=0,
)
def autoretry_once(self):
    if self.request.retries < 1:
        raise RuntimeError("first attempt fails")
    return {"tenant": seen(), "retries": self.request.retries}


@shared_task(name="t.spawn")
def spawn():
    """Queue a child from inside a task body; return its id."""
    return {"tenant": seen(), "child": whoami.delay("child").id}


@shared_task(name="t.declares_tenant")
def declares_tenant(x, tenant_id=None):
    return {"tenant": seen(), "kwarg": tenant_id, "x": x}


@shared_task(name="t.fail")
def fail():
    raise ValueError("this task fails on purpose")


@shared_task(name="t.errback")
def errback(task_id):
    return {"tenant": seen(), "failed": task_id}


@shared_task(name="t.body_runs")
def body_runs(label="body_runs"):
    """Records that its body ran, under the test's own label: a task for an unknown tenant must
    never get here."""
    from testproj.tenants.models import Observation

    Observation.objects.create(label=label, tenant_id=seen())
    return seen()


@shared_task(name="t.log")
def log_line(text):
    from celery.utils.log import get_task_logger

    get_task_logger("testproj").warning("log line %s", text)
    return seen()


@shared_task(name="t.fan_out")
def fan_out(label="fan-out"):
    """A beat entry with no tenant that fans out to every tenant."""
    from omnitenant_patch import for_each_tenant

    return for_each_tenant(observe.s(label))


def ready_tenants():
    """A readiness filter for beat's ``tenants``: the tenants whose name says they are ready."""
    from testproj.tenants.models import Tenant

    return Tenant.objects.exclude(name__startswith="migrating")


@shared_task(name="t.observe")
def observe(label):
    from testproj.tenants.models import Observation

    Observation.objects.create(label=label, tenant_id=seen())
    return seen()


class LegacyBase(Task):
    """A project's own fixed base class, as legacy code has them: both entry points overridden."""

    def __call__(self, *args, **kwargs):
        self.seen_in_call = seen()
        return super().__call__(*args, **kwargs)

    def apply_async(self, args=None, kwargs=None, **options):
        options.setdefault("headers", {})
        options["headers"] = dict(options["headers"], legacy="yes")
        return super().apply_async(args, kwargs, **options)


@shared_task(name="t.legacy", base=LegacyBase, bind=True)
def legacy(self):
    return {"tenant": seen(), "in_call": self.seen_in_call, "request_id": self.request.id}


class ClassBased(Task):
    name = "t.class_based"

    def run(self, label=None):
        return {"tenant": seen(), "label": label}


_redis_client = None


@shared_task(name="t.tick", ignore_result=True)
def tick(key):
    """Benchmark task: count itself in Redis, nothing else."""
    _bench_redis().incr(key)


@shared_task(name="t.tenant_queries")
def tenant_queries():
    """How many queries on the tenant table this worker process has run."""
    from testproj import query_counter

    return query_counter.count


def _bench_redis():
    global _redis_client
    if _redis_client is None:
        import os

        import redis

        _redis_client = redis.Redis.from_url(os.environ["OMNITENANT_BENCH_REDIS"])
    return _redis_client


@shared_task(name="t.crashable", bind=True, acks_late=True, reject_on_worker_lost=True)
def crashable(self, label):
    """First run: record its pid and hang until killed. Redelivered run: return the tenant."""
    import os
    import time

    from testproj.tenants.models import Observation

    Observation.objects.create(label=f"{label}:{os.getpid()}", tenant_id=seen())
    if Observation.objects.filter(label__startswith=f"{label}:").count() == 1:
        time.sleep(120)
    return seen()


@shared_task(name="t.soak", bind=True, ignore_result=True, max_retries=3, default_retry_delay=0)
def soak(self, key, i, expected):
    """Counts in Redis whether it ran in the expected tenant; 1 in 10 fails, 1 in 10 retries."""
    client = _bench_redis()
    if seen() != expected:
        client.rpush(f"{key}:wrong", f"{i}:{expected}:{seen()}")
    if i % 10 == 1 and self.request.retries == 0:
        raise self.retry(countdown=0)
    client.incr(f"{key}:done")
    if i % 10 == 0:
        raise ValueError("soak failure on purpose")


@shared_task(name="t.sleepy")
def sleepy(seconds):
    """Yield to other greenlets/threads in the middle, then report the tenant before and after."""
    import time

    before = seen()
    time.sleep(seconds)
    return [before, seen()]


@shared_task(name="t.customer")
def customer_slug():
    """The in-house backend's current customer (tests/test_custom_backend.py)."""
    tenant = TenantContext.get_tenant()
    return None if tenant is None else tenant.slug


@shared_task(name="t.customer_orders")
def customer_orders(label=None):
    """The current customer's orders, as the in-house layer scopes every query: by the customer
    in force (none: no rows)."""
    from testproj.tenants.models import Order

    customer = TenantContext.get_tenant()
    rows = Order.objects.filter(customer=customer) if customer is not None else Order.objects.none()
    return {"customer": None if customer is None else customer.slug, "label": label,
            "orders": sorted(rows.values_list("text", flat=True))}
