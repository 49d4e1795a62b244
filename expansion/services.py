"""Writes of the expansion app: renewals closed by account changes (RULES §7.1, §12.3).

``renewals_won_by_end_date`` and ``renewals_close_lost`` answer the customers signals ``contract_end_moved``
and ``client_churned`` (connected in ``ExpansionConfig.ready()``): customers cannot import this app, so it
announces the change and this app closes its own rows, audits them and returns the ``side_effects`` entries
customers reports.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from cs_project.core.context import Actor
from customers.audit import audit_record
from customers.models import Client

from .choices import OPEN_RENEWAL_STATUSES, RenewalStatus
from .models import Renewal, RenewalReminder


def _renewal_close(renewal: Renewal, *, status: str, final_arr: Decimal, now: dt.datetime) -> None:
    """Close a renewal and cancel its reminders not sent yet (a closed renewal has nothing to remind of)."""
    renewal.status = status
    renewal.final_arr = final_arr
    renewal.closed_at = now
    renewal.save(update_fields=["status", "final_arr", "closed_at", "updated_at"])
    RenewalReminder.objects.filter(renewal=renewal, sent_at__isnull=True, cancelled_at__isnull=True).update(
        cancelled_at=now
    )


@transaction.atomic(savepoint=False)
def renewals_won_by_end_date(
    *, client: Client, new_end: dt.date, actor: Actor, now: dt.datetime
) -> list[dict[str, Any]]:
    """RULES §12.3: the contract end moved past an open renewal's date — the renewal is won at the current ARR.

    Atomic without a savepoint: it runs inside the caller's transaction (the client is locked there)."""
    effects = []
    open_renewals = Renewal.objects.select_for_update().filter(
        client=client, status__in=OPEN_RENEWAL_STATUSES, renewal_date__lt=new_end
    )
    for renewal in open_renewals:
        old = renewal.status
        _renewal_close(renewal, status=RenewalStatus.WON, final_arr=Decimal(client.contract_value), now=now)
        effects.append({"type": "renewal_won", "id": renewal.renewal_id})
        audit_record(
            actor=actor,
            action="expansion.renewal.won",
            object_type="renewal",
            object_id=renewal.renewal_id,
            client=client,
            changes={"status": [old, RenewalStatus.WON]},
            data={"new_contract_end_date": new_end, "final_arr": client.contract_value},
        )
    return effects


@transaction.atomic(savepoint=False)
def renewals_close_lost(*, client: Client, actor: Actor, now: dt.datetime) -> list[dict[str, Any]]:
    """RULES §7.1: a churned client's open renewals are lost (final ARR 0)."""
    effects = []
    for renewal in Renewal.objects.select_for_update().filter(
        client=client, status__in=OPEN_RENEWAL_STATUSES
    ):
        old = renewal.status
        _renewal_close(renewal, status=RenewalStatus.LOST, final_arr=Decimal("0"), now=now)
        audit_record(
            actor=actor,
            action="expansion.renewal.lost",
            object_type="renewal",
            object_id=renewal.renewal_id,
            client=client,
            changes={"status": [old, RenewalStatus.LOST]},
            data={"reason": "churned"},
        )
        effects.append({"type": "renewal_lost", "id": renewal.renewal_id})
    return effects


def on_contract_end_moved(sender, *, client: Client, new_end: dt.date, actor: Actor, now, **kwargs):
    """Receiver of ``customers.signals.contract_end_moved``."""
    return renewals_won_by_end_date(client=client, new_end=new_end, actor=actor, now=now)


def on_client_churned(sender, *, client: Client, actor: Actor, now, **kwargs):
    """Receiver of ``customers.signals.client_churned``."""
    return renewals_close_lost(client=client, actor=actor, now=now)
