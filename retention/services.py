"""Writes of the retention app: campaigns closed by account changes (RULES §7.1).

``retention_campaigns_close_churned`` answers the customers signal ``client_churned`` (connected in
``RetentionConfig.ready()``): customers cannot import this app, so it announces the churn and this app closes
its own campaigns, audits them and returns the ``side_effects`` entries customers reports.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from cs_project.core.context import Actor
from customers.audit import audit_record
from customers.models import Client

from .choices import CampaignOutcome, CampaignStatus
from .models import RetentionCampaign


@transaction.atomic(savepoint=False)
def retention_campaigns_close_churned(
    *, client: Client, actor: Actor, now: dt.datetime
) -> list[dict[str, Any]]:
    """RULES §7.1: a churned client's active retention campaigns complete with outcome ``churned``.

    Atomic without a savepoint: it runs inside the caller's transaction (the client is locked there)."""
    effects = []
    for campaign in RetentionCampaign.objects.select_for_update().filter(
        client=client, status=CampaignStatus.ACTIVE
    ):
        campaign.status = CampaignStatus.COMPLETED
        campaign.outcome = CampaignOutcome.CHURNED
        campaign.ended_at = now
        campaign.save(update_fields=["status", "outcome", "ended_at", "updated_at"])
        audit_record(
            actor=actor,
            action="retention.campaign.closed",
            object_type="retention_campaign",
            object_id=campaign.campaign_id,
            client=client,
            changes={
                "status": [CampaignStatus.ACTIVE, CampaignStatus.COMPLETED],
                "outcome": [None, CampaignOutcome.CHURNED],
            },
            data={"reason": "churned"},
        )
        effects.append({"type": "retention_campaign_closed", "id": campaign.campaign_id})
    return effects


def on_client_churned(sender, *, client: Client, actor: Actor, now, **kwargs):
    """Receiver of ``customers.signals.client_churned``."""
    return retention_campaigns_close_churned(client=client, actor=actor, now=now)
