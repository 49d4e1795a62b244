"""``get_client_overview`` (TOOLS §1.2): the 360° view of one account.

customers computes what it owns (identity, cached health, lifecycle, contract and renewal, ARR movements, alerts,
timeline, the findings); every other block comes from the ``client_summary`` the owning app registered in
:mod:`customers.summaries`. An app without a registered summary leaves its paths null with a data gap.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Max, Q, Sum

from customers import rules
from customers.choices import AlertStatus, AlertType, ArrMovementKind
from customers.models import (
    Alert,
    ArrMovement,
    Client,
    Contact,
    Contract,
    LifecycleStageHistory,
    TimelineEvent,
)
from customers.summaries import summary_providers

from .common import (
    EBR_CADENCE_TIERS,
    active_contract,
    client_field_gaps,
    client_get,
    day_start,
    days_until_renewal,
    gap,
    iso,
    local_day,
    money,
    rate,
    today,
)
from .timeline import timeline_entry

P = "client_overview"
USAGE_KEYS = ("mau", "dau_avg", "stickiness", "utilization_rate", "core_breadth_rate", "usage_change_rate")

#: The result paths each app's summary fills (TOOLS §1.2); without a registered provider they stay null.
SUMMARY_OWNERS: dict[str, tuple[str, ...]] = {
    "onboarding": (f"{P}.onboarding",),
    "support": (
        f"{P}.support.open_tickets",
        f"{P}.support.open_by_priority",
        f"{P}.support.sla_breaches_30d",
    ),
    "retention": (f"{P}.support.open_escalations",),
    "feedback": (f"{P}.support.csat_90d_pct",),
    "communication": (
        f"{P}.engagement.last_ebr_date",
        f"{P}.engagement.next_ebr_date",
        f"{P}.communication.emails_sent_30d",
        f"{P}.communication.emails_opened_30d",
        f"{P}.communication.last_email_at",
    ),
    "expansion": (f"{P}.revenue.open_pipeline_weighted",),
    "health": (
        *(f"{P}.product_usage.{key}" for key in (*USAGE_KEYS, "last_activity_at")),
        "health_components",
        "explanation",
        "churn_prediction",
    ),
}

#: The findings' inputs (RULES §18) the summaries provide, as they are when the providing app is absent.
FACT_DEFAULTS: dict[str, Any] = {
    "has_onboarding_plan": None,  # onboarding
    "has_usage_events": None,  # health
    "components": None,
    "effective_weights": {},
    "top_drivers": None,
    "churn_level": None,
    "churn_probability": None,
    "comparison_risk_level": None,
    "detractor_scores": None,  # feedback
    "decision_maker_detractor": None,
    "renewal_open": None,  # expansion
    "renewal_probability": None,
    "ebr_data_available": False,  # communication
    "last_completed_ebr_days_ago": None,
}


def _merge(target: dict[str, Any], values: dict[str, Any]) -> None:
    """A summary's blocks into the overview: dicts key by key, lists appended, anything else set."""
    for key, value in values.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            current.update(value)
        elif isinstance(current, list) and isinstance(value, list):
            current.extend(value)
        else:
            target[key] = value


