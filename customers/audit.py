"""The one call services use to record audit events and timeline entries (TOOLS §0.5).

Audit events form a SHA-256 chain: each row stores the previous row's hash and its own hash over its
canonical content. Appends are serialised (a PostgreSQL advisory lock; SQLite serialises writers itself).
"""

import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from cs_project.core.bulk import objects_insert
from cs_project.core.context import Actor

from .choices import Impact, Severity
from .models import AuditEvent, Client, TimelineEvent

_AUDIT_LOCK_KEY = 7_300_001


def _canonical(event: AuditEvent) -> str:
    return json.dumps(
        {
            "event_id": str(event.event_id),
            "occurred_at": event.occurred_at.isoformat(),
            "actor": event.actor,
            "channel": event.channel,
            "tool": event.tool,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "client_id": event.client_id,
            "changes": event.changes,
            "data": event.data,
            "prev_hash": event.prev_hash,
        },
        sort_keys=True,
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )


def audit_event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event).encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


@transaction.atomic
def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str = "",
    object_id: str = "",
    client: Client | None = None,
    changes: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event to the chain. ``changes`` is ``{field: [old, new]}``; no secrets in ``data``."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_LOCK_KEY])
    previous = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or ""
    event = AuditEvent(
        occurred_at=timezone.now(),
        actor=actor.label,
        channel=actor.channel,
        tool=actor.tool or "",
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        client=client,
        changes=_jsonable(changes or {}),
        data=_jsonable(data or {}),
        prev_hash=previous,
    )
    event.hash = audit_event_hash(event)
    event.save(force_insert=True)
    return event


def timeline_record(
    *,
    client: Client,
    event_type: str,
    title: str,
    description: str = "",
    impact: str = Impact.NEUTRAL,
    severity: str = Severity.INFO,
    source_type: str = "",
    source_id: str = "",
    audit_event: AuditEvent | None = None,
    actor: Actor | None = None,
    occurred_at=None,
    counts_as_engagement: bool = False,
) -> TimelineEvent:
    """Add one entry to a client's timeline (call inside the service's transaction)."""
    return TimelineEvent.objects.create(
        client=client,
        occurred_at=occurred_at or timezone.now(),
        event_type=event_type,
        title=title[:300],
        description=description,
        impact=impact,
        severity=severity,
        source_type=source_type,
        source_id=str(source_id or ""),
        audit_event=audit_event,
        actor=actor.label if actor else (audit_event.actor if audit_event else ""),
        counts_as_engagement=counts_as_engagement,
    )


@transaction.atomic
def audit_and_timeline(
    *,
    actor: Actor,
    action: str,
    client: Client,
    event_type: str,
    title: str,
    object_type: str = "",
    object_id: str = "",
    changes: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    description: str = "",
    impact: str = Impact.NEUTRAL,
    severity: str = Severity.INFO,
    counts_as_engagement: bool = False,
) -> AuditEvent:
    """The common case of a mutation about one client: one audit event plus its timeline entry."""
    event = audit_record(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        client=client,
        changes=changes,
        data=data,
    )
    timeline_record(
        client=client,
        event_type=event_type,
        title=title,
        description=description,
        impact=impact,
        severity=severity,
        source_type=object_type,
        source_id=object_id,
        audit_event=event,
        actor=actor,
        counts_as_engagement=counts_as_engagement,
    )
    return event


def on_token_changed(
    sender, *, token, action: str, actor: Actor, data: dict[str, Any], **kwargs
) -> AuditEvent:
    """Receiver of ``cs_project.core.hooks.token_changed`` (connected in ``CustomersConfig.ready``): issuing
    and revoking an API token are chained audit events, written in the token change's own transaction."""
    return audit_record(
        actor=actor, action=action, object_type="core.ApiToken", object_id=str(token.pk), data=data
    )


def audit_chain_verify(*, chunk_size: int = 2000) -> tuple[int, int | None, str]:
    """Walk the chain in id order, streaming. Returns ``(events checked, first broken id or None, reason)``."""
    previous_hash = ""
    count = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size):
        if event.prev_hash != previous_hash:
            return (
                count,
                event.pk,
                "prev_hash does not match the previous event (a row was deleted or altered)",
            )
        if audit_event_hash(event) != event.hash:
            return count, event.pk, "hash does not match the event's content (the row was edited)"
        previous_hash = event.hash
        count += 1
    return count, None, ""


def audit_and_timeline_bulk(*, actor: Actor, entries: list[dict[str, Any]], now) -> list[AuditEvent]:
    """Append many (audit event + timeline entry) pairs for set-based jobs: one lock, one read of the chain
    head, the hashes computed in order in Python, one bulk INSERT per table — the rows :func:`audit_and_timeline`
    writes per entry. Call inside a transaction.

    Each entry: client (pk), action, event_type, title, object_type, object_id, changes, data, impact,
    severity, and optionally description (the timeline text, e.g. a lifecycle transition's reason)."""
    if not entries:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_LOCK_KEY])
    previous = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or ""
    events = []
    for e in entries:
        event = AuditEvent(
            occurred_at=now,
            actor=actor.label,
            channel=actor.channel,
            tool=actor.tool or "",
            action=e["action"],
            object_type=e["object_type"],
            object_id=str(e["object_id"] or ""),
            client_id=e["client"],
            changes=_jsonable(e.get("changes") or {}),
            data=_jsonable(e.get("data") or {}),
            prev_hash=previous,
        )
        event.hash = previous = audit_event_hash(event)
        events.append(event)
    objects_insert(AuditEvent, events, key="event_id")  # ids in list order — the chain order
    objects_insert(
        TimelineEvent,
        [
            TimelineEvent(
                client_id=e["client"],
                occurred_at=now,
                event_type=e["event_type"],
                title=e["title"][:300],
                description=e.get("description", ""),
                impact=e["impact"],
                severity=e["severity"],
                source_type=e["object_type"],
                source_id=str(e["object_id"] or ""),
                audit_event=event,
                actor=actor.label,
                counts_as_engagement=False,
            )
            for e, event in zip(entries, events, strict=True)
        ],
        key="event_id",
    )
    return events
