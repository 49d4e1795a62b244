"""Reads of the communication app that other apps may use (each app publishes what others may read)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Max, Q

from customers.models import Client
from customers.selectors.common import day_start, gap, iso, local_day
from customers.summaries import ClientSummary, summary

from .choices import EbrStatus
from .models import EmailMessage, ExecutiveReview


def client_summary(*, client: Client, as_of: dt.date) -> ClientSummary:
    """The overview's executive reviews (TOOLS §1.2 ``engagement.last_ebr_date`` / ``next_ebr_date``; RNW-03
    reads the days since the last one) and customer e-mails of the last 30 days (``communication``: sent,
    opened among those with open tracking, last sent)."""
    p = "client_overview"
    gaps = []
    done = (
        ExecutiveReview.objects.filter(client=client, status=EbrStatus.COMPLETED)
        .order_by("-completed_at", "-scheduled_date")
        .first()
    )
    upcoming = (
        ExecutiveReview.objects.filter(
            client=client, status=EbrStatus.SCHEDULED, scheduled_date__gte=day_start(as_of)
        )
        .order_by("scheduled_date")
        .first()
    )
    last_ebr_date = local_day(done.completed_at or done.scheduled_date) if done is not None else None
    next_ebr_date = local_day(upcoming.scheduled_date) if upcoming is not None else None
    if last_ebr_date is None:
        gaps.append(gap(f"{p}.engagement.last_ebr_date", "not_applicable", "No completed executive review."))
    if next_ebr_date is None:
        gaps.append(gap(f"{p}.engagement.next_ebr_date", "not_applicable", "No scheduled executive review."))

    since = day_start(as_of - dt.timedelta(days=29))
    stats = EmailMessage.objects.filter(client=client, sent_at__isnull=False, is_internal=False).aggregate(
        sent_30d=Count("pk", filter=Q(sent_at__gte=since)),
        tracked_30d=Count("pk", filter=Q(sent_at__gte=since, track_opens=True)),
        opened_30d=Count("pk", filter=Q(sent_at__gte=since, track_opens=True, opened_at__isnull=False)),
        last=Max("sent_at"),
    )
    opened = stats["opened_30d"] if stats["tracked_30d"] else None
    if opened is None:
        gaps.append(gap(f"{p}.communication.emails_opened_30d", "tracking_unavailable", "No open tracking."))
    if stats["last"] is None:
        gaps.append(gap(f"{p}.communication.last_email_at", "not_applicable", "No e-mail sent yet."))
    return summary(
        blocks={
            "engagement": {"last_ebr_date": iso(last_ebr_date), "next_ebr_date": iso(next_ebr_date)},
            "communication": {
                "emails_sent_30d": stats["sent_30d"],
                "emails_opened_30d": opened,
                "last_email_at": iso(stats["last"]),
            },
        },
        facts={
            "ebr_data_available": True,
            "last_completed_ebr_days_ago": (as_of - last_ebr_date).days if last_ebr_date else None,
        },
        data_gaps=gaps,
    )
