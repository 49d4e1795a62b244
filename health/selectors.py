"""Read side of the health app. Tools stay thin: each calls one of these (or a scoring entry point)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Count, Max

from customers.selectors.common import active_contract, gap
from customers.summaries import ClientSummary, ListColumns, summary

from .models import ChurnPrediction, ClientMilestone, HealthSnapshot, UserActivityDaily, ValueTier
from .rollups import ensure_fresh
from .rules import churn_driver_out
from .scoring_formulas import explanation_gaps


def optional_model(label: str, *fields: str):
    """A model of another app ("app.Model"), or None while it — or a field we read — does not exist: whatever
    is drawn from it is then "no data" / "not met" rather than an error (apps are built one after another)."""
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return None
    names = {f.name for f in model._meta.get_fields()}
    return model if set(fields) <= names else None


def value_tiers() -> list[ValueTier]:
    """The value-tier table (RULES §6.1), highest tier first."""
    return list(ValueTier.objects.order_by("-min_arr"))


def value_tier_for_arr(arr: Decimal | float | int | None) -> str:
    """Name of the value tier whose ARR band contains ``arr`` (lower bound inclusive, upper exclusive).

    Reads the ``health.ValueTier`` table. ARR null or below every band → the lowest tier."""
    amount = Decimal(str(arr or 0))
    tiers = value_tiers()
    for tier in tiers:  # highest first
        if amount >= tier.min_arr and (tier.max_arr is None or amount < tier.max_arr):
            return tier.name
    return tiers[-1].name if tiers else "starter"


def value_tier_bands() -> list[dict[str, Any]]:
    """The tiers as plain dicts (for tools and for set-based CASE expressions)."""
    return [
        {
            "name": t.name,
            "min": t.min_arr,
            "max": t.max_arr,
            "colour": t.colour,
            "priority": t.priority,
            "touch_cadence": t.touch_cadence,
            "ebr_cadence": t.ebr_cadence,
            "targets": {
                "health": t.target_health,
                "nps": t.target_nps,
                "grr": float(t.target_grr) if t.target_grr is not None else None,
            },
            "accounts_per_csm": t.accounts_per_csm,
        }
        for t in value_tiers()
    ]


# --- what the overview reads of this app (customers.summaries) ---------------------------------------------

FIRST_VALUE_MILESTONE = "m2"  # RULES §8 "First Value Achieved"; time-to-value ends on its date (RULES §9.3)
COMPONENT_NAMES = ("usage", "engagement", "support", "satisfaction", "payment")


def first_value(*, client) -> ClientMilestone | None:
    """The client's first-value milestone (m2) as recorded by the nightly adoption job, or None while not reached.

    ``days_to_achieve`` counts from the first contract start (RULES §8), which is time-to-value (RULES §9.3).
    Under an industry framework the milestone of that framework counts; the earliest achievement wins."""
    return (
        ClientMilestone.objects.filter(client=client, milestone_id=FIRST_VALUE_MILESTONE)
        .order_by("achieved_on", "pk")
        .first()
    )


def _churn_prediction(client) -> dict[str, Any] | None:
    """The latest stored prediction with the keys of ``calculate_health_score``'s ``churn_prediction`` (TOOLS §3.2)."""
    row = (
        ChurnPrediction.objects.select_related("model")
        .filter(client=client, probability__isnull=False)
        .order_by("-as_of", "-pk")
        .first()
    )
    if row is None:
        return None
    return {
        "probability": round(float(row.probability), 4),
        "risk_level": row.risk_level,
        "method": row.method,
        "calibrated": row.calibrated,
        "horizon_days": row.horizon_days,
        "drivers": [churn_driver_out(d) for d in row.drivers or []],
        "predicted_churn_date": row.predicted_churn_date.isoformat() if row.predicted_churn_date else None,
        "data_coverage": None if row.data_coverage is None else round(row.data_coverage, 4),
        "model_metrics": dict(row.model.metrics or {}) if row.model_id else None,
    }


def _product_usage(client, *, as_of: dt.date, seats: int | None, snapshot) -> tuple[dict[str, Any], list]:
    """Usage figures of the last 30 days from the daily roll-ups (RULES §3.3), vs the 30 days before."""
    p = "client_overview.product_usage"
    keys = ("mau", "dau_avg", "stickiness", "utilization_rate", "core_breadth_rate", "usage_change_rate")
    usage: dict[str, Any] = dict.fromkeys((*keys, "last_activity_at"))
    days = UserActivityDaily.objects.filter(client=client)
    if not days.exists():
        return usage, [gap(f"{p}.{k}", "no_usage_events", "No usage data for this client.") for k in usage]
    gaps = []
    start30, prev_start = as_of - dt.timedelta(days=29), as_of - dt.timedelta(days=59)
    active = days.filter(counting_events__gt=0)
    mau = active.filter(date__gte=start30, date__lte=as_of).values("user_id").distinct().count()
    user_days = active.filter(date__gte=start30, date__lte=as_of).count()
    user_days_before = active.filter(date__gte=prev_start, date__lt=start30).count()
    usage["mau"] = mau
    usage["dau_avg"] = round(user_days / 30, 2)
    usage["stickiness"] = round(user_days / 30 / mau, 4) if mau else None
    if not mau:
        gaps.append(gap(f"{p}.stickiness", "no_usage_events", "No active user in 30 days."))
    if seats:
        usage["utilization_rate"] = round(mau / seats, 4)
    else:
        gaps.append(gap(f"{p}.utilization_rate", "no_seat_data", "The active contract states no seat count."))
    if user_days_before:
        usage["usage_change_rate"] = round((user_days - user_days_before) / user_days_before, 4)
    else:
        gaps.append(
            gap(f"{p}.usage_change_rate", "insufficient_history", "No usage in the previous 30 days.")
        )
    last_day = days.aggregate(m=Max("date"))["m"]
    usage["last_activity_at"] = last_day.isoformat() if last_day else None
    # Core breadth is computed once, by health scoring (RULES §4.2.1 U2), and read from the latest snapshot.
    core_breadth = ((snapshot.inputs or {}).get("usage") or {}).get("core_breadth") if snapshot else None
    if core_breadth is not None:
        usage["core_breadth_rate"] = round(float(core_breadth), 4)
    elif snapshot is None:
        gaps.append(gap(f"{p}.core_breadth_rate", "no_score", "No health snapshot yet."))
    else:
        gaps.append(
            gap(
                f"{p}.core_breadth_rate",
                "no_catalogue",
                "The feature catalogue has no core feature for the tier.",
            )
        )
    return usage, gaps


