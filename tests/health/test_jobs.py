import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import transaction
from django_celery_beat.models import PeriodicTask

from cs_project.celery import app
from customers.models import Alert, Client, JobRun, TimelineEvent
from health import scoring, tasks
from health.models import HealthSnapshot
from health.services import HEALTH_ALERT_REASONS, beat_schedules_install, usage_drop_candidates
from tests.customers.factories import ClientFactory
from tests.health.factories import client_day
from tests.health.test_scoring import AS_OF, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    """Run tasks in-process even when REDIS_URL is configured (CI)."""
    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


def snapshot_rows():
    return sorted(
        HealthSnapshot.objects.values_list(
            "client__client_id",
            "as_of",
            "health_score",
            "usage_score",
            "engagement_score",
            "support_score",
            "satisfaction_score",
            "payment_score",
            "risk_level",
            "churn_probability",
        )
    )


def test_score_health_command(eager):
    build_world()
    ClientFactory(client_id="idle")
    ClientFactory(client_id="paused", status="inactive")
    out = io.StringIO()
    call_command(
        "score_health", "--date", AS_OF.isoformat(), "--chunk-size", "1", "--no-progress", stdout=out
    )
    assert "2 scored, 0 failed" in out.getvalue()
    assert sorted(HealthSnapshot.objects.values_list("client__client_id", flat=True)) == ["acme", "idle"]
    run = JobRun.objects.get(job="score_health")
    assert (run.processed, run.failed, run.status) == (2, 0, "succeeded")
    acme = Client.objects.get(client_id="acme")
    assert acme.health_score == 67
    # HLT-07 / HLT-03 alerts are not due at 67 (threshold 60, churn 0.33)
    assert not Alert.objects.filter(client=acme, reason__in=HEALTH_ALERT_REASONS).exists()
    # same day again: still one row per client
    call_command("score_health", "--date", AS_OF.isoformat(), "--client", "acme", "--no-progress", stdout=out)
    assert HealthSnapshot.objects.filter(client=acme).count() == 1


def test_nightly_task_matches_foreground_and_raises_alerts(eager):
    client = build_world()
    low = ClientFactory(client_id="low")
    for i in range(10):
        client_day(
            low, AS_OF - dt.timedelta(days=40 + i), active_users=0, events=2
        )  # history, no recent activity
    from customers.models import Invoice

    Invoice.objects.create(
        client=low, amount=5, issued_on=AS_OF - dt.timedelta(days=90), due_date=AS_OF - dt.timedelta(days=60)
    )
    out = tasks.nightly_health_scoring.delay(AS_OF.isoformat(), 1).get()
    run = JobRun.objects.get(pk=out["job_run_id"])
    assert (run.status, run.processed, out["chunks"]) == ("succeeded", 2, 2)
    celery_rows = snapshot_rows()
    HealthSnapshot.objects.all().delete()
    call_command("score_health", "--date", AS_OF.isoformat(), "--no-progress", stdout=io.StringIO())
    assert snapshot_rows() == celery_rows
    low_row = HealthSnapshot.objects.get(client=low)
    # usage 0 (U4: −100 %), support 100, payment 60 (overdue) → (0·.35 + 100·.15 + 60·.10) / .60 = 35
    assert low_row.health_score == 35 and low_row.risk_level == "critical"
    alerts = dict(
        Alert.objects.filter(client=low, reason__in=HEALTH_ALERT_REASONS).values_list("reason", "priority")
    )
    assert alerts == {"health_below_threshold": "critical", "churn_risk_high": "high"}
    assert (
        Alert.objects.get(client=low, reason="health_below_threshold").occurrence_count == 2
    )  # de-duplicated
    assert not Alert.objects.filter(client=client, reason__in=HEALTH_ALERT_REASONS).exists()


def test_timeline_only_when_score_moves(eager):
    build_world()
    call_command("score_health", "--date", "2026-03-30", "--no-progress", stdout=io.StringIO())
    movers = TimelineEvent.objects.filter(event_type="health", title__startswith="Health ")
    before = movers.count()
    call_command("score_health", "--date", AS_OF.isoformat(), "--no-progress", stdout=io.StringIO())
    assert movers.count() == before  # 67 → 67: no entry
    Client.objects.filter(client_id="acme").update(health_score=90, risk_level="low")
    call_command("score_health", "--date", AS_OF.isoformat(), "--no-progress", stdout=io.StringIO())
    assert movers.count() == before + 1


def test_usage_drop_alerts(eager):
    drop = ClientFactory(client_id="drop")
    steady = ClientFactory(client_id="steady")
    small = ClientFactory(client_id="small")
    for i in range(7):
        client_day(drop, AS_OF - dt.timedelta(days=7 + i), active_users=2)  # previous 14
        client_day(steady, AS_OF - dt.timedelta(days=7 + i), active_users=2)
        client_day(steady, AS_OF - dt.timedelta(days=i), active_users=2)
    client_day(drop, AS_OF, active_users=9)  # last 7 days: 9 → −35.7 %
    client_day(small, AS_OF - dt.timedelta(days=8), active_users=4)  # baseline 4 < 5
    found = usage_drop_candidates(AS_OF)
    assert [(c["client_id"], c["aud_last_7d"], c["aud_previous_7d"], c["change_rate"]) for c in found] == [
        ("drop", 9, 14, -0.3571)
    ]
    tasks.usage_drop_alerts.delay(AS_OF.isoformat()).get()
    alert = Alert.objects.get(reason="usage_drop")
    assert (alert.client.client_id, alert.priority, alert.rule_id) == ("drop", "high", "RSK-01")


