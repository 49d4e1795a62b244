"""Writes of the health app: official scoring runs, health alerts, usage-drop alerts, schedule installation.

Scoring arithmetic lives in :mod:`health.scoring` (one home per formula); this module orchestrates it for jobs
and records the side effects (JobRun, timeline entries for movers, alerts through ``customers.services``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from cs_project.core.context import Actor
from cs_project.core.errors import Conflict
from cs_project.core.formatting import jsonable
from customers.audit import audit_and_timeline, audit_and_timeline_bulk
from customers.choices import (
    AccountStatus,
    AlertStatus,
    AlertType,
    HealthTrend,
    Impact,
    JobRunStatus,
    Priority,
    RiskLevel,
    Severity,
    TimelineEventType,
)
from customers.models import Alert, Client, JobRun
from customers.rules import ALLOWED_TRANSITIONS
from customers.services import lifecycle_transition

from .common import resolve_client
from .lifecycle_automation import adoption_and_lifecycle_chunk
from .models import ClientUsageDaily
from .rollups import local_date, rollup_pending
from .scoring import score_chunk

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 2000  # per-query overhead amortised; ~2 s per chunk at 10M events (benchmarks/run.py)
BAND_ORDER = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL]
HEALTH_ALERT_REASONS = ("health_below_threshold", "health_declining", "churn_risk_high")


def _alert_api():
    """``customers.services.alert_raise`` / ``alert_condition_cleared`` when available (None otherwise)."""
    try:
        from customers.services import alert_condition_cleared, alert_raise
    except ImportError:  # pragma: no cover - written in parallel by another engineer
        return None, None
    return alert_raise, alert_condition_cleared


# ------------------------------------------------------------------------------------------------------------
# Job bookkeeping
# ------------------------------------------------------------------------------------------------------------


def job_run_start(*, job: str, params: dict[str, Any] | None = None) -> JobRun:
    return JobRun.objects.create(job=job, started_at=timezone.now(), params=params or {})


def job_run_finish(*, job_run_id: int, processed: int, failed: int, errors: list[str]) -> JobRun:
    run = JobRun.objects.get(pk=job_run_id)
    run.processed = processed
    run.failed = failed
    run.error_sample = "\n".join(errors[:10])[:5000]
    run.finished_at = timezone.now()
    if failed == 0:
        run.status = JobRunStatus.SUCCEEDED
    else:
        run.status = JobRunStatus.FAILED if processed == 0 else JobRunStatus.PARTIAL
    run.save(update_fields=["processed", "failed", "error_sample", "finished_at", "status"])
    return run


def active_client_ids() -> list[int]:
    return list(
        Client.objects.filter(status=AccountStatus.ACTIVE).order_by("id").values_list("id", flat=True)
    )


def chunked(ids: list[int], size: int) -> list[list[int]]:
    size = max(1, int(size))
    return [ids[i : i + size] for i in range(0, len(ids), size)]


# ------------------------------------------------------------------------------------------------------------
# Official scoring of a chunk: the unit of work of the nightly job and of `manage.py score_health`
# ------------------------------------------------------------------------------------------------------------


def health_chunk_score(
    *,
    client_ids: list[int],
    as_of: dt.date,
    actor: Actor,
    raise_alerts: bool = True,
    adoption_and_lifecycle: bool = True,
) -> dict[str, Any]:
    """Score a chunk officially, then record movers and raise/clear health alerts, then (RULES §19) record
    adoption milestones and run lifecycle automation (``lifecycle_automation``). Idempotent for a day.

    The chunk is scored set-based in one transaction and its side effects (mover audit/timeline, alerts) are
    applied set-based in a second one — a constant number of queries per chunk. If the scoring transaction
    fails, each client is retried alone; if the batched side effects fail, they are applied client by client
    (one transaction each), so one bad account does not stop the others (RULES §19).
    Returns ``{processed, failed, errors}``."""
    errors: list[str] = []
    try:
        with transaction.atomic():
            results = list(score_chunk(client_ids, as_of, explain_inputs=False).values())
    except Exception as exc:  # noqa: BLE001 - isolate the failing client(s)
        logger.exception("health chunk failed; retrying client by client")
        errors.append(f"chunk: {exc!r}")
        results = []
        for pk in client_ids:
            try:
                with transaction.atomic():
                    results.extend(score_chunk([pk], as_of, explain_inputs=False).values())
            except Exception as one:  # noqa: BLE001
                logger.exception("health scoring failed for client %s", pk)
                errors.append(f"client {pk}: {one!r}")
    failed = len(client_ids) - len(results)
    official = [r for r in results if r["persisted"]]
    try:
        with transaction.atomic():
            health_side_effects_bulk(results=official, actor=actor, raise_alerts=raise_alerts)
            if adoption_and_lifecycle:
                adoption_and_lifecycle_chunk(results=official, as_of=as_of, actor=actor)
    except Exception:  # noqa: BLE001 - fall back to one transaction per client
        logger.exception("batched health side effects failed; applying client by client")
        errors += _side_effects_one_by_one(
            official, actor=actor, raise_alerts=raise_alerts, adoption_and_lifecycle=adoption_and_lifecycle
        )
    return {"processed": len(results), "failed": failed, "errors": errors}


def _side_effects_one_by_one(
    results: list[dict], *, actor: Actor, raise_alerts: bool, adoption_and_lifecycle: bool = True
) -> list[str]:
    errors = []
    for r in results:
        try:
            with transaction.atomic():
                health_change_record(result=r, actor=actor)
                if raise_alerts:
                    health_alerts_apply(result=r, actor=actor)
                if adoption_and_lifecycle:
                    adoption_and_lifecycle_chunk(results=[r], as_of=r["as_of"], actor=actor)
        except Exception as exc:  # noqa: BLE001
            logger.exception("health side effects failed for client %s", r["client_id"])
            errors.append(f"{r['client_id']}: {exc!r}")
    if raise_alerts:
        _clear_health_alerts(results, actor=actor)
    return errors


def _change_entry(result: dict[str, Any]) -> dict[str, Any] | None:
    """The audit + timeline arguments for a mover (score ±3 or band change, RULES §19), else None."""
    prev = result["previous"]
    new_score, old_score = result["health_score"], prev["health_score"]
    if prev["health_as_of"] is None or prev["health_as_of"] > result["as_of"]:
        return None  # first calculation, or a back-fill of an older day
    moved = new_score is not None and old_score is not None and abs(new_score - old_score) >= 3
    band_changed = (result["risk_level"] or None) != (prev["risk_level"] or None)
    if not (moved or band_changed):
        return None
    worse = new_score is not None and (old_score is None or new_score < old_score)
    return {
        "action": "health.snapshot.calculated",
        "event_type": TimelineEventType.HEALTH,
        "title": f"Health {old_score if old_score is not None else '–'} → "
        f"{new_score if new_score is not None else '–'} ({result['risk_level'] or 'not scored'})",
        "object_type": "health.HealthSnapshot",
        "object_id": f"{result['client_id']}:{result['as_of'].isoformat()}",
        "changes": {
            "health_score": [old_score, new_score],
            "risk_level": [prev["risk_level"], result["risk_level"]],
        },
        "data": {"as_of": result["as_of"].isoformat(), "top_drivers": result["explanation"]["top_drivers"]},
        "impact": Impact.NEGATIVE if worse else Impact.POSITIVE,
        "severity": Severity.MEDIUM if band_changed else Severity.LOW,
    }


def health_change_record(*, result: dict[str, Any], actor: Actor) -> None:
    """Audit + timeline entry only when the score moves ≥ 3 or the band changes (RULES §19)."""
    entry = _change_entry(result)
    if entry is None:
        return
    audit_and_timeline(
        actor=actor, client=Client(pk=result["client_pk"], client_id=result["client_id"]), **entry
    )


def health_alert_candidates(result: dict[str, Any], threshold: float | None = None) -> list[dict[str, Any]]:
    """The health alerts a scoring result calls for (RULES §16, rules HLT-03, HLT-02, HLT-07)."""
    threshold = settings.CS_RULES["at_risk_threshold"] if threshold is None else threshold
    out = []
    score = result["health_score"]
    evidence = {
        "health_score": score,
        "as_of": result["as_of"].isoformat(),
        "risk_level": result["risk_level"],
        "top_drivers": result["explanation"]["top_drivers"],
    }
    if score is not None and score < threshold:
        out.append(
            {
                "reason": "health_below_threshold",
                "priority": Priority.CRITICAL if score < 50 else Priority.HIGH,
                "rule_id": "HLT-03",
                "evidence": {**evidence, "threshold": threshold},
            }
        )
    if result["trend"] == HealthTrend.DECLINING:
        out.append(
            {
                "reason": "health_declining",
                "priority": Priority.MEDIUM,
                "rule_id": "HLT-02",
                "evidence": {**evidence, "score_change": result["score_change"]},
            }
        )
    level = result["churn"]["risk_level"]
    if level in (RiskLevel.HIGH, RiskLevel.CRITICAL):
        out.append(
            {
                "reason": "churn_risk_high",
                "priority": Priority.CRITICAL if level == RiskLevel.CRITICAL else Priority.HIGH,
                "rule_id": "HLT-07",
                "evidence": {
                    **evidence,
                    "churn_probability": result["churn"]["probability"],
                    "churn_method": result["churn"]["method"],
                },
            }
        )
    return out


def health_alerts_apply(*, result: dict[str, Any], actor: Actor, threshold: float | None = None) -> list:
    """Raise (or update) the alerts the result calls for through ``customers.services.alert_raise``."""
    alert_raise, _ = _alert_api()
    if alert_raise is None:
        return []
    return [
        alert_raise(
            actor=actor,
            client=result["client_id"],
            type=AlertType.RISK,
            reason=c["reason"],
            priority=c["priority"],
            rule_id=c["rule_id"],
            evidence=c["evidence"],
        )
        for c in health_alert_candidates(result, threshold)
    ]


def _clear_health_alerts(results: list[dict[str, Any]], *, actor: Actor) -> None:
    """Report 'condition false' for live health alerts whose rule no longer fires (auto-close: 2 runs)."""
    _, cleared = _alert_api()
    if cleared is None or not results:
        return
    by_pk = {r["client_pk"]: r for r in results}
    live = Alert.objects.filter(
        client_id__any=list(by_pk),
        type=AlertType.RISK,
        reason__in=HEALTH_ALERT_REASONS,
        status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED],
    ).values_list("client_id", "reason")
    for pk, reason in live:
        result = by_pk[pk]
        if reason in {c["reason"] for c in health_alert_candidates(result)}:
            continue
        try:
            cleared(actor=actor, client=result["client_id"], type=AlertType.RISK, reason=reason)
        except Exception:  # noqa: BLE001
            logger.exception("could not clear %s for %s", reason, result["client_id"])


# ------------------------------------------------------------------------------------------------------------
# Set-based side effects of a chunk: movers + alerts with a constant number of queries
# ------------------------------------------------------------------------------------------------------------


def health_side_effects_bulk(
    *, results: list[dict[str, Any]], actor: Actor, raise_alerts: bool = True, now: dt.datetime | None = None
) -> dict[str, int]:
    """Movers' audit/timeline and the health alerts of a chunk, set-based (call inside a transaction).

    Same outcome as ``health_change_record`` + ``health_alerts_apply`` (→ ``alert_raise``) per result and
    ``_clear_health_alerts`` (→ ``alert_condition_cleared``): new alerts (owner = CSM, due by priority),
    re-triggers (occurrence + 1, evidence replaced, higher priority, due recomputed, clear counter reset),
    clear runs (counter + 1; closed ``auto_resolved`` at 2), each create/update/close with audit + timeline.
    Queries: live alerts of the chunk (1, FOR UPDATE), CSMs of clients getting a new alert (≤ 1), bulk create
    and update of alerts (≤ 2 + batches), chain head + lock (2), audit and timeline inserts (2)."""
    from customers.services import (
        alert_batch_clear_run,
        alert_batch_new,
        alert_batch_retrigger,
        alerts_batch_save,
    )

    now = now or timezone.now()
    entries: list[dict[str, Any]] = []
    for r in results:
        entry = _change_entry(r)
        if entry is not None:
            entries.append({**entry, "client": r["client_pk"]})
    new_alerts: list[Alert] = []
    changed: list[Alert] = []
    if raise_alerts and results and _alert_api()[0] is not None:
        by_pk = {r["client_pk"]: r for r in results}
        live: dict[tuple[int, str], Alert] = {
            (a.client_id, a.reason): a
            for a in Alert.objects.select_for_update()
            .filter(
                client_id__any=list(by_pk),
                type=AlertType.RISK,
                reason__in=HEALTH_ALERT_REASONS,
                status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED],
            )
            .order_by()
        }
        wanted = {pk: health_alert_candidates(r) for pk, r in by_pk.items()}
        need_owner = [pk for pk, cands in wanted.items() if any((pk, c["reason"]) not in live for c in cands)]
        owners = (
            dict(Client.objects.filter(id__any=need_owner).values_list("id", "csm_assigned_id"))
            if need_owner
            else {}
        )
        for pk, cands in wanted.items():
            for c in cands:
                alert = live.get((pk, c["reason"]))
                if alert is None:
                    alert, entry = alert_batch_new(
                        client_id=pk,
                        type=AlertType.RISK,
                        reason=c["reason"],
                        priority=c["priority"],
                        rule_id=c["rule_id"],
                        evidence=c["evidence"],
                        owner_id=owners.get(pk),
                        now=now,
                    )
                    new_alerts.append(alert)
                else:
                    entry = alert_batch_retrigger(
                        alert, priority=c["priority"], rule_id=c["rule_id"], evidence=c["evidence"], now=now
                    )
                    changed.append(alert)
                if entry is not None:  # an unchanged re-trigger is recorded by its row only (RULES §16)
                    entries.append(entry)
        for (pk, reason), alert in live.items():
            if any(c["reason"] == reason for c in wanted[pk]):
                continue
            changed.append(alert)
            closing = alert_batch_clear_run(alert, now=now)
            if closing is not None:
                entries.append(closing)
        alerts_batch_save(created=new_alerts, changed=changed)
    audit_and_timeline_bulk(actor=actor, entries=entries, now=now)
    return {"entries": len(entries), "alerts_created": len(new_alerts), "alerts_changed": len(changed)}


def health_scoring_run(
    *,
    as_of: dt.date | None = None,
    client_ids: Iterable[int] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    actor: Actor | None = None,
    job: str = "nightly_health_scoring",
    progress: Callable[[int], None] | None = None,
) -> JobRun:
    """Foreground version of the nightly job: roll-ups, then every chunk in this process; writes a JobRun."""
    as_of = as_of or local_date(timezone.now())
    actor = actor or Actor.system(job)
    ids = sorted(client_ids) if client_ids is not None else active_client_ids()
    run = job_run_start(
        job=job, params={"as_of": as_of.isoformat(), "chunk_size": chunk_size, "clients": len(ids)}
    )
    rollup_pending()
    processed = failed = 0
    errors: list[str] = []
    for chunk in chunked(ids, chunk_size):
        outcome = health_chunk_score(client_ids=chunk, as_of=as_of, actor=actor)
        processed += outcome["processed"]
        failed += outcome["failed"]
        errors += outcome["errors"]
        if progress:
            progress(len(chunk))
    return job_run_finish(job_run_id=run.pk, processed=processed, failed=failed, errors=errors)


# ------------------------------------------------------------------------------------------------------------
# RSK-01 usage drop (set-based over ClientUsageDaily)
# ------------------------------------------------------------------------------------------------------------

USAGE_DROP_RATE = -0.30
USAGE_DROP_MIN_BASELINE = 5


def usage_drop_candidates(as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """Active clients whose active user-days of the last 7 days fell ≥ 30 % vs the 7 before (≥ 5); 1 query."""
    as_of = as_of or local_date(timezone.now())
    cur_start = as_of - dt.timedelta(days=6)
    prev_start = as_of - dt.timedelta(days=13)
    rows = (
        ClientUsageDaily.objects.filter(
            client__status=AccountStatus.ACTIVE, date__gte=prev_start, date__lte=as_of
        )
        .values("client_id", "client__client_id")
        .annotate(
            cur=Sum("active_users", filter=Q(date__gte=cur_start)),
            prev=Sum("active_users", filter=Q(date__lt=cur_start)),
        )
        .filter(prev__gte=USAGE_DROP_MIN_BASELINE)
    )
    out = []
    for r in rows:
        cur, prev = r["cur"] or 0, r["prev"]
        change = (cur - prev) / prev
        if change <= USAGE_DROP_RATE + 1e-12:
            out.append(
                {
                    "client_pk": r["client_id"],
                    "client_id": r["client__client_id"],
                    "aud_last_7d": cur,
                    "aud_previous_7d": prev,
                    "change_rate": round(change, 4),
                    "as_of": as_of.isoformat(),
                }
            )
    return out


def usage_drop_alerts_run(*, as_of: dt.date | None = None, actor: Actor | None = None) -> JobRun:
    """RSK-01 → alert ``usage_drop`` (risk, high); clears live ones whose condition no longer holds."""
    actor = actor or Actor.system("usage_drop_alerts")
    run = job_run_start(job="usage_drop_alerts", params={"as_of": as_of.isoformat() if as_of else None})
    rollup_pending()
    alert_raise, cleared = _alert_api()
    processed = failed = 0
    errors: list[str] = []
    candidates = usage_drop_candidates(as_of)
    firing = {c["client_pk"] for c in candidates}
    for c in candidates:
        try:
            if alert_raise is not None:
                alert_raise(
                    actor=actor,
                    client=c["client_id"],
                    type=AlertType.RISK,
                    reason="usage_drop",
                    priority=Priority.HIGH,
                    rule_id="RSK-01",
                    evidence=c,
                )
            processed += 1
        except Exception as exc:  # noqa: BLE001
            failed += 1
            errors.append(f"{c['client_id']}: {exc!r}")
    if cleared is not None:
        live = Alert.objects.filter(
            reason="usage_drop", type=AlertType.RISK, status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED]
        ).values_list("client_id", "client__client_id")
        for pk, client_id in live:
            if pk not in firing:
                try:
                    cleared(actor=actor, client=client_id, type=AlertType.RISK, reason="usage_drop")
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"{client_id}: {exc!r}")
    return job_run_finish(job_run_id=run.pk, processed=processed, failed=failed, errors=errors)


def usage_rollup_run() -> JobRun:
    run = job_run_start(job="usage_rollup")
    try:
        done = rollup_pending()
    except Exception as exc:
        job_run_finish(job_run_id=run.pk, processed=0, failed=1, errors=[repr(exc)])
        raise
    return job_run_finish(job_run_id=run.pk, processed=done, failed=0, errors=[])


# ------------------------------------------------------------------------------------------------------------
# Beat schedule installation (RULES §19: defined in code, installed idempotently)
# ------------------------------------------------------------------------------------------------------------


def beat_schedules_install(schedule: dict[str, dict] | None = None) -> list[str]:
    """Create or update one django-celery-beat PeriodicTask per entry of ``CELERY_BEAT_SCHEDULE``."""
    from celery.schedules import crontab
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    schedule = settings.CELERY_BEAT_SCHEDULE if schedule is None else schedule
    installed = []
    for name, entry in schedule.items():
        sched = entry["schedule"]
        defaults: dict[str, Any] = {"task": entry["task"], "enabled": True}
        if isinstance(sched, crontab):
            spec = {
                "minute": sched._orig_minute,
                "hour": sched._orig_hour,
                "day_of_week": sched._orig_day_of_week,
                "day_of_month": sched._orig_day_of_month,
                "month_of_year": sched._orig_month_of_year,
                "timezone": "UTC",
            }
            spec = {k: str(v) for k, v in spec.items()}
            cron = CrontabSchedule.objects.filter(**spec).first() or CrontabSchedule.objects.create(**spec)
            defaults.update(crontab=cron, interval=None)
        else:
            seconds = int(sched.total_seconds() if hasattr(sched, "total_seconds") else sched)
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=seconds, period=IntervalSchedule.SECONDS
            )
            defaults.update(interval=interval, crontab=None)
        PeriodicTask.objects.update_or_create(name=name, defaults=defaults)
        installed.append(name)
    return installed


def band_worsened(old: str | None, new: str | None) -> bool:
    if not old or not new:
        return False
    return BAND_ORDER.index(new) > BAND_ORDER.index(old)


def churn_model_training_run(*, as_of: dt.date | None = None) -> dict[str, Any]:
    """The monthly training job: a JobRun around ``churn_model_train`` (skipped / rejected / active)."""
    from .churn_model import churn_model_train

    day = as_of or local_date(timezone.now())
    run = job_run_start(job="churn_model_training", params={"as_of": day.isoformat()})
    try:
        model = churn_model_train(as_of=day, actor=Actor.system("churn_model_training"))
    except Exception as exc:
        job_run_finish(job_run_id=run.pk, processed=0, failed=1, errors=[repr(exc)])
        raise
    job_run_finish(job_run_id=run.pk, processed=1, failed=0, errors=[])
    return {"job_run_id": run.pk, "model_id": model.pk, "version": model.version, "status": model.status}


# ------------------------------------------------------------------------------------------------------------
# manage_lifecycle_stages(action="transition") (TOOLS §3.5)
# ------------------------------------------------------------------------------------------------------------


@transaction.atomic
def lifecycle_transition_run(*, actor: Actor, client_id: str, new_stage: str, reason: str) -> dict[str, Any]:
    """A manual stage change through ``customers.services.lifecycle_transition`` (history, audit, timeline,
    side effects); a target outside RULES §7.1's allowed transitions, or the current stage, is a ``CONFLICT``."""
    client = resolve_client(client_id)
    allowed = sorted(ALLOWED_TRANSITIONS.get(client.lifecycle_stage, ()))
    if new_stage == client.lifecycle_stage or new_stage not in allowed:
        what = "already in" if new_stage == client.lifecycle_stage else "cannot move to"
        raise Conflict(
            f"Client {client.client_id} {what} stage '{new_stage}' from '{client.lifecycle_stage}'; "
            f"allowed targets: {', '.join(allowed) or 'none'}.",
            field="new_stage",
        )
    res = lifecycle_transition(actor=actor, client=client.client_id, to_stage=new_stage, reason=reason)
    h = res.history
    return {
        "client_id": client.client_id,
        "previous_stage": res.from_stage,
        "new_stage": res.to_stage,
        "transitioned_at": h.entered_at.isoformat(),
        "reason": reason,
        "side_effects": jsonable(res.side_effects),
        "history_entry": {
            "from_stage": h.from_stage or None,
            "to_stage": h.to_stage,
            "entered_at": h.entered_at.isoformat(),
            "exited_at": None,
            "reason": h.reason,
            "rule_id": h.rule_id or None,
            "actor": h.actor,
        },
        "audit_event_id": str(res.audit_event.event_id),
        "data_gaps": [],
    }
