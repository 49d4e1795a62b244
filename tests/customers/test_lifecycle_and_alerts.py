"""Lifecycle transitions (RULES §7.1) and alert de-duplication (RULES §16)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from cs_project.core.errors import Conflict, NotFound
from customers import rules, services
from customers.choices import LifecycleStage
from customers.models import Alert, ArrMovement, AuditEvent, LifecycleStageHistory, TimelineEvent

from .factories import ClientFactory

pytestmark = pytest.mark.django_db

STAGES = list(LifecycleStage.values)
LEGAL = {
    ("onboarding", "active"),
    ("onboarding", "at_risk"),
    ("onboarding", "renewal"),
    ("onboarding", "churned"),
    ("active", "at_risk"),
    ("active", "expansion"),
    ("active", "renewal"),
    ("active", "churned"),
    ("at_risk", "active"),
    ("at_risk", "renewal"),
    ("at_risk", "churned"),
    ("expansion", "active"),
    ("expansion", "at_risk"),
    ("expansion", "renewal"),
    ("expansion", "churned"),
    ("renewal", "active"),
    ("renewal", "at_risk"),
    ("renewal", "expansion"),
    ("renewal", "churned"),
    ("churned", "onboarding"),
}


def _client_in(stage: str):
    client = ClientFactory(lifecycle_stage=stage, status="churned" if stage == "churned" else "active")
    LifecycleStageHistory.objects.create(
        client=client, to_stage=stage, actor="test", entered_at=timezone.now() - dt.timedelta(days=3)
    )
    return client


@pytest.mark.parametrize(("from_stage", "to_stage"), [(a, b) for a in STAGES for b in STAGES])
def test_transition_matrix(actor, from_stage, to_stage):
    client = _client_in(from_stage)
    assert rules.transition_allowed(from_stage, to_stage) == ((from_stage, to_stage) in LEGAL)
    if (from_stage, to_stage) not in LEGAL:
        with pytest.raises(Conflict) as exc:
            services.lifecycle_transition(actor=actor, client=client.client_id, to_stage=to_stage)
        assert exc.value.field == "to_stage"
        assert LifecycleStageHistory.objects.filter(client=client).count() == 1
        return
    result = services.lifecycle_transition(actor=actor, client=client, to_stage=to_stage, reason="test")
    client.refresh_from_db()
    assert client.lifecycle_stage == to_stage
    rows = list(LifecycleStageHistory.objects.filter(client=client).order_by("entered_at"))
    assert len(rows) == 2
    assert rows[0].exited_at == rows[1].entered_at
    assert (rows[1].from_stage, rows[1].to_stage, rows[1].exited_at) == (from_stage, to_stage, None)
    assert result.audit_event.action == "customers.lifecycle.transitioned"
    entry = TimelineEvent.objects.get(client=client)
    assert entry.event_type == "lifecycle" and entry.audit_event_id == result.audit_event.pk


def test_churn_and_reactivation_arr_movements(actor):
    client = _client_in("at_risk")
    client.contract_value = Decimal("42000")
    client.save()
    services.alert_raise(
        actor=actor, client=client, type="risk", reason="health_below_threshold", priority="high"
    )
    services.lifecycle_transition(actor=actor, client=client, to_stage="churned")
    client.refresh_from_db()
    assert client.status == "churned"
    assert ArrMovement.objects.get(client=client, kind="churn").amount == Decimal("-42000")
    assert Alert.objects.get(client=client).close_reason == "churned"
    services.lifecycle_transition(actor=actor, client=client, to_stage="onboarding", reason="back")
    client.refresh_from_db()
    assert (client.status, client.lifecycle_stage) == ("active", "onboarding")
    assert ArrMovement.objects.get(client=client, kind="reactivation").amount == Decimal("42000")


def test_transition_unknown_client(actor):
    with pytest.raises(NotFound):
        services.lifecycle_transition(actor=actor, client="ghost", to_stage="active")


def test_alert_deduplication(actor):
    client = ClientFactory()
    t0 = timezone.now()
    first = services.alert_raise(
        actor=actor,
        client=client,
        type="risk",
        reason="usage_drop",
        priority="medium",
        rule_id="RSK-01",
        evidence={"drop": 0.3},
        now=t0,
    )
    assert first.created and first.alert.due_at == t0 + dt.timedelta(days=5)
    second = services.alert_raise(
        actor=actor,
        client=client,
        type="risk",
        reason="usage_drop",
        priority="high",
        evidence={"drop": 0.4},
        now=t0 + dt.timedelta(hours=4),
    )
    third = services.alert_raise(
        actor=actor,
        client=client,
        type="risk",
        reason="usage_drop",
        priority="low",
        evidence={"drop": 0.35},
        now=t0 + dt.timedelta(hours=8),
    )
    assert not second.created and not third.created
    alert = Alert.objects.get(client=client)
    assert alert.occurrence_count == 3
    assert alert.priority == "high"  # the higher of old and new
    assert alert.due_at == t0 + dt.timedelta(days=2)  # from the first trigger
    assert alert.evidence == {"drop": 0.35}
    assert alert.first_triggered_at == t0 and alert.last_triggered_at == t0 + dt.timedelta(hours=8)
    assert alert.rule_id == "RSK-01"
    assert AuditEvent.objects.filter(action="customers.alert.raised").count() == 1
    # RULES §16 (amended): the priority change (medium → high) is recorded; the third trigger (low) changes
    # neither priority nor status, so it only updates the row
    assert AuditEvent.objects.filter(action="customers.alert.updated").count() == 1
    assert TimelineEvent.objects.filter(client=client, event_type="usage").count() == 2

    # another reason or type is another alert
    services.alert_raise(actor=actor, client=client, type="activity", reason="usage_drop", priority="low")
    assert Alert.objects.filter(client=client).count() == 2

    services.alert_close(actor=actor, alert=alert.alert_id, reason="resolved")
    alert.refresh_from_db()
    assert (alert.status, alert.close_reason) == ("closed", "resolved")
    with pytest.raises(Conflict):
        services.alert_close(actor=actor, alert=alert)
    again = services.alert_raise(actor=actor, client=client, type="risk", reason="usage_drop", priority="low")
    assert again.created and again.alert.pk != alert.pk
    assert again.alert.due_at - again.alert.first_triggered_at == dt.timedelta(days=10)


@pytest.mark.parametrize(("priority", "days"), [("critical", 1), ("high", 2), ("medium", 5), ("low", 10)])
def test_alert_due_dates(actor, priority, days):
    t0 = timezone.now()
    result = services.alert_raise(
        actor=actor, client=ClientFactory(), type="risk", reason="x", priority=priority, now=t0
    )
    assert result.alert.due_at == t0 + dt.timedelta(days=days)


def test_alert_auto_close_after_two_clear_runs(actor):
    client = ClientFactory()
    services.alert_raise(actor=actor, client=client, type="risk", reason="payment_overdue", priority="high")
    first = services.alert_condition_cleared(
        actor=actor, client=client, type="risk", reason="payment_overdue"
    )
    assert not first.changed and Alert.objects.get(client=client).status == "open"
    # a new trigger in between resets the counter
    services.alert_raise(actor=actor, client=client, type="risk", reason="payment_overdue", priority="high")
    services.alert_condition_cleared(actor=actor, client=client, type="risk", reason="payment_overdue")
    closed = services.alert_condition_cleared(
        actor=actor, client=client, type="risk", reason="payment_overdue"
    )
    assert closed.changed
    alert = Alert.objects.get(client=client)
    assert (alert.status, alert.close_reason) == ("closed", "auto_resolved")
    assert (
        services.alert_condition_cleared(actor=actor, client=client, type="risk", reason="payment_overdue")
        is None
    )
