"""Reads of the expansion app that other apps may use (each app publishes what others may read)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from customers.models import Client
from customers.selectors.common import money, rate
from customers.summaries import ClientSummary, summary

from .choices import OPEN_EXPANSION_STAGES, OPEN_RENEWAL_STATUSES
from .models import ExpansionOpportunity, Renewal


def open_renewal(*, client: Client) -> Renewal | None:
    """The client's open renewal (the newest when, exceptionally, there are several)."""
    return Renewal.objects.filter(client=client, status__in=OPEN_RENEWAL_STATUSES).order_by("-pk").first()


def client_summary(*, client: Client, as_of: dt.date) -> ClientSummary:
    """The overview's pipeline (TOOLS §1.2 ``revenue.open_pipeline_weighted``: Σ amount × probability of the open
    opportunities that state both), the open opportunities themselves (``opportunities``), and the open renewal
    the renewal probability and RNW findings read (RULES §12.2)."""
    rows = []
    weighted = Decimal("0")
    for opp in ExpansionOpportunity.objects.filter(client=client, stage__in=OPEN_EXPANSION_STAGES).order_by(
        "pk"
    ):
        if opp.weighted_amount is not None:
            weighted += opp.weighted_amount
        rows.append(
            {
                "kind": "expansion_opportunity",
                "id": opp.opportunity_id,
                "type": opp.opportunity_type,
                "stage": opp.stage,
                "value": money(opp.amount),
                "probability": rate(opp.probability),
            }
        )
    renewal = open_renewal(client=client)
    return summary(
        blocks={"revenue": {"open_pipeline_weighted": money(weighted)}, "opportunities": rows},
        facts={
            "renewal_open": renewal is not None,
            "renewal_probability": renewal.probability if renewal is not None else None,
        },
    )
