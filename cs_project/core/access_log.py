"""The access log: one structured log line and one unchained row per tool call (TOOLS §0.5).

Every call — read-only, mutating, refused or failed — is recorded with actor, channel, tool, client, duration
and outcome. Recording takes no lock and reads nothing: concurrent readers never serialise on it, unlike the
audit hash chain (which needs the previous row's hash and therefore one writer at a time). A read-only tool
therefore writes no business row and no audit event; ``readOnlyHint`` stays true. Mutations keep their own
chained audit events; ``audit_event_id`` links the two.
"""

import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from .models import AccessLogEntry

logger = logging.getLogger("cs.access")

PRUNE_BATCH = 10_000
CLIENT_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,128}")  # TOOLS §0.3; anything else is not stored


def argument_digest(arguments: Any) -> str:
    """SHA-256 of the arguments' canonical JSON: the log identifies a call without storing its arguments."""
    canonical = json.dumps(arguments, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _audit_event_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def access_record(
    *,
    tool: str,
    user,
    channel: str,
    arguments: Any,
    outcome: str,
    duration_ms: int,
    request_id: str,
    audit_event_id: Any = None,
) -> AccessLogEntry:
    """Log the call (the line first, so that it exists even when the row cannot be written), then insert the row.

    The row is one INSERT in its own autocommit statement — outside the tool's transaction, so a refused or
    rolled-back call is still recorded."""
    client_id = arguments.get("client_id") if isinstance(arguments, dict) else None
    if not (isinstance(client_id, str) and CLIENT_ID_SHAPE.fullmatch(client_id)):
        client_id = None  # hostile or malformed ids (NUL bytes, surrogates) are not copied into the log
    entry = AccessLogEntry(
        occurred_at=timezone.now(),
        actor=user.get_username() if user is not None else "anonymous",
        user_id=getattr(user, "pk", None),
        channel=channel[:10],
        tool=str(tool)[:100],
        client_id=client_id or "",
        outcome=outcome[:32],
        duration_ms=max(0, duration_ms),
        request_id=request_id,
        arguments_sha256=argument_digest(arguments),
        audit_event_id=_audit_event_id(audit_event_id),
    )
    line = {
        "event": "tool_call",
        "occurred_at": entry.occurred_at.isoformat(),
        "actor": entry.actor,
        "channel": entry.channel,
        "tool": entry.tool,
        "client_id": entry.client_id or None,
        "outcome": entry.outcome,
        "duration_ms": entry.duration_ms,
        "request_id": entry.request_id,
    }
    logger.info(json.dumps(line, ensure_ascii=True), extra={"access": line})
    with (
        transaction.atomic()
    ):  # a savepoint when called inside a transaction: a failed insert cannot poison it
        entry.save(force_insert=True)
    return entry


def access_log_prune(
    *, retention_days: int, now: dt.datetime | None = None, batch_size: int = PRUNE_BATCH
) -> int:
    """Delete entries older than ``retention_days``, in batches of ``batch_size`` (short transactions that
    never hold many row locks); returns how many were deleted. Idempotent."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    cutoff = (now or timezone.now()) - dt.timedelta(days=retention_days)
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                AccessLogEntry.objects.filter(occurred_at__lt=cutoff)
                .order_by("occurred_at")
                .values_list("id", flat=True)[:batch_size]
            )
            if ids:
                AccessLogEntry.objects.filter(id__in=ids).delete()
        deleted += len(ids)
        if len(ids) < batch_size:
            return deleted
