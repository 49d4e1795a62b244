"""Side effects of account changes on the renewals and retention campaigns of the client (RULES §7.1, §12.3).

These rows belong to the expansion and retention apps, which depend on customers; until they subscribe to the
account changes themselves (a hook registered in their ``ready()``, like ``customers.summaries``), the models are
looked up by label here and skipped when absent (``other_model``) — the one place left in customers that does.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.apps import apps

from cs_project.core.context import Actor
from customers.audit import audit_record
from customers.models import Client
from customers.selectors.common import OPEN_RENEWAL_STATUSES


def other_model(app_label: str, model_name: str):
    """A model of an app written in parallel, or None while it does not exist (yet) in this deployment."""
    if not apps.is_installed(app_label):
        return None
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None


def has_fields(model, *names: str) -> bool:
    """True when ``model`` exists and has every named field."""
    if model is None:
        return False
    concrete = {f.name for f in model._meta.get_fields()}
    return all(name in concrete for name in names)


def _cancel_renewal_reminders(renewal, now) -> None:
    reminder_model = other_model("expansion", "RenewalReminder")
    if has_fields(reminder_model, "renewal", "sent_at", "cancelled_at"):
        reminder_model.objects.filter(
            renewal=renewal, sent_at__isnull=True, cancelled_at__isnull=True
        ).update(cancelled_at=now)


def _close_renewal(renewal, *, status: str, final_arr: Decimal, now) -> None:
    renewal.status = status
    fields = ["status"]
    for name, value in (("final_arr", final_arr), ("closed_at", now)):
        if has_fields(type(renewal), name):
            setattr(renewal, name, value)
            fields.append(name)
    if has_fields(type(renewal), "updated_at"):
        fields.append("updated_at")
    renewal.save(update_fields=fields)
    _cancel_renewal_reminders(renewal, now)


def renewals_won_by_end_date(client: Client, new_end: dt.date, now, actor: Actor) -> list[dict[str, Any]]:
    """RULES §12.3: an end date moved past an open renewal's date marks it won; reminders are cancelled."""
    renewal_model = other_model("expansion", "Renewal")
    if not has_fields(renewal_model, "client", "status", "renewal_date"):
        return []
    effects = []
    open_renewals = renewal_model.objects.select_for_update().filter(
        client=client, status__in=OPEN_RENEWAL_STATUSES, renewal_date__lt=new_end
    )
    for renewal in open_renewals:
        old = renewal.status
        _close_renewal(renewal, status="won", final_arr=Decimal(client.contract_value), now=now)
        rid = getattr(renewal, "renewal_id", None) or renewal.pk
        effects.append({"type": "renewal_won", "id": rid})
        audit_record(
            actor=actor,
            action="expansion.renewal.won",
            object_type="renewal",
            object_id=str(rid),
            client=client,
            changes={"status": [old, "won"]},
            data={"new_contract_end_date": new_end, "final_arr": client.contract_value},
        )
    return effects


def renewals_close_lost(client: Client, now, actor: Actor) -> list[dict[str, Any]]:
    renewal_model = other_model("expansion", "Renewal")
    if not has_fields(renewal_model, "client", "status"):
        return []
    effects = []
    for renewal in renewal_model.objects.select_for_update().filter(
        client=client, status__in=OPEN_RENEWAL_STATUSES
    ):
        old = renewal.status
        _close_renewal(renewal, status="lost", final_arr=Decimal("0"), now=now)
        rid = getattr(renewal, "renewal_id", None) or renewal.pk
        audit_record(
            actor=actor,
            action="expansion.renewal.lost",
            object_type="renewal",
            object_id=str(rid),
            client=client,
            changes={"status": [old, "lost"]},
            data={"reason": "churned"},
        )
        effects.append({"type": "renewal_lost", "id": rid})
    return effects


def retention_campaigns_close_churned(client: Client, now, actor: Actor) -> list[dict[str, Any]]:
    """RULES §7.1: active retention campaigns close with outcome ``churned``."""
    campaign_model = other_model("retention", "RetentionCampaign")
    if not has_fields(campaign_model, "client", "status", "outcome", "ended_at"):
        return []
    effects = []
    for campaign in campaign_model.objects.select_for_update().filter(client=client, status="active"):
        campaign.status = "completed"
        campaign.outcome = "churned"
        campaign.ended_at = now
        fields = ["status", "outcome", "ended_at"]
        if has_fields(campaign_model, "updated_at"):
            fields.append("updated_at")
        campaign.save(update_fields=fields)
        cid = getattr(campaign, "campaign_id", None) or campaign.pk
        audit_record(
            actor=actor,
            action="retention.campaign.closed",
            object_type="retention_campaign",
            object_id=str(cid),
            client=client,
            changes={"status": ["active", "completed"], "outcome": [None, "churned"]},
            data={"reason": "churned"},
        )
        effects.append({"type": "retention_campaign_closed", "id": cid})
    return effects
