"""``list_clients`` (TOOLS §1.4): a filtered page of accounts with totals over the whole filtered set."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Avg, Count, Exists, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from cs_project.core.errors import InvalidParameter
from customers.filters import ClientFilter
from customers.models import Client

from .common import OPEN_TICKET_STATUSES, _ticket_model, _usage_model, days_until_renewal, gap, money, today


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
    window_start = as_of - dt.timedelta(days=29)
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
    page = qs.select_related("csm_assigned").order_by("client_name", "client_id")
    usage = _usage_model()
    tickets = _ticket_model()
    gaps: list[dict[str, str]] = []
    total_active_users: int | None = None
    if usage is not None:
        mau = (
            usage.objects.filter(
                client=OuterRef("pk"), date__gte=window_start, date__lte=as_of, counting_events__gt=0
            )
            .order_by()
            .values("client")
            .annotate(n=Count("user_id", distinct=True))
            .values("n")[:1]
        )
        page = page.annotate(
            has_usage=Exists(usage.objects.filter(client=OuterRef("pk"))),
            mau=Coalesce(Subquery(mau, output_field=IntegerField()), 0),
        )
        set_usage = usage.objects.filter(client__in=qs.values("pk"))
        if set_usage.exists():
            total_active_users = (
                set_usage.filter(date__gte=window_start, date__lte=as_of, counting_events__gt=0)
                .values("client_id", "user_id")
                .distinct()
                .count()
            )
    if tickets is not None:
        open_count = (
            tickets.objects.filter(client=OuterRef("pk"), status__in=OPEN_TICKET_STATUSES)
            .order_by()
            .values("client")
            .annotate(n=Count("pk"))
            .values("n")[:1]
        )
        page = page.annotate(open_tickets=Coalesce(Subquery(open_count, output_field=IntegerField()), 0))

    rows = []
    for index, client in enumerate(page[offset : offset + limit]):
        active_users = None
        if usage is not None and client.has_usage:
            active_users = client.mau
        else:
            gaps.append(
                gap(
                    f"clients[{index}].active_users",
                    "no_usage_events",
                    f"No usage data for {client.client_id}.",
                )
            )
        open_tickets = getattr(client, "open_tickets", None)
        if tickets is None:
            gaps.append(
                gap(
                    f"clients[{index}].support_tickets_open",
                    "not_applicable",
                    "Ticket data is not available.",
                )
            )
        renewal_days = days_until_renewal(client, as_of)
        if renewal_days is None:
            gaps.append(gap(f"clients[{index}].days_until_renewal", "no_contract", "No contract end date."))
        rows.append(
            {
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
                "active_users": active_users,
                "support_tickets_open": open_tickets,
            }
        )
    total = totals["total"]
    average = totals["avg"]
    if average is None and total:
        gaps.append(
            gap("summary.average_health_score", "no_score", "No client of the set has a health score.")
        )
    if total_active_users is None and total:
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
