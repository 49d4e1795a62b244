"""Staff-logged engagement on the client timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from cs_project.core.context import Actor
from customers.audit import audit_record, timeline_record
from customers.models import Client

from .common import get_client


def timeline_log(
    *,
    actor: Actor,
    client: Client | str,
    event_type: str,
    title: str,
    description: str = "",
    counts_as_engagement: bool = False,
    occurred_at: dt.datetime | None = None,
) -> Any:
    """Staff-logged engagement (a meeting, a call): audit + timeline entry; feeds ``last_engagement_date``."""
    with transaction.atomic():
        if not isinstance(client, Client):
            client = get_client(client, for_update=True)
        event = audit_record(
            actor=actor,
            action="customers.timeline.logged",
            object_type="timeline",
            client=client,
            data={"event_type": event_type, "title": title, "counts_as_engagement": counts_as_engagement},
        )
        entry = timeline_record(
            client=client,
            event_type=event_type,
            title=title,
            description=description,
            audit_event=event,
            actor=actor,
            occurred_at=occurred_at,
            counts_as_engagement=counts_as_engagement,
        )
        if counts_as_engagement:
            day = timezone.localdate(entry.occurred_at)
            if client.last_engagement_date is None or day > client.last_engagement_date:
                Client.objects.filter(pk=client.pk).update(last_engagement_date=day)
        return entry
