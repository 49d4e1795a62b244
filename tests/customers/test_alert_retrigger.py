"""RULES §16 as amended: a re-trigger that changes neither priority nor status updates the alert in place
(counters, last_triggered_at, evidence) and writes no audit event and no timeline entry; create, priority
change, close and reopen still write both — through ``alert_raise`` and through the set-based helpers the
nightly jobs use (``alert_batch_*`` + ``audit_and_timeline_bulk``)."""

import datetime as dt

import pytest
from django.utils import timezone

from cs_project.core.context import Actor
from customers import services
from customers.audit import audit_and_timeline_bulk
from customers.models import Alert, AuditEvent, TimelineEvent

from .factories import AlertFactory, ClientFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)


def counts() -> tuple[int, int]:
    return AuditEvent.objects.count(), TimelineEvent.objects.count()


def raise_alert(actor, client, priority, *, now, evidence=None):
    return services.alert_raise(
        actor=actor,
        client=client,
        type="risk",
        reason="usage_drop",
        priority=priority,
        rule_id="RSK-01",
        evidence=evidence or {},
        now=now,
    )


def test_unchanged_retrigger_updates_the_row_and_writes_nothing_else(actor):
    client = ClientFactory()
    raise_alert(actor, client, "high", now=T0, evidence={"drop": 0.3})
    assert counts() == (1, 1)  # create: one audit event, one timeline entry

    same = raise_alert(actor, client, "high", now=T0 + dt.timedelta(days=1), evidence={"drop": 0.4})
    lower = raise_alert(actor, client, "low", now=T0 + dt.timedelta(days=2), evidence={"drop": 0.5})

    assert counts() == (1, 1)
    assert same.audit_event is None and lower.audit_event is None
    assert not same.created and same.changed
    alert = Alert.objects.get(client=client)
    assert alert.occurrence_count == 3
    assert alert.last_triggered_at == T0 + dt.timedelta(days=2)
    assert alert.evidence == {"drop": 0.5}
    assert (alert.priority, alert.status) == ("high", "open")
    assert alert.due_at == T0 + dt.timedelta(days=2)  # high: first trigger + 2 days, unchanged


def test_priority_change_writes_audit_and_timeline(actor):
    client = ClientFactory()
    raise_alert(actor, client, "medium", now=T0)
    result = raise_alert(actor, client, "critical", now=T0 + dt.timedelta(hours=3))
    assert counts() == (2, 2)
    event = AuditEvent.objects.get(action="customers.alert.updated")
    assert result.audit_event == event
    assert event.changes["priority"] == ["medium", "critical"]
    assert event.changes["occurrence_count"] == [1, 2]
    assert TimelineEvent.objects.filter(audit_event=event, severity="critical").count() == 1
    assert Alert.objects.get(client=client).due_at == T0 + dt.timedelta(days=1)


def test_snoozed_alert_reopens_on_a_trigger_after_snoozed_until(actor):
    client = ClientFactory()
    AlertFactory(
        client=client,
        type="risk",
        reason="usage_drop",
        priority="high",
        status="snoozed",
        snoozed_until=T0,
        first_triggered_at=T0 - dt.timedelta(days=5),
        last_triggered_at=T0 - dt.timedelta(days=5),
    )
    still_snoozed = raise_alert(actor, client, "high", now=T0 - dt.timedelta(hours=1))
    assert still_snoozed.audit_event is None and counts() == (0, 0)
    assert Alert.objects.get(client=client).status == "snoozed"

    reopened = raise_alert(actor, client, "high", now=T0 + dt.timedelta(hours=1))
    assert counts() == (1, 1)
    assert reopened.audit_event.action == "customers.alert.reopened"
    assert reopened.audit_event.changes["status"] == ["snoozed", "open"]
    alert = Alert.objects.get(client=client)
    assert (alert.status, alert.snoozed_until, alert.occurrence_count) == ("open", None, 3)