def test_usage_rollup_task_writes_jobrun(eager):
    tasks.usage_rollup.delay().get()
    assert JobRun.objects.get(job="usage_rollup").status == "succeeded"


def test_beat_schedule_installed_idempotently():
    assert set(PeriodicTask.objects.values_list("name", flat=True)) >= {
        "usage_rollup",
        "nightly_health_scoring",
        "usage_drop_alerts",
    }
    n = PeriodicTask.objects.count()
    beat_schedules_install()
    beat_schedules_install()
    assert PeriodicTask.objects.count() == n
    nightly = PeriodicTask.objects.get(name="nightly_health_scoring")
    assert (nightly.task, nightly.crontab.hour, nightly.crontab.minute) == (
        "health.tasks.nightly_health_scoring",
        "2",
        "0",
    )


def _low_client(client_id):
    """History without recent activity and an overdue invoice → 35 (critical), churn 0.65 (high)."""
    from customers.models import Invoice
    from health.models import Feature
    from tests.health.factories import FeatureFactory

    if not Feature.objects.filter(feature_key="core1").exists():
        FeatureFactory(feature_key="core1", is_core=True)  # U2 computable (0 of 1 used)
    low = ClientFactory(client_id=client_id)
    for i in range(10):
        client_day(low, AS_OF - dt.timedelta(days=40 + i), active_users=0, events=2)
    Invoice.objects.create(
        client=low, amount=5, issued_on=AS_OF - dt.timedelta(days=90), due_date=AS_OF - dt.timedelta(days=60)
    )
    return low


def _alert_trace(client):
    from customers.models import AuditEvent

    alerts = sorted(
        Alert.objects.filter(client=client).values_list(
            "reason",
            "priority",
            "status",
            "occurrence_count",
            "consecutive_clear_runs",
            "close_reason",
            "rule_id",
        )
    )
    audit = sorted(
        AuditEvent.objects.filter(client=client)
        .values_list("action", "object_type", "changes", "data")
        .order_by("id"),
        key=repr,
    )
    timeline = sorted(
        TimelineEvent.objects.filter(client=client, audit_event__isnull=False).values_list(
            "event_type", "title", "impact", "severity", "source_type"
        )
    )
    return alerts, [(a, o, sorted(c), sorted(d)) for a, o, c, d in audit], timeline


def test_bulk_side_effects_match_per_client_path_and_keep_the_audit_chain():
    """Raise (run 1), re-trigger (run 2), clear twice → auto-closed: the set-based chunk path writes the same
    alerts, audit events and timeline entries as alert_raise / alert_condition_cleared client by client."""
    from cs_project.core.context import Actor
    from customers.audit import audit_chain_verify as verify_chain
    from health import services

    bulk, single = _low_client("bulk"), _low_client("single")
    actor = Actor.system("nightly_health_scoring")

    def healthy(result):
        return {
            **result,
            "health_score": 90,
            "risk_level": "low",
            "trend": "stable",
            "churn": {**result["churn"], "risk_level": "low", "probability": 0.1},
        }

    for step in range(4):
        results = scoring.score_chunk([bulk.pk, single.pk], AS_OF)
        if step >= 2:  # the condition no longer holds
            results = {pk: healthy(r) for pk, r in results.items()}
        with transaction.atomic():
            services.health_side_effects_bulk(results=[results[bulk.pk]], actor=actor)
        assert (
            services._side_effects_one_by_one(
                [results[single.pk]], actor=actor, raise_alerts=True, adoption_and_lifecycle=False
            )
            == []
        )
        b, s = _alert_trace(bulk), _alert_trace(single)
        assert b == s, step
    alerts = dict(Alert.objects.filter(client=bulk).values_list("reason", "status"))
    assert alerts == {"health_below_threshold": "closed", "churn_risk_high": "closed"}
    assert Alert.objects.get(client=bulk, reason="health_below_threshold").occurrence_count == 2
    count, broken, reason = verify_chain()
    assert broken is None and count > 0, reason


def test_chunk_side_effects_query_count_is_constant():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cs_project.core.context import Actor
    from health import services

    small = [_low_client(f"s{i}").pk for i in range(2)]
    large = [_low_client(f"l{i}").pk for i in range(8)]
    actor = Actor.system("nightly_health_scoring")
    counts = []
    for ids in (small, large):
        with CaptureQueriesContext(connection) as ctx:
            out = services.health_chunk_score(client_ids=ids, as_of=AS_OF, actor=actor)
        assert out["failed"] == 0 and not out["errors"]
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    assert (
        Alert.objects.filter(client_id__in=large, status="open", reason__in=HEALTH_ALERT_REASONS).count()
        == 16
    )