def client_summary(*, client, as_of: dt.date) -> ClientSummary:
    """What the overview (TOOLS §1.2) shows of this app: ``product_usage`` (all but ``seats``), the latest
    snapshot's ``health_components`` and ``explanation``, the latest ``churn_prediction`` (the keys of
    ``calculate_health_score``), and the inputs of HLT-01…08 and CORE-04."""
    ensure_fresh(
        [client.pk]
    )  # RULES §3.3: a reader of one client's roll-ups first rebuilds its pending dates
    snapshot = HealthSnapshot.objects.filter(client=client).order_by("-as_of", "-pk").first()
    contract = active_contract(client)
    usage, gaps = _product_usage(
        client, as_of=as_of, seats=contract.included_users if contract else None, snapshot=snapshot
    )
    components = weights = None
    comparison_risk_level = None
    if snapshot is not None:
        components = {
            name: None
            if getattr(snapshot, f"{name}_score") is None
            else round(getattr(snapshot, f"{name}_score"), 1)
            for name in COMPONENT_NAMES
        }
        weights = {
            name: float(w)
            for name, w in (snapshot.effective_weights or {}).items()
            if components.get(name) is not None
        }
        if snapshot.comparison_as_of is not None:
            comparison_risk_level = (
                HealthSnapshot.objects.filter(client=client, as_of=snapshot.comparison_as_of)
                .values_list("risk_level", flat=True)
                .first()
            )
    else:
        gaps.append(gap("health_components", "no_score", "No official health snapshot."))
        gaps.append(gap("explanation", "no_score", "No official health snapshot."))
    explanation = snapshot.explanation if snapshot is not None else None
    if (
        snapshot is not None
    ):  # read side: a stored explanation carries no gaps; the snapshot's own give reasons
        gaps.extend(explanation_gaps(explanation, engine_gaps=snapshot.data_gaps or []))
    churn = _churn_prediction(client)
    if churn is None:
        gaps.append(gap("churn_prediction", "no_score", "No stored churn prediction."))
    else:
        if churn["horizon_days"] is None:
            gaps.append(
                gap("churn_prediction.horizon_days", "not_applicable", "The heuristic has no horizon.")
            )
        if churn["model_metrics"] is None:
            gaps.append(gap("churn_prediction.model_metrics", "not_applicable", "No trained model was used."))
    return summary(
        blocks={"product_usage": usage},
        result={"health_components": components, "explanation": explanation, "churn_prediction": churn},
        facts={
            "has_usage_events": usage["last_activity_at"] is not None,
            "components": components,
            "effective_weights": weights or {},
            "top_drivers": (explanation or {}).get("top_drivers") if isinstance(explanation, dict) else None,
            "churn_level": churn["risk_level"] if churn else None,
            "churn_probability": churn["probability"] if churn else None,
            "comparison_risk_level": comparison_risk_level or None,
        },
        data_gaps=gaps,
    )


def client_list_columns(*, clients, page: list, as_of: dt.date) -> ListColumns:
    """``list_clients`` column ``active_users`` (MAU: distinct users with a counting event in the last 30 days,
    null for a client without any usage data) and ``summary.total_active_users`` over the whole filtered set."""
    start = as_of - dt.timedelta(days=29)
    ids = [c.pk for c in page]
    with_usage = set(
        UserActivityDaily.objects.filter(client_id__in=ids)
        .order_by()
        .values_list("client_id", flat=True)
        .distinct()
    )
    mau = dict(
        UserActivityDaily.objects.filter(
            client_id__in=ids, date__gte=start, date__lte=as_of, counting_events__gt=0
        )
        .order_by()
        .values("client_id")
        .annotate(n=Count("user_id", distinct=True))
        .values_list("client_id", "n")
    )
    gaps = [
        gap(f"clients[{index}].active_users", "no_usage_events", f"No usage data for {c.client_id}.")
        for index, c in enumerate(page)
        if c.pk not in with_usage
    ]
    set_usage = UserActivityDaily.objects.filter(client__in=clients.values("pk"))
    total = None
    if set_usage.exists():
        total = (
            set_usage.filter(date__gte=start, date__lte=as_of, counting_events__gt=0)
            .values("client_id", "user_id")
            .distinct()
            .count()
        )
    return {
        "rows": {c.pk: {"active_users": mau.get(c.pk, 0) if c.pk in with_usage else None} for c in page},
        "totals": {"total_active_users": total},
        "data_gaps": gaps,
    }
