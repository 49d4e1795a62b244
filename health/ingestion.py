"""Usage-event ingestion (RULES §3.1–3.2): validate each message, store the good ones in one transaction.

Accepted shapes per message: Segment ``track`` (``userId``/``anonymousId``, ``event``, ``timestamp``,
``messageId``, ``properties``, ``context.groupId``) or the plain form (``user_id``/``anonymous_id``,
``event``, ``timestamp``, ``message_id``, ``properties``, ``client_id``). A Segment-shaped batch is stored
with source ``segment``, a plain one with source ``api``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cs_project.core.types import DATETIME_MAX, DATETIME_MIN, check_json_value, printable_path
from customers.choices import ExternalSystem
from customers.models import Client, ClientExternalId

from .choices import EventSource, FeatureCategory
from .models import ExpiredEventReceipt, Feature, UsageEvent
from .rollups import local_date, merge_expired_events, pending_touch, raw_retention_cutoff

MAX_EVENTS_PER_REQUEST = 1000
MAX_REQUEST_BYTES = 500 * 1024
MAX_EVENT_BYTES = 32 * 1024
CLOCK_SKEW_TOLERANCE = dt.timedelta(seconds=60)
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
RESOLVABLE_SYSTEMS = (ExternalSystem.SEGMENT, ExternalSystem.MIXPANEL, ExternalSystem.OTHER)
_NON_KEY = re.compile(r"[^a-z0-9_.-]+")
# Prefix of the ids derived from an event's content; a client-supplied messageId may not start with it.
DERIVED_ID_PREFIX = "~sha256:"


class Rejection(Exception):
    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.field = field

    def as_dict(self, index: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"index": index, "reason": self.reason}
        if self.field:
            entry["field"] = self.field
        return entry


def normalise_feature_key(name: str) -> str:
    """RULES §3.1: lower-case, each run of characters outside ``[a-z0-9_.-]`` → ``_``, at most 100."""
    return _NON_KEY.sub("_", name.lower())[:100]


def parse_moment(value: Any) -> dt.datetime | None:
    """RFC 3339 text → aware UTC datetime (naive text is taken as UTC); None when unparseable or outside
    the years the platform stores (year 9999 plus a clock shift would overflow)."""
    if not isinstance(value, str):
        return None
    try:
        moment = parse_datetime(value.strip())
        if moment is None:
            return None
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=dt.UTC)
        moment = moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None
    return moment if DATETIME_MIN <= moment <= DATETIME_MAX else None


def derived_message_id(
    *, source: str, event: str, user_id: str, group: str, timestamp: Any, properties: Any
) -> str:
    """A messageId for an event sent without one, from its content (canonical JSON, SHA-256), so that a
    retried batch is recognised as a duplicate. Two events identical in every one of these fields
    (including the timestamp as sent) are one event."""
    canonical = json.dumps(
        [source, event, user_id, group, timestamp, properties],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        default=str,
    )
    return DERIVED_ID_PREFIX + hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        return None
    return value


def _parse_message(msg: Any, received_at: dt.datetime, shift: dt.timedelta, source: str) -> dict:
    """One message → a clean dict, or :class:`Rejection` with the first failing reason."""
    if not isinstance(msg, dict):
        raise Rejection("invalid_message")
    if len(json.dumps(msg, default=str).encode()) > MAX_EVENT_BYTES:
        raise Rejection("event_too_large")
    # Text PostgreSQL cannot store (NUL, lone surrogates) and NaN/Infinity anywhere in the event: this event
    # is rejected, the others of the batch still land. Large numbers are fine in jsonb (epoch-ms values).
    fault = check_json_value(msg, number_abs_max=None)
    if fault is not None:
        raise Rejection("invalid_value", field=printable_path(fault[0]) or None)
    if msg.get("type", "track") != "track":
        raise Rejection("unsupported_type")
    event_name = _text(msg.get("event"), 200)
    if event_name is None:
        raise Rejection("invalid_event_name")

    user = msg.get("userId", msg.get("user_id"))
    anonymous = msg.get("anonymousId", msg.get("anonymous_id"))
    if user not in (None, ""):
        user_id = _text(user, 128)
        if user_id is None:
            raise Rejection("invalid_user_id")
    elif anonymous not in (None, ""):
        anon = _text(anonymous, 123)
        if anon is None:
            raise Rejection("invalid_anonymous_id")
        user_id = "anon:" + anon
    else:
        raise Rejection("missing_user")

    context = msg.get("context")
    group = None
    if isinstance(context, dict):
        group = context.get("groupId")
    if group in (None, ""):
        group = msg.get("groupId", msg.get("client_id"))
    if group in (None, ""):
        raise Rejection("missing_group")
    group_id = _text(group, 200)
    if group_id is None:
        raise Rejection("unknown_account")

    properties = msg.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise Rejection("invalid_properties")
    sent_properties = properties
    properties = dict(properties)
    feature_key = properties.pop("feature_key", None)
    if feature_key is None:
        feature_key = msg.get("feature_key")
    if feature_key is None:
        feature_key = normalise_feature_key(event_name)
    elif not isinstance(feature_key, str) or not feature_key.strip() or len(feature_key) > 100:
        raise Rejection("invalid_feature_key")
    quantity_raw = properties.pop("quantity", msg.get("quantity", 1))
    try:
        if isinstance(quantity_raw, bool):
            raise InvalidOperation
        quantity = Decimal(str(quantity_raw if quantity_raw is not None else 1))
        if not quantity.is_finite() or quantity < 0 or quantity >= Decimal("1e14"):
            raise InvalidOperation
        quantity = quantity.quantize(Decimal("0.0001"))
    except (InvalidOperation, ValueError):
        raise Rejection("invalid_quantity") from None

    raw_ts = msg.get("timestamp")
    if raw_ts in (None, ""):
        occurred_at = received_at
    else:
        parsed = parse_moment(raw_ts)
        if parsed is None:
            raise Rejection("invalid_timestamp")
        occurred_at = parsed + shift
        if occurred_at < DATETIME_MIN:
            raise Rejection("invalid_timestamp")
    if occurred_at > received_at + FUTURE_TOLERANCE:
        raise Rejection("future_timestamp")

    message_id = msg.get("messageId", msg.get("message_id"))
    if message_id in (None, ""):
        message_id = derived_message_id(
            source=source,
            event=event_name,
            user_id=user_id,
            group=group_id,
            timestamp=raw_ts,
            properties=[sent_properties, msg.get("feature_key"), msg.get("quantity")],
        )
    else:
        message_id = _text(message_id, 100)
        if message_id is None or message_id.startswith(DERIVED_ID_PREFIX):
            raise Rejection("invalid_message_id")
    return {
        "group_id": group_id,
        "user_id": user_id,
        "event_name": event_name,
        "feature_key": feature_key,
        "occurred_at": occurred_at,
        "quantity": quantity,
        "properties": properties,
        "message_id": message_id,
    }


def _resolve_accounts(group_ids: set[str]) -> dict[str, int]:
    """groupId → Client pk, by client_id first, then by external id (systems segment, mixpanel, other)."""
    found = dict(Client.objects.filter(client_id__in=group_ids).values_list("client_id", "id"))
    rest = group_ids - found.keys()
    if rest:
        for ext, pk in (
            ClientExternalId.objects.filter(external_id__in=rest, system__in=RESOLVABLE_SYSTEMS)
            .order_by("system")
            .values_list("external_id", "client_id")
        ):
            found.setdefault(ext, pk)
    return found


def _catalogue(keys: set[str]) -> dict[str, bool]:
    """Feature key → counts_as_activity, creating uncatalogued rows for unknown keys (RULES §3.1)."""
    known = dict(
        Feature.objects.filter(feature_key__in=keys).values_list("feature_key", "counts_as_activity")
    )
    missing = keys - known.keys()
    if missing:
        Feature.objects.bulk_create(
            [
                Feature(
                    feature_key=k,
                    name=k,
                    category=FeatureCategory.OTHER,
                    is_core=False,
                    counts_as_activity=True,
                    catalogued=False,
                )
                for k in sorted(missing)
            ],
            ignore_conflicts=True,
        )
        known.update(
            Feature.objects.filter(feature_key__in=missing).values_list("feature_key", "counts_as_activity")
        )
    return known


def ingest_events(
    *, messages: list[Any], source: str, sent_at: Any = None, received_at: dt.datetime | None = None
) -> dict[str, Any]:
    """Validate and store a batch; returns ``{accepted, duplicates, rejected[{index, reason}]}``.

    Good messages are stored in one transaction; rejected ones are reported by index with a reason."""
    if source not in EventSource.values:
        raise ValueError(f"unknown source {source!r}")
    received_at = received_at or timezone.now()
    shift = dt.timedelta(0)
    sent = parse_moment(sent_at) if sent_at not in (None, "") else None  # unusable → no correction
    if sent is not None and abs(received_at - sent) > CLOCK_SKEW_TOLERANCE:
        shift = received_at - sent

    rejected: list[dict[str, Any]] = []
    parsed: list[tuple[int, dict]] = []
    for index, msg in enumerate(messages):
        try:
            parsed.append((index, _parse_message(msg, received_at, shift, source)))
        except Rejection as exc:
            rejected.append(exc.as_dict(index))

    accounts = _resolve_accounts({p["group_id"] for _, p in parsed}) if parsed else {}
    good: list[dict] = []
    for index, p in parsed:
        client_pk = accounts.get(p["group_id"])
        if client_pk is None:
            rejected.append({"index": index, "reason": "unknown_account"})
            continue
        p["client_id"] = client_pk
        good.append(p)
    rejected.sort(key=lambda r: r["index"])

    duplicates = 0
    accepted = 0
    if good:
        cutoff = raw_retention_cutoff(local_date(received_at))
        with transaction.atomic():
            counting = _catalogue({p["feature_key"] for p in good})
            ids = [p["message_id"] for p in good]
            existing = set(
                UsageEvent.objects.filter(source=source, message_id__in=ids).values_list(
                    "message_id", flat=True
                )
            )
            existing.update(
                ExpiredEventReceipt.objects.filter(source=source, message_id__in=ids).values_list(
                    "message_id", flat=True
                )
            )
            seen: set[str] = set()
            rows: list[UsageEvent] = []
            expired: list[dict] = []
            touched: set[tuple[int, dt.date]] = set()
            for p in good:
                if p["message_id"] in existing or p["message_id"] in seen:
                    duplicates += 1
                    continue
                seen.add(p["message_id"])
                day = local_date(p["occurred_at"])
                if day < cutoff:
                    expired.append(
                        {
                            "message_id": p["message_id"],
                            "client_id": p["client_id"],
                            "user_id": p["user_id"],
                            "feature_key": p["feature_key"],
                            "date": day,
                            "quantity": p["quantity"],
                            "counting": counting.get(p["feature_key"], True),
                        }
                    )
                    continue
                touched.add((p["client_id"], day))
                rows.append(
                    UsageEvent(
                        client_id=p["client_id"],
                        user_id=p["user_id"],
                        event_name=p["event_name"],
                        feature_key=p["feature_key"],
                        occurred_at=p["occurred_at"],
                        quantity=p["quantity"],
                        properties=p["properties"],
                        source=source,
                        message_id=p["message_id"],
                        received_at=received_at,
                    )
                )
            UsageEvent.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
            pending_touch(touched)
            fresh = _insert_receipts(source, [r["message_id"] for r in expired], received_at)
            duplicates += len(expired) - len(fresh)
            expired = [r for r in expired if r["message_id"] in fresh]
            merge_expired_events(expired)
            accepted = len(rows) + len(expired)
    return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}


def _insert_receipts(source: str, message_ids: list[str], received_at: dt.datetime) -> set[str]:
    """Record the receipts of expired events; returns the ids not recorded before (``ON CONFLICT DO NOTHING
    RETURNING``), so that a batch replayed concurrently merges each event into the roll-ups once."""
    if not message_ids:
        return set()
    table = ExpiredEventReceipt._meta.db_table
    moment = connection.ops.adapt_datetimefield_value(received_at)
    fresh: set[str] = set()
    with connection.cursor() as cur:
        for i in range(0, len(message_ids), 500):
            chunk = message_ids[i : i + 500]
            cur.execute(
                f"INSERT INTO {table} (source, message_id, received_at) VALUES "
                + ",".join(["(%s, %s, %s)"] * len(chunk))
                + " ON CONFLICT (source, message_id) DO NOTHING RETURNING message_id",
                [value for mid in chunk for value in (source, mid, moment)],
            )
            fresh.update(row[0] for row in cur.fetchall())
    return fresh


def max_request_bytes() -> int:
    return int(getattr(settings, "CS_EVENTS_MAX_REQUEST_BYTES", MAX_REQUEST_BYTES))
