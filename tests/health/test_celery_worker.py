"""The nightly job through a REAL Celery worker on Redis gives the same snapshots as the foreground command.

Needs REDIS_URL and a database the worker threads can share (PostgreSQL in CI). Skips locally without them;
fails under CI=true (tests.conftest.require_service)."""

import io
import os
import time

import pytest
from django.core.management import call_command
from django.db import connection

from customers.models import JobRun
from health.models import HealthSnapshot
from tests.conftest import require_service
from tests.customers.factories import ClientFactory
from tests.health.test_jobs import snapshot_rows
from tests.health.test_scoring import AS_OF, build_world


def _redis_available(url: str) -> bool:
    if not url:
        return False
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_nightly_job_on_real_worker_matches_foreground():
    url = os.environ.get("REDIS_URL", "").strip()
    require_service(_redis_available(url), "Redis")
    require_service(connection.vendor == "postgresql", "PostgreSQL (shared by the worker threads)")
    from celery.contrib.testing.worker import start_worker

    from cs_project.celery import app
    from health import tasks

    app.conf.update(broker_url=url, result_backend=url, task_always_eager=False)
    build_world()
    for i in range(5):
        ClientFactory(client_id=f"extra{i}")
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30):
        out = tasks.nightly_health_scoring.delay(AS_OF.isoformat(), 2).get(timeout=120)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            run = JobRun.objects.get(pk=out["job_run_id"])
            if run.finished_at:
                break
            time.sleep(0.5)
    assert out["chunks"] == 3
    assert (run.status, run.processed, run.failed) == ("succeeded", 6, 0)
    worker_rows = snapshot_rows()
    assert len(worker_rows) == 6
    HealthSnapshot.objects.all().delete()
    call_command("score_health", "--date", AS_OF.isoformat(), "--no-progress", stdout=io.StringIO())
    assert snapshot_rows() == worker_rows
