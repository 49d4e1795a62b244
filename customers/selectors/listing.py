"""``list_clients`` (TOOLS §1.4): a filtered page of accounts with totals over the whole filtered set."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Avg, Count, QuerySet, Sum

from cs_project.core.errors import InvalidParameter
from customers.filters import ClientFilter
from customers.models import Client
from customers.summaries import list_column_providers

from .common import client_field_gaps, days_until_renewal, gap, money, today

#: The ``list_clients`` columns and totals other apps fill (TOOLS §1.4), by app; null with a gap without them.
COLUMN_OWNERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "health": (("active_users",), ("total_active_users",)),
    "support": (("support_tickets_open",), ()),
}


def _app_columns(
    *, clients: QuerySet[Client], page: list[Client], as_of: dt.date
) -> tuple[dict[int, dict[str, Any]], dict[str, Any], list[dict[str, str]]]:
    """The columns of the page and the set totals the registered apps provide (``customers.summaries``)."""
    providers = list_column_providers()
    columns: dict[int, dict[str, Any]] = {
        c.pk: {name: None for names, _ in COLUMN_OWNERS.values() for name in names} for c in page
    }
    totals: dict[str, Any] = {name: None for _, names in COLUMN_OWNERS.values() for name in names}
    gaps: list[dict[str, str]] = []
    for app_label in sorted(set(providers) | set(COLUMN_OWNERS)):
        provider = providers.get(app_label)
        if provider is None:
            detail = f"The {app_label} app publishes no list columns here."
            names, total_names = COLUMN_OWNERS[app_label]
            gaps.extend(
                gap(f"clients[{index}].{name}", "not_applicable", detail)
                for index in range(len(page))
                for name in names
            )
            gaps.extend(gap(f"summary.{name}", "not_applicable", detail) for name in total_names if page)
            continue
        part = provider(clients=clients, page=page, as_of=as_of)
        for pk, values in part["rows"].items():
            columns[pk].update(values)
        totals.update(part["totals"])
        gaps.extend(part["data_gaps"])
    return columns, totals, gaps


def client_list(
    *,
    tier: str | None = None,
    lifecycle_stage: str | None = None,
    health_score_min: int | None = None,
    health_score_max: int | None = None,
    limit: int = 50,
    offset: int = 0,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """A page of clients plus totals over the whole filtered set, in a constant number of queries."""
    if health_score_min is not None and health_score_max is not None and health_score_min > health_score_max:
        raise InvalidParameter("'health_score_max' must be ≥ 'health_score_min'.", field="health_score_max")
    as_of = as_of or today()
    filters = {
        "tier": tier,
        "lifecycle_stage": lifecycle_stage,
        "health_score_min": health_score_min,
        "health_score_max": health_score_max,
    }
    filterset = ClientFilter(
        data={k: v for k, v in filters.items() if v is not None}, queryset=Client.objects.all()
    )
    if not filterset.is_valid():
        name, errors = next(iter(filterset.errors.items()))
        raise InvalidParameter(f"Invalid filter '{name}': {errors[0]}", field=name)
    qs = filterset.qs

    totals = qs.aggregate(total=Count("id"), avg=Avg("health_score"), arr=Sum("contract_value"))
    page = list(
        qs.select_related("csm_assigned").order_by("client_name", "client_id")[offset : offset + limit]
    )
    columns, set_totals, gaps = _app_columns(clients=qs, page=page, as_of=as_of)

    rows = []
    for index, client in enumerate(page):
        renewal_days = days_until_renewal(client, as_of)
        if renewal_days is None:
            gaps.append(gap(f"clients[{index}].days_until_renewal", "no_contract", "No contract end date."))
        row = {
            "client_id": client.client_id,
            "client_name": client.client_name,
            "tier": client.tier,
            "lifecycle_stage": client.lifecycle_stage,
            "status": client.status,
            "health_score": client.health_score,
            "health_trend": client.health_trend or None,
            "risk_level": client.risk_level or None,
            "contract_value": money(client.contract_value),
            "days_until_renewal": renewal_days,
            "csm_assigned": client.csm_assigned.get_username() if client.csm_assigned_id else None,
            **columns[client.pk],
        }
        rows.append(row)
        gaps.extend(client_field_gaps(client, row, prefix=f"clients[{index}]"))
    total = totals["total"]
    average = totals["avg"]
    if average is None and total:
        gaps.append(
            gap("summary.average_health_score", "no_score", "No client of the set has a health score.")
        )
    total_active_users = set_totals["total_active_users"]
    if total_active_users is None and total and "health" in list_column_providers():
        gaps.append(
            gap("summary.total_active_users", "no_usage_events", "No usage data for the filtered set.")
        )
    return {
        "clients": rows,
        "pagination": {
            "total_count": total,
            "limit": limit,
            "offset": offset,
            "returned_count": len(rows),
            "has_more": offset + len(rows) < total,
        },
        "filters_applied": {
            key: value
            for key, value in {
                "tier_filter": tier,
                "lifecycle_stage_filter": lifecycle_stage,
                "health_score_min": health_score_min,
                "health_score_max": health_score_max,
            }.items()
            if value is not None
        },
        "summary": {
            "total_clients": total,
            "average_health_score": round(float(average), 1) if average is not None else None,
            "total_arr": money(totals["arr"] or 0),
            "total_active_users": total_active_users,
        },
        "data_gaps": gaps,
    }
