import datetime as dt
import io

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from cs_project.celery import app
from customers.models import Alert, Client, JobRun, TimelineEvent
from health import tasks
from health.models import HealthSnapshot
from health.services import beat_schedules_install, usage_drop_candidates
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
    assert not Alert.objects.filter(client=acme).exists()
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
    alerts = dict(Alert.objects.filter(client=low).values_list("reason", "priority"))
    assert alerts == {"health_below_threshold": "critical", "churn_risk_high": "high"}
    assert (
        Alert.objects.get(client=low, reason="health_below_threshold").occurrence_count == 2
    )  # de-duplicated
    assert not Alert.objects.filter(client=client).exists()


def test_timeline_only_when_score_moves(eager):
    build_world()
    call_command("score_health", "--date", "2026-03-30", "--no-progress", stdout=io.StringIO())
    before = TimelineEvent.objects.filter(event_type="health").count()
    call_command("score_health", "--date", AS_OF.isoformat(), "--no-progress", stdout=io.StringIO())
    assert TimelineEvent.objects.filter(event_type="health").count() == before  # 67 → 67: no entry
    Client.objects.filter(client_id="acme").update(health_score=90, risk_level="low")
    call_command("score_health", "--date", AS_OF.isoformat(), "--no-progress", stdout=io.StringIO())
    assert TimelineEvent.objects.filter(event_type="health").count() == before + 1


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
