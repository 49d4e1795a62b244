"""Shared read helpers of the customers app (also used by the other apps' published selectors): dates in the
reporting time zone, JSON number shapes, data gaps, the client columns every core tool returns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from cs_project.core.errors import NotFound
from customers.choices import ContractStatus
from customers.models import Client, Contract
from customers.rules import trend_gap_detail

EBR_CADENCE_TIERS = ("strategic", "enterprise", "professional", "standard")


# --- shared helpers --------------------------------------------------------------------------------------


def reporting_tz() -> ZoneInfo:
    return ZoneInfo(getattr(settings, "CS_RULES", {}).get("reporting_time_zone", "UTC") or "UTC")


def today() -> dt.date:
    return timezone.localtime(timezone.now(), reporting_tz()).date()


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=reporting_tz())


def gap(field: str, reason: str, detail: str) -> dict[str, str]:
    return {"field": field, "reason": reason, "detail": detail}


def money(value: Any) -> float | None:
    if value is None:
        return None
    return float(Decimal(value).quantize(Decimal("0.01")))


def rate(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def money_display(amount: Decimal | float, currency: str) -> str:
    text = f"{Decimal(amount).quantize(Decimal('0.01')):,.2f}"
    return f"${text}" if currency == "USD" else f"{text} {currency}"


def local_day(value: dt.date | dt.datetime | None) -> dt.date | None:
    """The reporting-time-zone day of a datetime (a date is returned as is)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return timezone.localtime(value, reporting_tz()).date()
    return value


def active_contract(client: Client) -> Contract | None:
    """The client's active contract (the latest started when, exceptionally, there are several)."""
    return (
        Contract.objects.filter(client=client, status=ContractStatus.ACTIVE)
        .order_by("-start_date", "-id")
        .first()
    )


def client_get(client_id: str) -> Client:
    try:
        return Client.objects.select_related("csm_assigned").get(client_id=client_id)
    except Client.DoesNotExist:
        raise NotFound(f"Client '{client_id}' does not exist.", field="client_id") from None


def days_until_renewal(client: Client, as_of: dt.date) -> int | None:
    end = client.renewal_date or client.contract_end_date
    return (end - as_of).days if end else None


def client_fields(client: Client) -> dict[str, Any]:
    """The client columns every core tool returns (dates ISO, money as numbers)."""
    return {
        "client_id": client.client_id,
        "client_name": client.client_name,
        "company_name": client.company_name,
        "industry": client.industry,
        "tier": client.tier,
        "value_tier": client.value_tier,
        "status": client.status,
        "lifecycle_stage": client.lifecycle_stage,
        "health_score": client.health_score,
        "health_trend": client.health_trend or None,
        "risk_level": client.risk_level or None,
        "contract_value": money(client.contract_value),
        "currency": client.currency,
        "contract_start_date": iso(client.contract_start_date),
        "contract_end_date": iso(client.contract_end_date),
        "renewal_date": iso(client.renewal_date),
        "primary_contact_email": client.primary_contact_email or None,
        "primary_contact_name": client.primary_contact_name or None,
        "csm_assigned": client.csm_assigned.get_username() if client.csm_assigned_id else None,
        "created_at": iso(client.created_at),
        "updated_at": iso(client.updated_at),
    }


def client_field_gaps(client: Client, record: dict[str, Any], *, prefix: str) -> list[dict[str, str]]:
    """Data gaps of the null client columns of ``record`` (a :func:`client_fields` dict or a ``list_clients``
    row), ``field`` under ``prefix`` (TOOLS §0.6, RULES §15.2).

    Never scored → ``no_score`` for the score, its band and its trend; scored without a score (coverage below
    0.50, RULES §4.3) → ``not_enough_data``; a score without a comparison snapshot → trend
    ``insufficient_history`` (RULES §4.6); no CSM → ``no_csm`` (as the overview says, RULES §11.2)."""
    if client.health_score is not None:
        score = {"health_trend": ("insufficient_history", trend_gap_detail())}
    else:
        if client.health_as_of is None:
            score_gap = ("no_score", "The client has not been scored yet.")
        else:
            score_gap = ("not_enough_data", "The latest calculation had too little data for a score.")
        score = dict.fromkeys(("health_score", "risk_level", "health_trend"), score_gap)
    no_contract = ("no_contract", "No contract date recorded.")
    reasons = {
        **score,
        "health_as_of": ("no_score", "The client has not been scored yet."),
        "csm_assigned": ("no_csm", "No CSM assigned."),
        "primary_contact_email": ("no_contact_email", "No primary contact e-mail."),
        "contract_start_date": no_contract,
        "contract_end_date": no_contract,
        "renewal_date": no_contract,
    }
    return [
        gap(f"{prefix}.{key}", *reason)
        for key, reason in reasons.items()
        if key in record and record[key] is None
    ]
