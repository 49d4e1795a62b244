"""Celery tasks of the health app (RULES §19). Tasks take ids and ISO dates, call services, are idempotent."""

from __future__ import annotations

import datetime as dt

from celery import chord, shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from cs_project.core.context import Actor

from . import services
from .rollups import local_date, rollup_pending

RETRYABLE = (OperationalError, InterfaceError)
CHUNK_SIZE = services.DEFAULT_CHUNK_SIZE


def _as_of(value: str | None) -> dt.date:
    return dt.date.fromisoformat(value) if value else local_date(timezone.now())


@shared_task(
    name="health.tasks.usage_rollup",
    acks_late=True,
    time_limit=60 * 55,
    soft_time_limit=60 * 50,
    autoretry_for=RETRYABLE,
    retry_backoff=60,
    max_retries=3,
)
def usage_rollup() -> dict:
    """Hourly: rebuild the roll-ups of every touched (client, date) (RULES §3.3)."""
    run = services.usage_rollup_run()
    return {"job_run_id": run.pk, "processed": run.processed}


@shared_task(
    name="health.tasks.score_health_chunk",
    acks_late=True,
    time_limit=60 * 20,
    soft_time_limit=60 * 18,
    autoretry_for=RETRYABLE,
    retry_backoff=30,
    max_retries=3,
)
def score_health_chunk(client_ids: list[int], as_of: str, job_run_id: int | None = None) -> dict:
    """Score one chunk of clients officially for ``as_of`` (idempotent: the day's rows are replaced)."""
    return services.health_chunk_score(
        client_ids=[int(i) for i in client_ids],
        as_of=dt.date.fromisoformat(as_of),
        actor=Actor.system("nightly_health_scoring"),
    )


@shared_task(name="health.tasks.finish_health_scoring", acks_late=True, time_limit=300, soft_time_limit=240)
def finish_health_scoring(outcomes: list[dict], job_run_id: int) -> dict:
    """Chord callback: totals of the chunks into the JobRun."""
    processed = sum(o["processed"] for o in outcomes)
    failed = sum(o["failed"] for o in outcomes)
    errors = [e for o in outcomes for e in o["errors"]]
    run = services.job_run_finish(job_run_id=job_run_id, processed=processed, failed=failed, errors=errors)
    return {"job_run_id": run.pk, "processed": processed, "failed": failed, "status": run.status}


@shared_task(
    name="health.tasks.nightly_health_scoring",
    acks_late=True,
    time_limit=60 * 30,
    soft_time_limit=60 * 25,
    autoretry_for=RETRYABLE,
    retry_backoff=60,
    max_retries=3,
)
def nightly_health_scoring(as_of: str | None = None, chunk_size: int = CHUNK_SIZE) -> dict:
    """Daily 02:00: roll-ups up to date, then one ``score_health_chunk`` per chunk of active client ids."""
    day = _as_of(as_of)
    ids = services.active_client_ids()
    run = services.job_run_start(
        job="nightly_health_scoring",
        params={"as_of": day.isoformat(), "chunk_size": chunk_size, "clients": len(ids), "mode": "celery"},
    )
    rollup_pending()
    chunks = services.chunked(ids, chunk_size)
    if not chunks:
        services.job_run_finish(job_run_id=run.pk, processed=0, failed=0, errors=[])
        return {"job_run_id": run.pk, "chunks": 0}
    header = [score_health_chunk.s(chunk, day.isoformat(), run.pk) for chunk in chunks]
    chord(header)(finish_health_scoring.s(run.pk))
    return {"job_run_id": run.pk, "chunks": len(chunks), "clients": len(ids)}


@shared_task(
    name="health.tasks.usage_drop_alerts",
    acks_late=True,
    time_limit=60 * 20,
    soft_time_limit=60 * 18,
    autoretry_for=RETRYABLE,
    retry_backoff=60,
    max_retries=3,
)
def usage_drop_alerts(as_of: str | None = None) -> dict:
    """Every 6 h: RSK-01 → alert ``usage_drop``."""
    run = services.usage_drop_alerts_run(as_of=_as_of(as_of))
    return {"job_run_id": run.pk, "processed": run.processed, "failed": run.failed}


@shared_task(
    name="health.tasks.churn_model_training",
    acks_late=True,
    time_limit=60 * 60,
    soft_time_limit=60 * 55,
    autoretry_for=RETRYABLE,
    retry_backoff=300,
    max_retries=2,
)
def churn_model_training(as_of: str | None = None) -> dict:
    """Monthly, day 1 04:00: train the churn model and promote it only if it beats the heuristic (RULES §5.2)."""
    return services.churn_model_training_run(as_of=_as_of(as_of))
