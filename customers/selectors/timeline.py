"""``get_client_timeline`` (TOOLS §1.5): stored timeline entries of one client, newest first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max, Q

from cs_project.core.errors import InvalidParameter
from customers.choices import Impact, Severity, TimelineEventType
from customers.models import TimelineEvent

from .common import client_get, day_start, gap, iso, today


def timeline_entry(event: TimelineEvent) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "timestamp": event.occurred_at.isoformat(),
        "event_type": event.event_type,
        "title": event.title,
        "description": event.description,
        "impact": event.impact,
        "severity": event.severity,
        "source": {"type": event.source_type or None, "id": event.source_id or None},
        "actor": event.actor or None,
    }


def client_timeline(
    *,
    client_id: str,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    event_types: list[str] | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Timeline entries of one client in a date range, newest first, with aggregate summary and insights."""
    end = end_date or today()
    start = start_date or end - dt.timedelta(days=90)
    if end < start:
        raise InvalidParameter("'end_date' must be on or after 'start_date'.", field="end_date")
    if event_types is not None:
        for index, value in enumerate(event_types):
            if value not in TimelineEventType.values:
                raise InvalidParameter(f"Unknown event type '{value}'.", field=f"event_types[{index}]")
    client = client_get(client_id)
    qs = TimelineEvent.objects.filter(
        client=client,
        occurred_at__gte=day_start(start),
        occurred_at__lt=day_start(end + dt.timedelta(days=1)),
    )
    if event_types:
        qs = qs.filter(event_type__in=set(event_types))
    breakdown = {
        row["event_type"]: row["n"]
        for row in qs.order_by().values("event_type").annotate(n=Count("id")).order_by("event_type")
    }
    stats = qs.aggregate(
        negative=Count("id", filter=Q(impact=Impact.NEGATIVE)),
        positive=Count("id", filter=Q(impact=Impact.POSITIVE)),
        high=Count("id", filter=Q(severity__in=[Severity.HIGH, Severity.CRITICAL])),
        last_engagement=Max("occurred_at", filter=Q(counts_as_engagement=True)),
    )
    events = [timeline_entry(e) for e in qs.order_by("-occurred_at", "-id")[:limit]]
    total = sum(breakdown.values())
    busiest = min(breakdown.items(), key=lambda item: (-item[1], item[0]))[0] if breakdown else None
    gaps = []
    if stats["last_engagement"] is None:
        gaps.append(
            gap("insights.last_engagement_at", "no_engagement_events", "No engagement event in the range.")
        )
    if busiest is None:
        gaps.append(gap("insights.busiest_event_type", "not_applicable", "No event in the range."))
    return {
        "client_id": client.client_id,
        "period": {"start_date": start.isoformat(), "end_date": end.isoformat()},
        "timeline": events,
        "summary": {
            "total_events": total,
            "returned_events": len(events),
            "event_type_breakdown": breakdown,
        },
        "insights": {
            "negative_events": stats["negative"],
            "positive_events": stats["positive"],
            "high_severity_events": stats["high"],
            "last_engagement_at": iso(stats["last_engagement"]),
            "busiest_event_type": busiest,
        },
        "data_gaps": gaps,
    }
