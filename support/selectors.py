"""Reads of the support app that other apps may use (each app publishes what others may read)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from customers.models import Client
from customers.selectors.common import day_start
from customers.summaries import ClientSummary, ListColumns, summary

from .choices import OPEN_TICKET_STATUSES
from .models import Ticket


def sla_breached_tickets(*, client: Client, since: dt.datetime) -> QuerySet[Ticket]:
    """Tickets created since ``since`` with at least one breached SLA clock (RULES §10.2), computed live: a
    response or resolution after its due time, or still missing when the due time has passed."""
    now = timezone.now()
    breached = (
        Q(first_response_at__isnull=False, first_response_at__gt=F("first_response_due_at"))
        | Q(
            first_response_at__isnull=True,
            resolved_at__isnull=False,
            resolved_at__gt=F("first_response_due_at"),
        )
        | Q(first_response_at__isnull=True, resolved_at__isnull=True, first_response_due_at__lt=now)
        | Q(resolved_at__isnull=False, resolved_at__gt=F("resolution_due_at"))
        | Q(resolved_at__isnull=True, resolution_due_at__lt=now)
    )
    return Ticket.objects.filter(breached, client=client, created_at__gte=since)


def client_summary(*, client: Client, as_of: dt.date) -> ClientSummary:
    """The overview's ticket figures (TOOLS §1.2 ``support``): open tickets, by priority, and the tickets of the
    last 30 days with a breached SLA."""
    by_priority = {
        row["priority"]: row["n"]
        for row in Ticket.objects.filter(client=client, status__in=OPEN_TICKET_STATUSES)
        .order_by()
        .values("priority")
        .annotate(n=Count("pk"))
        .order_by("priority")
    }
    since = day_start(as_of - dt.timedelta(days=29))
    return summary(
        blocks={
            "support": {
                "open_tickets": sum(by_priority.values()),
                "open_by_priority": by_priority,
                "sla_breaches_30d": sla_breached_tickets(client=client, since=since).count(),
            }
        }
    )


def client_list_columns(*, clients: QuerySet[Client], page: list[Client], as_of: dt.date) -> ListColumns:
    """``list_clients`` column ``support_tickets_open`` for a page of clients (one query)."""
    counts = dict(
        Ticket.objects.filter(client_id__in=[c.pk for c in page], status__in=OPEN_TICKET_STATUSES)
        .order_by()
        .values("client_id")
        .annotate(n=Count("pk"))
        .values_list("client_id", "n")
    )
    return {
        "rows": {c.pk: {"support_tickets_open": counts.get(c.pk, 0)} for c in page},
        "totals": {},
        "data_gaps": [],
    }