def compose_summaries(
    overview: dict[str, Any], *, client: Client, as_of: dt.date, gaps: list[dict[str, str]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fill ``overview`` with the registered apps' summaries; return the top-level result keys and the facts."""
    providers = summary_providers()
    result: dict[str, Any] = {"health_components": None, "explanation": None, "churn_prediction": None}
    facts = dict(FACT_DEFAULTS)
    for app_label in sorted(set(providers) | set(SUMMARY_OWNERS)):
        provider = providers.get(app_label)
        if provider is None:
            gaps.extend(
                gap(path, "not_applicable", f"The {app_label} app publishes no client summary here.")
                for path in SUMMARY_OWNERS[app_label]
            )
            continue
        part = provider(client=client, as_of=as_of)
        _merge(overview, part["blocks"])
        result.update(part["result"])
        facts.update(part["facts"])
        gaps.extend(part["data_gaps"])
    return result, facts


def _skeleton(client: Client, *, contract: Contract | None, as_of: dt.date) -> dict[str, Any]:
    """The overview with customers' own values; the blocks of other apps start null and are filled by them."""
    csm = client.csm_assigned.get_username() if client.csm_assigned_id else None
    open_stage = LifecycleStageHistory.objects.filter(client=client, exited_at__isnull=True).first()
    stage_entered_at = open_stage.entered_at if open_stage else None
    since = as_of - dt.timedelta(days=365)
    movements = ArrMovement.objects.filter(
        client=client, movement_date__gt=since, movement_date__lte=as_of
    ).aggregate(
        expansion=Sum("amount", filter=Q(kind=ArrMovementKind.EXPANSION)),
        contraction=Sum("amount", filter=Q(kind=ArrMovementKind.CONTRACTION)),
    )
    live_alerts = list(
        Alert.objects.filter(client=client, status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED]).order_by(
            "-last_triggered_at", "-id"
        )
    )
    recent = TimelineEvent.objects.filter(client=client).order_by("-occurred_at", "-id")[:10]
    return {
        "identity": {
            "client_id": client.client_id,
            "client_name": client.client_name,
            "company_name": client.company_name,
            "industry": client.industry,
            "tier": client.tier,
            "value_tier": client.value_tier,
            "status": client.status,
            "csm_assigned": csm,
            "primary_contact": {
                "name": client.primary_contact_name or None,
                "email": client.primary_contact_email or None,
            },
        },
        "health_score": client.health_score,
        "health_trend": client.health_trend or None,
        "risk_level": client.risk_level or None,
        "health_as_of": iso(client.health_as_of),
        "lifecycle_stage": client.lifecycle_stage,
        "stage_entered_at": iso(stage_entered_at),
        "days_in_stage": (as_of - local_day(stage_entered_at)).days if stage_entered_at else None,
        "contract_value": money(client.contract_value),
        "currency": client.currency,
        "contract_start_date": iso(client.contract_start_date),
        "contract_end_date": iso(client.contract_end_date),
        "days_until_renewal": days_until_renewal(client, as_of),
        "auto_renew": contract.auto_renew if contract else None,
        "payment_status": contract.payment_status if contract else None,
        "renewal_probability": None,
        "renewal_risk_level": None,
        "onboarding": None,
        "engagement": {
            "last_engagement_date": iso(client.last_engagement_date),
            "engagement_events_30d": TimelineEvent.objects.filter(
                client=client,
                counts_as_engagement=True,
                occurred_at__gte=day_start(as_of - dt.timedelta(days=29)),
            ).count(),
            "last_ebr_date": None,
            "next_ebr_date": None,
        },
        "support": dict.fromkeys(
            ("open_tickets", "open_by_priority", "sla_breaches_30d", "open_escalations", "csat_90d_pct")
        ),
        "product_usage": {
            **dict.fromkeys(USAGE_KEYS[:3]),
            "seats": contract.included_users if contract is not None else None,
            **dict.fromkeys((*USAGE_KEYS[3:], "last_activity_at")),
        },
        "revenue": {
            "arr": money(client.contract_value),
            "expansion_arr_12m": money(movements["expansion"] or 0),
            "contraction_arr_12m": money(abs(movements["contraction"] or 0)),
            "open_pipeline_weighted": None,
        },
        "communication": dict.fromkeys(("emails_sent_30d", "emails_opened_30d", "last_email_at")),
        "risks": [_alert_item(a) for a in live_alerts if a.type == AlertType.RISK],
        "opportunities": [
            {"kind": "alert", **_alert_item(a)} for a in live_alerts if a.type == AlertType.OPPORTUNITY
        ],
        "recent_activity": [timeline_entry(e) for e in recent],
    }


def _own_gaps(client: Client, overview: dict[str, Any], *, contract: Contract | None) -> list[dict[str, str]]:
    """Data gaps of the values customers itself provides (the client columns as in every core tool)."""
    gaps = client_field_gaps(client, overview["identity"], prefix=f"{P}.identity")
    if overview["identity"]["primary_contact"]["email"] is None:
        gaps.append(
            gap(f"{P}.identity.primary_contact.email", "no_contact_email", "No primary contact e-mail.")
        )
    gaps += client_field_gaps(client, overview, prefix=P)
    if overview["stage_entered_at"] is None:
        gaps.append(gap(f"{P}.stage_entered_at", "insufficient_history", "No lifecycle history row."))
    if contract is None:
        gaps.append(gap(f"{P}.payment_status", "no_contract", "No active contract."))
        gaps.append(gap(f"{P}.auto_renew", "no_contract", "No active contract."))
    if overview["days_until_renewal"] is None:
        gaps.append(gap(f"{P}.days_until_renewal", "no_contract", "No contract end date."))
    if overview["engagement"]["last_engagement_date"] is None:
        gaps.append(
            gap(
                f"{P}.engagement.last_engagement_date",
                "no_engagement_events",
                "No engagement event recorded.",
            )
        )
    if overview["product_usage"]["seats"] is None:
        gaps.append(
            gap(f"{P}.product_usage.seats", "no_seat_data", "The active contract states no seat count.")
        )
    if overview["renewal_probability"] is None:
        gaps.append(gap(f"{P}.renewal_probability", "no_score", "Renewal probability needs a health score."))
        gaps.append(gap(f"{P}.renewal_risk_level", "no_score", "Renewal probability needs a health score."))
    return gaps


def _alert_item(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "type": alert.type,
        "reason": alert.reason,
        "priority": alert.priority,
        "status": alert.status,
        "rule_id": alert.rule_id or None,
        "due_at": iso(alert.due_at),
        "occurrence_count": alert.occurrence_count,
        "first_triggered_at": iso(alert.first_triggered_at),
        "last_triggered_at": iso(alert.last_triggered_at),
        "evidence": alert.evidence,
    }


def _findings(
    client: Client,
    overview: dict[str, Any],
    facts: dict[str, Any],
    *,
    contract: Contract | None,
    as_of: dt.date,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``attention_areas`` (HLT-01…08, RSK-01…08) and ``recommended_actions`` (those plus CORE-01…04, RNW-*)."""
    primary_changed = Contact.objects.filter(client=client, primary_until__isnull=False).aggregate(
        m=Max("primary_until")
    )["m"]
    if client.last_engagement_date is not None:
        days_since_engagement = (as_of - client.last_engagement_date).days
    else:
        tenure = (as_of - local_day(client.created_at)).days
        days_since_engagement = tenure if tenure >= 30 else None
    attention = rules.health_findings(
        health_score=client.health_score,
        health_trend=client.health_trend or None,
        components=facts["components"],
        effective_weights=facts["effective_weights"],
        top_drivers=facts["top_drivers"],
        churn_level=facts["churn_level"],
        churn_probability=facts["churn_probability"],
        risk_level=client.risk_level or None,
        comparison_risk_level=facts["comparison_risk_level"],
    ) + rules.risk_findings(
        health_score=client.health_score,
        days_until_renewal=overview["days_until_renewal"],
        payment_status=overview["payment_status"],
        primary_contact_changed_days_ago=(as_of - local_day(primary_changed)).days
        if primary_changed
        else None,
        days_since_engagement=days_since_engagement,
        open_escalations=overview["support"]["open_escalations"],
        sla_breaches_30d=overview["support"]["sla_breaches_30d"],
        detractor_scores=facts["detractor_scores"],
        decision_maker_detractor=facts["decision_maker_detractor"],
    )
    notice_days = None
    if contract is not None and contract.auto_renew:
        notice_days = (contract.end_date - dt.timedelta(days=contract.notice_period_days) - as_of).days
    recommended = (
        attention
        + rules.core_findings(
            client_name=client.client_name,
            lifecycle_stage=client.lifecycle_stage,
            has_onboarding_plan=facts["has_onboarding_plan"],
            csm_assigned=overview["identity"]["csm_assigned"],
            primary_contact_email=client.primary_contact_email,
            has_usage_events=facts["has_usage_events"],
        )
        + rules.renewal_findings(
            renewal_probability=overview["renewal_probability"],
            days_until_renewal=overview["days_until_renewal"],
            renewal_open=facts["renewal_open"],
            auto_renew=overview["auto_renew"],
            notice_deadline_days=notice_days,
            last_completed_ebr_days_ago=facts["last_completed_ebr_days_ago"],
            value_tier_has_ebr_cadence=client.value_tier in EBR_CADENCE_TIERS,
            ebr_data_available=facts["ebr_data_available"],
        )
    )
    return rules.sort_findings(attention), rules.sort_findings(recommended)


def client_overview(*, client_id: str, as_of: dt.date | None = None) -> dict[str, Any]:
    """TOOLS §1.2: the 360° view assembled from stored rows."""
    client = client_get(client_id)
    as_of = as_of or today()
    contract = active_contract(client)
    overview = _skeleton(client, contract=contract, as_of=as_of)
    gaps: list[dict[str, str]] = []
    result, facts = compose_summaries(overview, client=client, as_of=as_of, gaps=gaps)
    # RULES §12.2: the open renewal's probability when there is one, else the band of the health score
    probability = facts["renewal_probability"]
    if probability is None:
        probability = rules.renewal_probability_for_health(client.health_score)
    overview["renewal_probability"] = rate(probability)
    overview["renewal_risk_level"] = rules.renewal_risk_level(probability)
    gaps = _own_gaps(client, overview, contract=contract) + gaps
    attention, recommended = _findings(client, overview, facts, contract=contract, as_of=as_of)
    components = result["health_components"]
    return {
        "client_overview": overview,
        **result,
        "insights": {
            "overall_status": client.risk_level or "not_scored",
            "key_strengths": [
                {"component": name, "score": score}
                for name, score in (components or {}).items()
                if score is not None and score >= 80
            ],
            "attention_areas": attention,
            "recommended_actions": recommended,
        },
        "data_gaps": gaps,
    }
