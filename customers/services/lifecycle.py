"""Lifecycle stage transitions (RULES §7.1) with their side effects (ARR churn/reactivation, alerts closed; the
renewals lost and retention campaigns closed by the apps subscribed to ``customers.signals.client_churned``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from cs_project.core.context import Actor
from cs_project.core.errors import Conflict, InvalidParameter
from customers import rules
from customers.audit import audit_and_timeline, audit_record
from customers.choices import (
    AccountStatus,
    AlertStatus,
    ArrMovementKind,
    Impact,
    LifecycleStage,
    Severity,
    TimelineEventType,
)
from customers.models import Alert, ArrMovement, AuditEvent, Client, LifecycleStageHistory
from customers.selectors.common import active_contract
from customers.signals import client_churned, send_collecting_side_effects

from .alerts import alert_close_apply
from .common import get_client


@dataclass
class TransitionResult:
    client: Client
    from_stage: str
    to_stage: str
    history: LifecycleStageHistory
    side_effects: list[dict[str, Any]]
    audit_event: AuditEvent


def transition_apply(
    *,
    client: Client,
    to_stage: str,
    actor: Actor,
    reason: str,
    rule_id: str,
    now,
    with_timeline: bool,
) -> TransitionResult:
    """The transition itself, on a client the caller has locked (``lifecycle_transition``, and ``client_update``
    for a status change, which records its own timeline entry: ``with_timeline=False``)."""
    from_stage = client.lifecycle_stage
    if to_stage not in LifecycleStage.values:
        raise InvalidParameter(f"Unknown lifecycle stage '{to_stage}'.", field="to_stage")
    if not rules.transition_allowed(from_stage, to_stage):
        raise Conflict(f"Transition {from_stage} → {to_stage} is not allowed (RULES §7.1).", field="to_stage")
    side_effects: list[dict[str, Any]] = []
    changes: dict[str, list[Any]] = {"lifecycle_stage": [from_stage, to_stage]}
    LifecycleStageHistory.objects.filter(client=client, exited_at__isnull=True).update(exited_at=now)
    history = LifecycleStageHistory.objects.create(
        client=client,
        from_stage=from_stage,
        to_stage=to_stage,
        reason=reason[:500],
        rule_id=rule_id or "",
        actor=actor.label,
        entered_at=now,
    )
    client.lifecycle_stage = to_stage
    update_fields = ["lifecycle_stage", "updated_at"]
    arr = Decimal(client.contract_value)
    if to_stage == LifecycleStage.CHURNED:
        if client.status != AccountStatus.CHURNED:
            changes["status"] = [client.status, AccountStatus.CHURNED]
            client.status = AccountStatus.CHURNED
            update_fields.append("status")
        if arr > 0:
            movement = ArrMovement.objects.create(
                client=client,
                kind=ArrMovementKind.CHURN,
                amount=-arr,
                movement_date=now.date(),
                contract=active_contract(client),
                note="Churned",
            )
            side_effects.append({"type": "arr_movement_churn", "id": movement.pk})
        for alert in Alert.objects.select_for_update().filter(
            client=client, status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED]
        ):
            alert_close_apply(alert, actor=actor, reason="churned", now=now, with_timeline=False)
            side_effects.append({"type": "alert_closed", "id": alert.alert_id})
        side_effects.extend(send_collecting_side_effects(client_churned, client=client, actor=actor, now=now))
    elif from_stage == LifecycleStage.CHURNED and to_stage == LifecycleStage.ONBOARDING:
        if client.status != AccountStatus.ACTIVE:
            changes["status"] = [client.status, AccountStatus.ACTIVE]
            client.status = AccountStatus.ACTIVE
            update_fields.append("status")
        if arr > 0:
            movement = ArrMovement.objects.create(
                client=client,
                kind=ArrMovementKind.REACTIVATION,
                amount=arr,
                movement_date=now.date(),
                contract=active_contract(client),
                note="Reactivated",
            )
            side_effects.append({"type": "arr_movement_reactivation", "id": movement.pk})
    client.save(update_fields=update_fields)
    negative = to_stage in (LifecycleStage.AT_RISK, LifecycleStage.CHURNED)
    positive = (
        to_stage in (LifecycleStage.ACTIVE, LifecycleStage.EXPANSION) or from_stage == LifecycleStage.CHURNED
    )
    kwargs = dict(
        actor=actor,
        action="customers.lifecycle.transitioned",
        client=client,
        object_type="lifecycle_stage_history",
        object_id=str(history.pk),
        changes=changes,
        data={"reason": reason, "rule_id": rule_id or None, "side_effects": side_effects},
    )
    if with_timeline:
        event = audit_and_timeline(
            **kwargs,
            event_type=TimelineEventType.LIFECYCLE,
            title=f"Lifecycle stage: {from_stage} → {to_stage}",
            description=reason,
            impact=Impact.NEGATIVE if negative else Impact.POSITIVE if positive else Impact.NEUTRAL,
            severity=Severity.HIGH if to_stage == LifecycleStage.CHURNED else Severity.INFO,
        )
    else:
        event = audit_record(**kwargs)
    return TransitionResult(
        client=client,
        from_stage=from_stage,
        to_stage=to_stage,
        history=history,
        side_effects=side_effects,
        audit_event=event,
    )


@transaction.atomic
def lifecycle_transition(
    *,
    actor: Actor,
    client: Client | str,
    to_stage: str,
    reason: str = "",
    rule_id: str = "",
) -> TransitionResult:
    """Move a client to another lifecycle stage per RULES §7.1, with its side effects; CONFLICT if illegal."""
    if isinstance(client, Client):
        client = get_client(client.client_id, for_update=True)
    else:
        client = get_client(client, for_update=True)
    return transition_apply(
        client=client,
        to_stage=to_stage,
        actor=actor,
        reason=reason or "",
        rule_id=rule_id,
        now=timezone.now(),
        with_timeline=True,
    )