def test_close_still_writes_audit_and_timeline(actor):
    client = ClientFactory()
    raise_alert(actor, client, "high", now=T0)
    raise_alert(actor, client, "high", now=T0 + dt.timedelta(days=1))
    services.alert_close(actor=actor, alert=Alert.objects.get(client=client), reason="resolved")
    assert counts() == (2, 2)
    assert AuditEvent.objects.filter(action="customers.alert.closed").count() == 1


def test_batch_helpers_follow_the_same_rule():
    """Nightly path: new + unchanged re-trigger + priority change + two clear runs, one chunk write."""
    actor = Actor.system("nightly_health_scoring")
    now = timezone.now()
    quiet, louder, fading = ClientFactory(), ClientFactory(), ClientFactory()
    live = {
        c.pk: AlertFactory(client=c, type="risk", reason="usage_drop", priority="medium")
        for c in (quiet, louder, fading)
    }
    fresh = ClientFactory()
    new_alert, new_entry = services.alert_batch_new(
        client_id=fresh.pk,
        type="risk",
        reason="usage_drop",
        priority="high",
        rule_id="RSK-01",
        evidence={"drop": 0.4},
        owner_id=None,
        now=now,
    )
    unchanged = services.alert_batch_retrigger(
        live[quiet.pk], priority="medium", rule_id="RSK-01", evidence={"drop": 0.2}, now=now
    )
    raised = services.alert_batch_retrigger(
        live[louder.pk], priority="high", rule_id="RSK-01", evidence={"drop": 0.6}, now=now
    )
    first_clear = services.alert_batch_clear_run(live[fading.pk], now=now)
    assert unchanged is None and first_clear is None
    assert raised["action"] == "customers.alert.updated"
    assert raised["changes"]["priority"] == ["medium", "high"]

    services.alerts_batch_save(created=[new_alert], changed=list(live.values()))
    audit_and_timeline_bulk(actor=actor, entries=[new_entry, raised], now=now)

    assert counts() == (2, 2)
    assert sorted(AuditEvent.objects.values_list("action", flat=True)) == [
        "customers.alert.raised",
        "customers.alert.updated",
    ]
    quiet_alert = Alert.objects.get(client=quiet)
    assert (quiet_alert.occurrence_count, quiet_alert.evidence, quiet_alert.priority) == (
        2,
        {"drop": 0.2},
        "medium",
    )
    assert quiet_alert.last_triggered_at == now
    assert Alert.objects.get(client=louder).priority == "high"
    assert Alert.objects.get(client=fading).consecutive_clear_runs == 1
    assert Alert.objects.get(client=fresh).occurrence_count == 1


def test_second_nightly_chunk_retriggers_without_audit_or_timeline():
    """The nightly chunk path (scoring, adoption, lifecycle; set-based): night 1 raises the client's alerts with
    one audit event and one timeline entry each; night 2 re-triggers every one of them unchanged: no new row."""
    from health import services as health_services
    from tests.health.test_jobs import _low_client
    from tests.health.test_scoring import AS_OF

    client = _low_client("nightly")
    actor = Actor.system("nightly_health_scoring")

    def alert_rows() -> tuple[int, int]:
        return (
            AuditEvent.objects.filter(object_type="alert").count(),
            TimelineEvent.objects.filter(audit_event__object_type="alert").count(),
        )

    seen = []
    for _night in (1, 2):
        out = health_services.health_chunk_score(client_ids=[client.pk], as_of=AS_OF, actor=actor)
        assert out["failed"] == 0, out
        seen.append(alert_rows())
    assert seen == [(7, 7), (7, 7)]
    assert sorted(
        Alert.objects.filter(client=client).values_list("reason", "occurrence_count", "status")
    ) == [
        ("adoption_overdue:m1", 2, "open"),
        ("adoption_overdue:m2", 2, "open"),
        ("adoption_overdue:m3", 2, "open"),
        ("adoption_overdue:m4", 2, "open"),
        ("adoption_overdue:m5", 2, "open"),
        ("churn_risk_high", 2, "open"),
        ("health_below_threshold", 2, "open"),
    ]
