"""Reads of the retention app that other apps may use (each app publishes what others may read)."""

from __future__ import annotations

import datetime as dt

from customers.models import Client
from customers.summaries import ClientSummary, summary

from .choices import OPEN_ESCALATION_STATUSES
from .models import Escalation


def client_summary(*, client: Client, as_of: dt.date) -> ClientSummary:
    """The overview's escalation figure (TOOLS §1.2 ``support.open_escalations``; RSK-08 reads it)."""
    open_escalations = Escalation.objects.filter(client=client, status__in=OPEN_ESCALATION_STATUSES).count()
    return summary(blocks={"support": {"open_escalations": open_escalations}})
