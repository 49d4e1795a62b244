"""``get_client_overview`` (TOOLS §1.2): the 360° view of one account."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone

from customers import rules
from customers.choices import AlertStatus, AlertType, ArrMovementKind, ContactRole, ContractStatus
from customers.models import (
    Alert,
    ArrMovement,
    Client,
    Contact,
    Contract,
    LifecycleStageHistory,
    TimelineEvent,
)

from .common import (
    EBR_CADENCE_TIERS,
    OPEN_ESCALATION_STATUSES,
    OPEN_EXPANSION_STAGES,
    OPEN_RENEWAL_STATUSES,
    OPEN_TICKET_STATUSES,
    _ensure_usage_fresh,
    _ticket_model,
    _usage_model,
    client_get,
    client_has_onboarding_plan,
    client_has_usage,
    day_start,
    days_until_renewal,
    gap,
    has_fields,
    iso,
    money,
    other_model,
    rate,
    reporting_tz,
    today,
)
from .timeline import timeline_entry


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


def _latest_snapshot(client: Client):
    model = other_model("health", "HealthSnapshot")
    if not has_fields(model, "client", "as_of"):
        return None
    return model.objects.filter(client=client).order_by("-as_of", "-pk").first()


def _snapshot_components(snapshot) -> tuple[dict[str, float | None] | None, dict[str, float]]:
    """Component scores and effective weights of a snapshot (column per component, or the explanation)."""
    if snapshot is None:
        return None, {}
    components: dict[str, float | None] = {}
    weights: dict[str, float] = {}
    explanation = getattr(snapshot, "explanation", None) or {}
    by_name = {c.get("component"): c for c in explanation.get("components", []) if isinstance(c, dict)}
    for name in rules.COMPONENTS:
        value = None
        for attr in (f"{name}_score", name):
            if hasattr(snapshot, attr) and not callable(getattr(snapshot, attr)):
                value = getattr(snapshot, attr)
                break
        if value is None and name in by_name:
            value = by_name[name].get("score")
        components[name] = None if value is None else round(float(value), 1)
        weight = by_name.get(name, {}).get("effective_weight")
        if weight is None:
            ew = getattr(snapshot, "effective_weights", None)
            if isinstance(ew, dict):
                weight = ew.get(name)
        if weight is not None and components[name] is not None:
            weights[name] = float(weight)
    return components, weights


def _pct(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _local_day(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return timezone.localtime(value, reporting_tz()).date()
    return value


def sla_breached_tickets(ticket_model, client: Client, *, since: dt.datetime):
    """Tickets created since ``since`` with at least one breached SLA clock (RULES §10.2), computed live."""
    now = timezone.now()
    breached = (
        Q(first_response_at__isnull=False, first_response_at__gt=F("first_response_due_at"))
        | Q(
            first_response_at__isnull=True,
            resolved_at__isnull=False,
            resolved_at__gt=F("first_response_due_at"),
        )
        | Q(first_response_at__isnull=True, resolved_at__isnull=True, first_response_due_at__lt=now)
        | Q(resolved_at__isnull=False, resolved_at__gt=F("resolution_due_at"))
        | Q(resolved_at__isnull=True, resolution_due_at__lt=now)
    )
    return ticket_model.objects.filter(breached, client=client, created_at__gte=since)


def latest_survey_responses(client: Client, *, since: dt.datetime) -> list[dict[str, Any]] | None:
    """Survey responses in the window, only the latest per respondent e-mail and type (RULES §13.1)."""
    model = other_model("feedback", "SurveyResponse")
    if not has_fields(model, "client", "survey_type", "score", "responded_at", "respondent_email"):
        return None
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    rows = (
        model.objects.filter(client=client, responded_at__gte=since)
        .order_by("responded_at", "pk")
        .values("pk", "survey_type", "score", "respondent_email", "responded_at")
    )
    for row in rows:
        key = ((row["respondent_email"] or f"#{row['pk']}").lower(), row["survey_type"])
        latest[key] = row
    return list(latest.values())


def churn_level_for_probability(probability: float) -> str:
    """RULES §5.1 churn risk bands (0.25 / 0.50 / 0.75)."""
    if probability < 0.25:
        return "low"
    if probability < 0.5:
        return "medium"
    if probability < 0.75:
        return "high"
    return "critical"


def _latest_churn_prediction(client: Client, snapshot) -> dict[str, Any] | None:
    model = other_model("health", "ChurnPrediction")
    if has_fields(model, "client", "as_of", "probability", "risk_level", "method"):
        row = model.objects.filter(client=client, probability__isnull=False).order_by("-as_of", "-pk").first()
        if row is not None:
            return {
                "churn_probability": rate(row.probability),
                "risk_level": row.risk_level or churn_level_for_probability(float(row.probability)),
                "method": row.method,
                "calibrated": getattr(row, "calibrated", None),
                "horizon_days": getattr(row, "horizon_days", None),
                "drivers": getattr(row, "drivers", None),
                "predicted_churn_date": iso(getattr(row, "predicted_churn_date", None)),
                "as_of": iso(row.as_of),
            }
    probability = _first_attr(snapshot, "churn_probability")
    if probability is None:
        return None
    return {
        "churn_probability": rate(probability),
        "risk_level": churn_level_for_probability(float(probability)),
        "method": _first_attr(snapshot, "churn_method"),
        "calibrated": None,
        "horizon_days": None,
        "drivers": None,
        "predicted_churn_date": None,
        "as_of": iso(snapshot.as_of),
    }


def _first_attr(obj, *names: str) -> Any:
    for name in names:
        if obj is not None and hasattr(obj, name):
            return getattr(obj, name)
    return None


def client_overview(*, client_id: str, as_of: dt.date | None = None) -> dict[str, Any]:
    """TOOLS §1.2: the 360° view assembled from stored rows."""
    client = client_get(client_id)
    as_of = as_of or today()
    d30 = day_start(as_of - dt.timedelta(days=29))
    d90 = day_start(as_of - dt.timedelta(days=89))
    gaps: list[dict[str, str]] = []
    p = "client_overview"
    csm = client.csm_assigned.get_username() if client.csm_assigned_id else None
    contract = (
        Contract.objects.filter(client=client, status=ContractStatus.ACTIVE)
        .order_by("-start_date", "-id")
        .first()
    )

    # identity and cached health
    if not csm:
        gaps.append(gap(f"{p}.identity.csm_assigned", "no_csm", "No CSM assigned."))
    if not client.primary_contact_email:
        gaps.append(
            gap(f"{p}.identity.primary_contact.email", "no_contact_email", "No primary contact e-mail.")
        )
    if client.health_score is None:
        gaps.append(gap(f"{p}.health_score", "no_score", "The client has not been scored yet."))
    if not client.health_trend:
        gaps.append(gap(f"{p}.health_trend", "insufficient_history", "No comparison snapshot for a trend."))

    # lifecycle
    open_stage = LifecycleStageHistory.objects.filter(client=client, exited_at__isnull=True).first()
    stage_entered_at = open_stage.entered_at if open_stage else None
    if stage_entered_at is None:
        gaps.append(gap(f"{p}.stage_entered_at", "insufficient_history", "No lifecycle history row."))

    # contract and renewal
    renewal_days = days_until_renewal(client, as_of)
    if contract is None:
        gaps.append(gap(f"{p}.payment_status", "no_contract", "No active contract."))
        gaps.append(gap(f"{p}.auto_renew", "no_contract", "No active contract."))
    if renewal_days is None:
        gaps.append(gap(f"{p}.days_until_renewal", "no_contract", "No contract end date."))
    renewal_model = other_model("expansion", "Renewal")
    open_renewal = None
    if has_fields(renewal_model, "client", "status"):
        open_renewal = (
            renewal_model.objects.filter(client=client, status__in=OPEN_RENEWAL_STATUSES)
            .order_by("-pk")
            .first()
        )
    renewal_probability = _first_attr(open_renewal, "probability", "renewal_probability")
    renewal_probability = (
        float(renewal_probability)
        if renewal_probability is not None
        else rules.renewal_probability_for_health(client.health_score)
    )
    if renewal_probability is None:
        gaps.append(gap(f"{p}.renewal_probability", "no_score", "Renewal probability needs a health score."))
        gaps.append(gap(f"{p}.renewal_risk_level", "no_score", "Renewal probability needs a health score."))

    # onboarding
    onboarding = None
    plan_model = other_model("onboarding", "OnboardingPlan")
    if has_fields(plan_model, "client", "status"):
        plan = (
            plan_model.objects.filter(client=client)
            .exclude(status="cancelled")
            .order_by("-created_at", "-pk")
            .first()
        )
        if plan is not None:
            onboarding = {
                "plan_id": _first_attr(plan, "plan_id"),
                "status": _first_attr(plan, "status"),
                "progress_status": _first_attr(plan, "progress_status"),
                "completion_pct": _pct(_first_attr(plan, "completion_pct")),
                "ttv_days": _first_attr(plan, "ttv_days"),
            }
            if onboarding["ttv_days"] is None:
                gaps.append(
                    gap(
                        f"{p}.onboarding.ttv_days",
                        "not_applicable",
                        "First value not reached or not measured.",
                    )
                )
    if onboarding is None:
        gaps.append(gap(f"{p}.onboarding", "not_applicable", "No onboarding plan for this client."))

    # engagement
    engagement_events_30d = TimelineEvent.objects.filter(
        client=client, counts_as_engagement=True, occurred_at__gte=d30
    ).count()
    if client.last_engagement_date is None:
        gaps.append(
            gap(
                f"{p}.engagement.last_engagement_date",
                "no_engagement_events",
                "No engagement event recorded.",
            )
        )
    last_ebr_date = next_ebr_date = None
    last_completed_ebr_days_ago = None
    ebr_model = other_model("communication", "ExecutiveReview")
    ebr_available = has_fields(ebr_model, "client", "status", "scheduled_date", "completed_at")
    if ebr_available:
        done = (
            ebr_model.objects.filter(client=client, status="completed")
            .order_by("-completed_at", "-scheduled_date")
            .first()
        )
        upcoming = (
            ebr_model.objects.filter(client=client, status="scheduled", scheduled_date__gte=day_start(as_of))
            .order_by("scheduled_date")
            .first()
        )
        if done is not None:
            moment = done.completed_at or done.scheduled_date
            last_ebr_date = _local_day(moment)
            last_completed_ebr_days_ago = (as_of - last_ebr_date).days
        if upcoming is not None:
            next_ebr_date = _local_day(upcoming.scheduled_date)
    if last_ebr_date is None:
        gaps.append(gap(f"{p}.engagement.last_ebr_date", "not_applicable", "No completed executive review."))
    if next_ebr_date is None:
        gaps.append(gap(f"{p}.engagement.next_ebr_date", "not_applicable", "No scheduled executive review."))

    # support
    ticket_model = _ticket_model()
    support: dict[str, Any] = {
        "open_tickets": None,
        "open_by_priority": None,
        "sla_breaches_30d": None,
        "open_escalations": None,
        "csat_90d_pct": None,
    }
    if ticket_model is not None:
        open_qs = ticket_model.objects.filter(client=client, status__in=OPEN_TICKET_STATUSES)
        support["open_tickets"] = open_qs.count()
        support["open_by_priority"] = {
            row["priority"]: row["n"]
            for row in open_qs.order_by().values("priority").annotate(n=Count("pk")).order_by("priority")
        }
        support["sla_breaches_30d"] = sla_breached_tickets(ticket_model, client, since=d30).count()
    else:
        for key in ("open_tickets", "open_by_priority", "sla_breaches_30d"):
            gaps.append(gap(f"{p}.support.{key}", "not_applicable", "Ticket data is not available."))
    escalation_model = other_model("retention", "Escalation")
    if has_fields(escalation_model, "client", "status"):
        support["open_escalations"] = escalation_model.objects.filter(
            client=client, status__in=OPEN_ESCALATION_STATUSES
        ).count()
    else:
        gaps.append(
            gap(f"{p}.support.open_escalations", "not_applicable", "Escalation data is not available.")
        )
    detractor_scores: list[int] | None = None
    decision_maker_detractor: bool | None = None
    survey = latest_survey_responses(client, since=d90)
    if survey is not None:
        csat = [r for r in survey if r["survey_type"] == "csat"]
        if csat:
            support["csat_90d_pct"] = round(sum(1 for r in csat if r["score"] >= 4) / len(csat) * 100, 1)
        detractors = [r for r in survey if r["survey_type"] == "nps" and r["score"] <= 6]
        detractor_scores = [int(r["score"]) for r in detractors]
        emails = {r["respondent_email"].lower() for r in detractors if r["respondent_email"]}
        decision_maker_detractor = (
            bool(emails)
            and Contact.objects.filter(
                client=client,
                email__in=emails,
                role__in=[ContactRole.DECISION_MAKER, ContactRole.EXECUTIVE_SPONSOR],
            ).exists()
        )
    if support["csat_90d_pct"] is None:
        gaps.append(gap(f"{p}.support.csat_90d_pct", "no_survey_responses", "No CSAT response in 90 days."))

    # product usage
    seats = contract.included_users if contract is not None else None
    product_usage: dict[str, Any] = {
        "mau": None,
        "dau_avg": None,
        "stickiness": None,
        "seats": seats,
        "utilization_rate": None,
        "core_breadth_rate": None,
        "usage_change_rate": None,
        "last_activity_at": None,
    }
    if seats is None:
        gaps.append(
            gap(f"{p}.product_usage.seats", "no_seat_data", "The active contract states no seat count.")
        )
    usage = _usage_model()
    if usage is not None:
        _ensure_usage_fresh(client)
    has_usage = client_has_usage(client)
    if usage is not None and has_usage:
        start30 = as_of - dt.timedelta(days=29)
        prev_start = as_of - dt.timedelta(days=59)
        window = usage.objects.filter(client=client, counting_events__gt=0)
        mau = window.filter(date__gte=start30, date__lte=as_of).values("user_id").distinct().count()
        aud_w = window.filter(date__gte=start30, date__lte=as_of).count()
        aud_p = window.filter(date__gte=prev_start, date__lt=start30).count()
        product_usage["mau"] = mau
        product_usage["dau_avg"] = round(aud_w / 30, 2)
        product_usage["stickiness"] = rate(aud_w / 30 / mau) if mau else None
        if not mau:
            gaps.append(gap(f"{p}.product_usage.stickiness", "no_usage_events", "No active user in 30 days."))
        if seats:
            product_usage["utilization_rate"] = rate(mau / seats)
        elif seats is not None:
            gaps.append(gap(f"{p}.product_usage.utilization_rate", "no_seat_data", "Seat count is 0."))
        product_usage["usage_change_rate"] = rate((aud_w - aud_p) / aud_p) if aud_p else None
        if not aud_p:
            gaps.append(
                gap(
                    f"{p}.product_usage.usage_change_rate",
                    "insufficient_history",
                    "No usage in the previous 30 days.",
                )
            )
        last_day = usage.objects.filter(client=client).aggregate(m=Max("date"))["m"]
        product_usage["last_activity_at"] = iso(last_day)
        # Core breadth is computed once, by health scoring (RULES §4.2.1 U2), and read from its latest snapshot.
        scored = _latest_snapshot(client)
        usage_inputs = ((getattr(scored, "inputs", None) or {}).get("usage") or {}) if scored else {}
        if usage_inputs.get("core_breadth") is not None:
            product_usage["core_breadth_rate"] = rate(usage_inputs["core_breadth"])
        else:
            gaps.append(
                gap(
                    f"{p}.product_usage.core_breadth_rate",
                    "no_score" if scored is None else "no_catalogue",
                    "No health snapshot yet."
                    if scored is None
                    else "The feature catalogue has no core feature for the client's tier.",
                )
            )
    else:
        for key in (
            "mau",
            "dau_avg",
            "stickiness",
            "utilization_rate",
            "core_breadth_rate",
            "usage_change_rate",
            "last_activity_at",
        ):
            gaps.append(gap(f"{p}.product_usage.{key}", "no_usage_events", "No usage data for this client."))

    # revenue
    since = as_of - dt.timedelta(days=365)
    movements = ArrMovement.objects.filter(
        client=client, movement_date__gt=since, movement_date__lte=as_of
    ).aggregate(
        expansion=Sum("amount", filter=Q(kind=ArrMovementKind.EXPANSION)),
        contraction=Sum("amount", filter=Q(kind=ArrMovementKind.CONTRACTION)),
    )
    opportunities_rows: list[dict[str, Any]] = []
    open_pipeline_weighted = None
    opp_model = other_model("expansion", "ExpansionOpportunity")
    if has_fields(opp_model, "client", "stage"):
        value_field = next(
            (f for f in ("amount", "estimated_value", "value") if has_fields(opp_model, f)), None
        )
        prob_field = next((f for f in ("probability",) if has_fields(opp_model, f)), None)
        total = Decimal("0")
        for opp in opp_model.objects.filter(client=client, stage__in=OPEN_EXPANSION_STAGES).order_by("pk"):
            value = getattr(opp, value_field, None) if value_field else None
            probability = getattr(opp, prob_field, None) if prob_field else None
            if value is not None and probability is not None:
                total += Decimal(value) * Decimal(str(probability))
            opportunities_rows.append(
                {
                    "kind": "expansion_opportunity",
                    "id": _first_attr(opp, "opportunity_id", "pk"),
                    "type": _first_attr(opp, "opportunity_type", "type"),
                    "stage": opp.stage,
                    "value": money(value),
                    "probability": rate(probability),
                }
            )
        if value_field and prob_field:
            open_pipeline_weighted = money(total)
    if open_pipeline_weighted is None:
        gaps.append(
            gap(f"{p}.revenue.open_pipeline_weighted", "not_applicable", "Expansion data is not available.")
        )

    # communication
    communication: dict[str, Any] = {
        "emails_sent_30d": None,
        "emails_opened_30d": None,
        "last_email_at": None,
    }
    email_model = other_model("communication", "EmailMessage")
    if has_fields(email_model, "client", "sent_at", "is_internal", "opened_at", "track_opens"):
        sent = email_model.objects.filter(client=client, sent_at__isnull=False, is_internal=False)
        stats = sent.aggregate(
            sent_30d=Count("pk", filter=Q(sent_at__gte=d30)),
            tracked_30d=Count("pk", filter=Q(sent_at__gte=d30, track_opens=True)),
            opened_30d=Count("pk", filter=Q(sent_at__gte=d30, track_opens=True, opened_at__isnull=False)),
            last=Max("sent_at"),
        )
        communication["emails_sent_30d"] = stats["sent_30d"]
        communication["last_email_at"] = iso(stats["last"])
        if stats["tracked_30d"]:
            communication["emails_opened_30d"] = stats["opened_30d"]
        else:
            gaps.append(
                gap(f"{p}.communication.emails_opened_30d", "tracking_unavailable", "No open tracking.")
            )
        if stats["last"] is None:
            gaps.append(gap(f"{p}.communication.last_email_at", "not_applicable", "No e-mail sent yet."))
    else:
        for key in communication:
            gaps.append(gap(f"{p}.communication.{key}", "not_applicable", "E-mail data is not available."))

    # alerts and recent activity
    live_alerts = list(
        Alert.objects.filter(client=client, status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED]).order_by(
            "-last_triggered_at", "-id"
        )
    )
    risks = [_alert_item(a) for a in live_alerts if a.type == AlertType.RISK]
    opportunities = [
        {"kind": "alert", **_alert_item(a)} for a in live_alerts if a.type == AlertType.OPPORTUNITY
    ] + opportunities_rows
    recent = [
        timeline_entry(e)
        for e in TimelineEvent.objects.filter(client=client).order_by("-occurred_at", "-id")[:10]
    ]

    # health snapshot, explanation, churn prediction
    snapshot = _latest_snapshot(client)
    components, weights = _snapshot_components(snapshot)
    explanation = getattr(snapshot, "explanation", None) if snapshot is not None else None
    churn_prediction = _latest_churn_prediction(client, snapshot)
    churn_level = churn_prediction["risk_level"] if churn_prediction else None
    churn_probability = churn_prediction["churn_probability"] if churn_prediction else None
    if churn_prediction is None:
        gaps.append(gap("churn_prediction", "no_score", "No stored churn prediction."))
    comparison_risk_level = None
    comparison_as_of = _first_attr(snapshot, "comparison_as_of")
    if comparison_as_of is not None:
        comparison = type(snapshot).objects.filter(client=client, as_of=comparison_as_of).first()
        comparison_risk_level = getattr(comparison, "risk_level", None) or None
    if components is None:
        gaps.append(gap("health_components", "no_score", "No official health snapshot."))
        gaps.append(gap("explanation", "no_score", "No official health snapshot."))

    # findings
    primary_changed = Contact.objects.filter(client=client, primary_until__isnull=False).aggregate(
        m=Max("primary_until")
    )["m"]
    primary_changed_days = (
        (as_of - timezone.localtime(primary_changed, reporting_tz()).date()).days
        if (primary_changed)
        else None
    )
    if client.last_engagement_date is not None:
        days_since_engagement = (as_of - client.last_engagement_date).days
    else:
        tenure = (as_of - timezone.localtime(client.created_at, reporting_tz()).date()).days
        days_since_engagement = tenure if tenure >= 30 else None
    top_drivers = (explanation or {}).get("top_drivers") if isinstance(explanation, dict) else None
    attention = rules.health_findings(
        health_score=client.health_score,
        health_trend=client.health_trend or None,
        components=components,
        effective_weights=weights,
        top_drivers=top_drivers,
        churn_level=churn_level,
        churn_probability=churn_probability,
        risk_level=client.risk_level or None,
        comparison_risk_level=comparison_risk_level,
    ) + rules.risk_findings(
        health_score=client.health_score,
        days_until_renewal=renewal_days,
        payment_status=contract.payment_status if contract else None,
        primary_contact_changed_days_ago=primary_changed_days,
        days_since_engagement=days_since_engagement,
        open_escalations=support["open_escalations"],
        sla_breaches_30d=support["sla_breaches_30d"],
        detractor_scores=detractor_scores,
        decision_maker_detractor=decision_maker_detractor,
    )
    notice_days = None
    if contract is not None and contract.auto_renew:
        notice_days = (contract.end_date - dt.timedelta(days=contract.notice_period_days) - as_of).days
    recommended = (
        attention
        + rules.core_findings(
            client_name=client.client_name,
            lifecycle_stage=client.lifecycle_stage,
            has_onboarding_plan=client_has_onboarding_plan(client),
            csm_assigned=csm,
            primary_contact_email=client.primary_contact_email,
            has_usage_events=has_usage,
        )
        + rules.renewal_findings(
            renewal_probability=renewal_probability,
            days_until_renewal=renewal_days,
            renewal_open=(open_renewal is not None) if renewal_model is not None else None,
            auto_renew=contract.auto_renew if contract else None,
            notice_deadline_days=notice_days,
            last_completed_ebr_days_ago=last_completed_ebr_days_ago,
            value_tier_has_ebr_cadence=client.value_tier in EBR_CADENCE_TIERS,
            ebr_data_available=ebr_available,
        )
    )
    key_strengths = [
        {"component": name, "score": score}
        for name, score in (components or {}).items()
        if score is not None and score >= 80
    ]

    overview = {
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
        "days_in_stage": (as_of - timezone.localtime(stage_entered_at, reporting_tz()).date()).days
        if stage_entered_at
        else None,
        "contract_value": money(client.contract_value),
        "currency": client.currency,
        "contract_start_date": iso(client.contract_start_date),
        "contract_end_date": iso(client.contract_end_date),
        "days_until_renewal": renewal_days,
        "auto_renew": contract.auto_renew if contract else None,
        "payment_status": contract.payment_status if contract else None,
        "renewal_probability": rate(renewal_probability),
        "renewal_risk_level": rules.renewal_risk_level(renewal_probability),
        "onboarding": onboarding,
        "engagement": {
            "last_engagement_date": iso(client.last_engagement_date),
            "engagement_events_30d": engagement_events_30d,
            "last_ebr_date": iso(last_ebr_date),
            "next_ebr_date": iso(next_ebr_date),
        },
        "support": support,
        "product_usage": product_usage,
        "revenue": {
            "arr": money(client.contract_value),
            "expansion_arr_12m": money(movements["expansion"] or 0),
            "contraction_arr_12m": money(abs(movements["contraction"] or 0)),
            "open_pipeline_weighted": open_pipeline_weighted,
        },
        "communication": communication,
        "risks": risks,
        "opportunities": opportunities,
        "recent_activity": recent,
    }
    return {
        "client_overview": overview,
        "health_components": components,
        "explanation": explanation,
        "churn_prediction": churn_prediction,
        "insights": {
            "overall_status": client.risk_level or "not_scored",
            "key_strengths": key_strengths,
            "attention_areas": rules.sort_findings(attention),
            "recommended_actions": rules.sort_findings(recommended),
        },
        "data_gaps": gaps,
    }
