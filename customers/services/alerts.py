"""Alerts (CTAs, RULES §16): raise with de-duplication, re-trigger, close, auto-close after clear runs, and the
set-based variants the nightly jobs use."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from cs_project.core.bulk import rows_update
from cs_project.core.context import Actor
from cs_project.core.errors import Conflict, InvalidParameter, NotFound
from customers.audit import audit_and_timeline, audit_record
from customers.choices import AlertStatus, AlertType, Impact, Priority, Severity, TimelineEventType
from customers.models import Alert, AuditEvent, Client

from .common import get_client

ALERT_DUE = {
    Priority.CRITICAL: dt.timedelta(days=1),
    Priority.HIGH: dt.timedelta(days=2),
    Priority.MEDIUM: dt.timedelta(days=5),
    Priority.LOW: dt.timedelta(days=10),
}

# The columns a re-trigger, a clear run or a close may change (one UPDATE per alert, or set-based per chunk).
ALERT_UPDATE_FIELDS = [
    "priority",
    "due_at",
    "evidence",
    "occurrence_count",
    "last_triggered_at",
    "consecutive_clear_runs",
    "rule_id",
    "status",
    "closed_at",
    "close_reason",
    "snoozed_until",
]

_REASON_TIMELINE_TYPE = [
    ("health_", TimelineEventType.HEALTH),
    ("churn_risk", TimelineEventType.HEALTH),
    ("adoption_overdue", TimelineEventType.HEALTH),
    ("usage_", TimelineEventType.USAGE),
    ("no_engagement", TimelineEventType.COMMUNICATION),
    ("champion_change", TimelineEventType.ACCOUNT),
    ("payment_", TimelineEventType.CONTRACT),
    ("nps_", TimelineEventType.FEEDBACK),
    ("csat_", TimelineEventType.FEEDBACK),
    ("sla_", TimelineEventType.SUPPORT),
    ("escalation_", TimelineEventType.SUPPORT),
    ("onboarding_", TimelineEventType.ONBOARDING),
    ("milestone_", TimelineEventType.ONBOARDING),
    ("renewal_", TimelineEventType.RENEWAL),
    ("upsell_", TimelineEventType.EXPANSION),
    ("expansion_", TimelineEventType.EXPANSION),
    ("ebr_", TimelineEventType.COMMUNICATION),
    ("retention_", TimelineEventType.RETENTION),
    ("lifecycle_", TimelineEventType.LIFECYCLE),
]
_TYPE_TIMELINE_TYPE = {
    AlertType.RISK: TimelineEventType.RETENTION,
    AlertType.OPPORTUNITY: TimelineEventType.EXPANSION,
    AlertType.LIFECYCLE: TimelineEventType.LIFECYCLE,
    AlertType.ACTIVITY: TimelineEventType.ACCOUNT,
    AlertType.OBJECTIVE: TimelineEventType.ACCOUNT,
}
_PRIORITY_SEVERITY = {
    Priority.CRITICAL: Severity.CRITICAL,
    Priority.HIGH: Severity.HIGH,
    Priority.MEDIUM: Severity.MEDIUM,
    Priority.LOW: Severity.LOW,
}


def alert_timeline_type(alert_type: str, reason: str) -> str:
    """Timeline type by reason family (RULES §16)."""
    for prefix, event_type in _REASON_TIMELINE_TYPE:
        if reason.startswith(prefix):
            return event_type
    return _TYPE_TIMELINE_TYPE.get(alert_type, TimelineEventType.ACCOUNT)


def higher_priority(a: str, b: str) -> str:
    return a if Priority.rank(a) <= Priority.rank(b) else b


@dataclass
class AlertResult:
    alert: Alert
    created: bool
    changed: bool
    audit_event: AuditEvent | None


@transaction.atomic
def alert_raise(
    *,
    actor: Actor,
    client: Client | str,
    type: str,  # noqa: A002 - the spec's field name
    reason: str,
    priority: str,
    rule_id: str = "",
    evidence: dict[str, Any] | None = None,
    owner=None,
    now: dt.datetime | None = None,
) -> AlertResult:
    """Open a CTA, or update the live one for (client, type, reason) (RULES §16 de-duplication).

    Existing open/snoozed alert: occurrence + 1, last_triggered_at, evidence replaced, priority = the higher
    of old and new (due date recomputed from the first trigger), clear-run counter reset.
    """
    if not isinstance(client, Client):
        client = get_client(client)
    if type not in AlertType.values:
        raise InvalidParameter(f"Unknown alert type '{type}'.", field="type")
    if priority not in Priority.values:
        raise InvalidParameter(f"Unknown priority '{priority}'.", field="priority")
    if not reason or len(reason) > 120:
        raise InvalidParameter("'reason' must be 1–120 characters.", field="reason")
    now = now or timezone.now()
    evidence = evidence or {}
    existing = (
        Alert.objects.select_for_update()
        .filter(client=client, type=type, reason=reason, status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED])
        .first()
    )
    timeline_type = alert_timeline_type(type, reason)
    if existing is None:
        alert = Alert.objects.create(
            client=client,
            type=type,
            reason=reason,
            priority=priority,
            status=AlertStatus.OPEN,
            owner=owner if owner is not None else client.csm_assigned,
            due_at=now + ALERT_DUE[priority],
            rule_id=rule_id or "",
            evidence=evidence,
            occurrence_count=1,
            first_triggered_at=now,
            last_triggered_at=now,
        )
        event = audit_and_timeline(
            actor=actor,
            action="customers.alert.raised",
            client=client,
            event_type=timeline_type,
            title=f"Alert raised: {reason} ({priority})",
            object_type="alert",
            object_id=alert.alert_id,
            data={
                "type": type,
                "reason": reason,
                "priority": priority,
                "rule_id": rule_id or None,
                "evidence": evidence,
            },
            impact=Impact.POSITIVE
            if type == AlertType.OPPORTUNITY
            else Impact.NEGATIVE
            if type == AlertType.RISK
            else Impact.NEUTRAL,
            severity=_PRIORITY_SEVERITY[priority],
        )
        return AlertResult(alert=alert, created=True, changed=True, audit_event=event)

    alert = existing
    changes = alert_retrigger_apply(alert, priority=priority, rule_id=rule_id, evidence=evidence, now=now)
    alert.save(update_fields=ALERT_UPDATE_FIELDS)
    if not retrigger_is_recorded(changes):
        return AlertResult(alert=alert, created=False, changed=True, audit_event=None)
    event = audit_and_timeline(
        actor=actor,
        client=client,
        event_type=timeline_type,
        object_type="alert",
        object_id=alert.alert_id,
        changes=changes,
        data={"rule_id": rule_id or None},
        impact=Impact.NEGATIVE if type == AlertType.RISK else Impact.NEUTRAL,
        severity=_PRIORITY_SEVERITY[alert.priority],
        **_retrigger_action(alert, changes),
    )
    return AlertResult(alert=alert, created=False, changed=True, audit_event=event)


def alert_close_apply(alert: Alert, *, actor: Actor, reason: str, now, with_timeline: bool) -> AuditEvent:
    old_status = alert.status
    alert.status = AlertStatus.CLOSED
    alert.closed_at = now
    alert.close_reason = reason[:100]
    alert.save(update_fields=["status", "closed_at", "close_reason"])
    kwargs = dict(
        actor=actor,
        action="customers.alert.closed",
        client=alert.client,
        object_type="alert",
        object_id=alert.alert_id,
        changes={"status": [old_status, AlertStatus.CLOSED], "close_reason": ["", alert.close_reason]},
        data={"reason": alert.reason, "type": alert.type},
    )
    if with_timeline:
        return audit_and_timeline(
            **kwargs,
            event_type=alert_timeline_type(alert.type, alert.reason),
            title=f"Alert closed: {alert.reason} ({reason})",
            impact=Impact.POSITIVE if reason in ("auto_resolved", "resolved") else Impact.NEUTRAL,
        )
    return audit_record(**kwargs)


@transaction.atomic
def alert_close(
    *, actor: Actor, alert: Alert | str, reason: str = "resolved", now: dt.datetime | None = None
) -> AlertResult:
    """Close an open or snoozed alert with a reason (``resolved``, ``auto_resolved``, ``churned``, …)."""
    alert_id = alert.alert_id if isinstance(alert, Alert) else alert
    try:
        obj = Alert.objects.select_for_update().select_related("client").get(alert_id=alert_id)
    except Alert.DoesNotExist:
        raise NotFound(f"Alert '{alert_id}' does not exist.", field="alert_id") from None
    if obj.status == AlertStatus.CLOSED:
        raise Conflict(f"Alert '{alert_id}' is already closed.", field="alert_id")
    if not reason:
        raise InvalidParameter("'reason' is required.", field="reason")
    event = alert_close_apply(obj, actor=actor, reason=reason, now=now or timezone.now(), with_timeline=True)
    return AlertResult(alert=obj, created=False, changed=True, audit_event=event)


@transaction.atomic
def alert_condition_cleared(
    *,
    actor: Actor,
    client: Client | str,
    type: str,
    reason: str,  # noqa: A002
) -> AlertResult | None:
    """A monitor found the condition false: after 2 consecutive clear runs the alert auto-closes (RULES §16).

    The first clear run only bumps a counter (no audit: it is monitor bookkeeping, not business data).
    """
    if not isinstance(client, Client):
        client = get_client(client)
    alert = (
        Alert.objects.select_for_update()
        .filter(client=client, type=type, reason=reason, status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED])
        .first()
    )
    if alert is None:
        return None
    alert.consecutive_clear_runs += 1
    if alert.consecutive_clear_runs >= 2:
        alert.save(update_fields=["consecutive_clear_runs"])
        event = alert_close_apply(
            alert, actor=actor, reason="auto_resolved", now=timezone.now(), with_timeline=True
        )
        return AlertResult(alert=alert, created=False, changed=True, audit_event=event)
    alert.save(update_fields=["consecutive_clear_runs"])
    return AlertResult(alert=alert, created=False, changed=False, audit_event=None)


def alert_retrigger_apply(
    alert: Alert, *, priority: str, rule_id: str | None, evidence: dict[str, Any], now: dt.datetime
) -> dict[str, list[Any]]:
    """A new trigger of a live alert, in memory (RULES §16): occurrence + 1, last trigger, evidence replaced,
    the higher priority (due date recomputed from the first trigger), clear runs reset; a snoozed alert whose
    ``snoozed_until`` has passed reopens (the condition still holds). Returns the audit changes; whether they
    are recorded is ``retrigger_is_recorded``."""
    changes: dict[str, list[Any]] = {"occurrence_count": [alert.occurrence_count, alert.occurrence_count + 1]}
    new_priority = higher_priority(alert.priority, priority)
    if new_priority != alert.priority:
        changes["priority"] = [alert.priority, new_priority]
        new_due = alert.first_triggered_at + ALERT_DUE[new_priority]
        changes["due_at"] = [alert.due_at, new_due]
        alert.priority = new_priority
        alert.due_at = new_due
    if alert.status == AlertStatus.SNOOZED and alert.snoozed_until is not None and alert.snoozed_until <= now:
        changes["status"] = [AlertStatus.SNOOZED, AlertStatus.OPEN]
        changes["snoozed_until"] = [alert.snoozed_until, None]
        alert.status = AlertStatus.OPEN
        alert.snoozed_until = None
    if alert.evidence != evidence:
        changes["evidence"] = [alert.evidence, evidence]
    alert.occurrence_count += 1
    alert.last_triggered_at = now
    alert.evidence = evidence
    alert.consecutive_clear_runs = 0
    if rule_id and not alert.rule_id:
        alert.rule_id = rule_id
    return changes


def retrigger_is_recorded(changes: dict[str, list[Any]]) -> bool:
    """RULES §16 (amended): a re-trigger that changes neither priority nor status only updates the alert row in
    place (counters, last trigger, evidence) — the row is its own record — and writes no audit event and no
    timeline entry. A priority change or a reopen is recorded like a create or a close."""
    return "priority" in changes or "status" in changes


def _retrigger_action(alert: Alert, changes: dict[str, list[Any]]) -> dict[str, str]:
    """Action and title of a recorded re-trigger: a reopen, or a priority change."""
    if "status" in changes:
        return {
            "action": "customers.alert.reopened",
            "title": f"Alert reopened: {alert.reason} (×{alert.occurrence_count}, {alert.priority})",
        }
    return {
        "action": "customers.alert.updated",
        "title": f"Alert re-triggered: {alert.reason} (×{alert.occurrence_count}, {alert.priority})",
    }


# Set-based alerts for nightly jobs: the rows, audit and timeline entries of alert_raise / alert_condition_cleared,
# built in memory per alert and written once per chunk (alerts_batch_save + customers.audit.audit_and_timeline_bulk).


def alert_batch_new(
    *,
    client_id: int,
    type: str,  # noqa: A002
    reason: str,
    priority: str,
    rule_id: str | None,
    evidence: dict[str, Any],
    owner_id: int | None,
    now: dt.datetime,
) -> tuple[Alert, dict[str, Any]]:
    """An unsaved new alert and its audit/timeline entry (as ``alert_raise`` creates one)."""
    alert = Alert(
        client_id=client_id,
        type=type,
        reason=reason,
        priority=priority,
        status=AlertStatus.OPEN,
        owner_id=owner_id,
        due_at=now + ALERT_DUE[priority],
        rule_id=rule_id or "",
        evidence=evidence,
        occurrence_count=1,
        first_triggered_at=now,
        last_triggered_at=now,
    )
    entry = {
        "client": client_id,
        "action": "customers.alert.raised",
        "event_type": alert_timeline_type(type, reason),
        "title": f"Alert raised: {reason} ({priority})",
        "object_type": "alert",
        "object_id": alert.alert_id,
        "changes": {},
        "data": {
            "type": type,
            "reason": reason,
            "priority": priority,
            "rule_id": rule_id or None,
            "evidence": evidence,
        },
        "impact": Impact.POSITIVE
        if type == AlertType.OPPORTUNITY
        else Impact.NEGATIVE
        if type == AlertType.RISK
        else Impact.NEUTRAL,
        "severity": _PRIORITY_SEVERITY[priority],
    }
    return alert, entry


def alert_batch_retrigger(
    alert: Alert, *, priority: str, rule_id: str | None, evidence: dict[str, Any], now: dt.datetime
) -> dict[str, Any] | None:
    """Re-trigger a live alert in memory (as ``alert_raise`` updates one). Returns its audit/timeline entry when
    the re-trigger is recorded (priority or status changed), else None: the alert row is still to be saved."""
    changes = alert_retrigger_apply(alert, priority=priority, rule_id=rule_id, evidence=evidence, now=now)
    if not retrigger_is_recorded(changes):
        return None
    return {
        "client": alert.client_id,
        "event_type": alert_timeline_type(alert.type, alert.reason),
        "object_type": "alert",
        "object_id": alert.alert_id,
        "changes": changes,
        "data": {"rule_id": rule_id or None},
        "impact": Impact.NEGATIVE if alert.type == AlertType.RISK else Impact.NEUTRAL,
        "severity": _PRIORITY_SEVERITY[alert.priority],
        **_retrigger_action(alert, changes),
    }


def alert_batch_clear_run(alert: Alert, *, now: dt.datetime) -> dict[str, Any] | None:
    """One clear run in memory (as ``alert_condition_cleared``): the second closes the alert (auto_resolved) and
    returns its audit/timeline entry; the first is bookkeeping only (None)."""
    alert.consecutive_clear_runs += 1
    if alert.consecutive_clear_runs < 2:
        return None
    old_status = alert.status
    alert.status, alert.closed_at, alert.close_reason = AlertStatus.CLOSED, now, "auto_resolved"
    return {
        "client": alert.client_id,
        "action": "customers.alert.closed",
        "event_type": alert_timeline_type(alert.type, alert.reason),
        "title": f"Alert closed: {alert.reason} (auto_resolved)",
        "object_type": "alert",
        "object_id": alert.alert_id,
        "changes": {"status": [old_status, AlertStatus.CLOSED], "close_reason": ["", "auto_resolved"]},
        "data": {"reason": alert.reason, "type": alert.type},
        "impact": Impact.POSITIVE,
        "severity": Severity.INFO,
    }


def alerts_batch_save(*, created: list[Alert], changed: list[Alert]) -> None:
    """Write a chunk's alerts: one set-based update of the changed ones, one bulk insert of the new ones."""
    if changed:
        rows_update(
            Alert,
            [{"id": a.pk, **{f: getattr(a, f) for f in ALERT_UPDATE_FIELDS}} for a in changed],
            ALERT_UPDATE_FIELDS,
        )
    if created:
        Alert.objects.bulk_create(created, batch_size=1000)
