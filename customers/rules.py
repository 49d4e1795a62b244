"""Rule findings (RULES §18) and small rule tables that the core tools use.

A finding is ``{rule_id, title, action, priority, evidence[, tool_hint]}`` (TOOLS §0.6). Each rule below is a
pure function of values already read from the database (the selectors gather them), so the same rule gives the
same answer whichever doorway asks. Findings are ordered by priority (critical → low), then rule id.
"""

from __future__ import annotations

from typing import Any

from .choices import LifecycleStage, Priority, RiskLevel

# --- RULES §7.1: allowed manual lifecycle transitions --------------------------------------------------

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    LifecycleStage.ONBOARDING: frozenset({"active", "at_risk", "renewal", "churned"}),
    LifecycleStage.ACTIVE: frozenset({"at_risk", "expansion", "renewal", "churned"}),
    LifecycleStage.AT_RISK: frozenset({"active", "renewal", "churned"}),
    LifecycleStage.EXPANSION: frozenset({"active", "at_risk", "renewal", "churned"}),
    LifecycleStage.RENEWAL: frozenset({"active", "at_risk", "expansion", "churned"}),
    LifecycleStage.CHURNED: frozenset({"onboarding"}),
}


def transition_allowed(from_stage: str, to_stage: str) -> bool:
    return to_stage in ALLOWED_TRANSITIONS.get(from_stage, frozenset())


# --- RULES §4.5 / §12.2 ---------------------------------------------------------------------------------

AT_RISK_THRESHOLD_DEFAULT = 60


def at_risk_threshold() -> int:
    from django.conf import settings

    return int(getattr(settings, "CS_RULES", {}).get("at_risk_threshold", AT_RISK_THRESHOLD_DEFAULT))


HEALTH_TREND_DAYS_DEFAULT = 7


def health_trend_days() -> int:
    """RULES §4.6 ``N`` [S ``health_trend_days``]: the trend compares with a snapshot N…2N days back."""
    from django.conf import settings

    return int(getattr(settings, "CS_RULES", {}).get("health_trend_days", HEALTH_TREND_DAYS_DEFAULT))


def trend_gap_detail(days: int | None = None) -> str:
    """The one text of the ``insufficient_history`` gap of a null trend (or comparison), stating the window really
    searched (``days`` = N, read from the setting when not given)."""
    n = health_trend_days() if days is None else days
    return f"No official snapshot {n}–{2 * n} days back."


def risk_level_for_health(health: int | None) -> str | None:
    """RULES §4.5 risk band of a health score — the one home of the 80 / 65 / 50 cut-offs (the health engine
    imports it as ``health.scoring.risk_band``)."""
    if health is None:
        return None
    if health >= 80:
        return RiskLevel.LOW
    if health >= 65:
        return RiskLevel.MEDIUM
    if health >= 50:
        return RiskLevel.HIGH
    return RiskLevel.CRITICAL


def churn_level_for_probability(probability: float | None) -> str | None:
    """RULES §5.1 churn risk band of a probability (0.25 / 0.50 / 0.75): the one home, used by the heuristic
    and the trained model's predictions (``health.scoring.churn_level``); ``None`` without a probability."""
    if probability is None:
        return None
    if probability >= 0.75:
        return RiskLevel.CRITICAL
    if probability >= 0.50:
        return RiskLevel.HIGH
    if probability >= 0.25:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def renewal_probability_for_health(health: int | float | None) -> float | None:
    """RULES §12.2: the one renewal-probability table (0.92 / 0.80 / 0.65 / 0.40; null without a score)."""
    if health is None:
        return None
    if health >= 85:
        return 0.92
    if health >= 70:
        return 0.80
    if health >= 60:
        return 0.65
    return 0.40


def renewal_risk_level(probability: float | None) -> str | None:
    """RULES §12.2: p ≥ 0.80 low; 0.65–0.79 medium; < 0.65 high."""
    if probability is None:
        return None
    if probability >= 0.80:
        return RiskLevel.LOW
    if probability >= 0.65:
        return RiskLevel.MEDIUM
    return RiskLevel.HIGH


def renewal_status_for_probability(probability: float | None) -> str | None:
    if probability is None:
        return None
    if probability >= 0.80:
        return "on_track"
    if probability >= 0.65:
        return "at_risk"
    return "high_risk"


# --- findings ----------------------------------------------------------------------------------------------


def finding(
    rule_id: str,
    title: str,
    action: str,
    priority: str,
    evidence: dict[str, Any],
    tool_hint: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "rule_id": rule_id,
        "title": title,
        "action": action,
        "priority": str(priority),
        "evidence": evidence,
    }
    if tool_hint:
        item["tool_hint"] = tool_hint
    return item


def _rule_sort_key(rule_id: str) -> tuple[str, int, str]:
    prefix, _, number = rule_id.partition("-")
    return (prefix, int(number) if number.isdigit() else 0, rule_id)


def sort_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Priority critical → low, then rule id (numeric within a prefix), then title for stability."""
    return sorted(
        findings,
        key=lambda f: (Priority.rank(f["priority"]), _rule_sort_key(f["rule_id"]), f["title"]),
    )


def core_findings(
    *,
    client_name: str,
    lifecycle_stage: str,
    has_onboarding_plan: bool | None,
    csm_assigned: str | None,
    primary_contact_email: str,
    has_usage_events: bool | None,
) -> list[dict[str, Any]]:
    """CORE-01…04. ``None`` for a fact means its source is unavailable: that rule is not evaluated."""
    out: list[dict[str, Any]] = []
    if lifecycle_stage == LifecycleStage.ONBOARDING and has_onboarding_plan is False:
        out.append(
            finding(
                "CORE-01",
                "No onboarding plan",
                f"Create an onboarding plan for {client_name}.",
                Priority.HIGH,
                {"lifecycle_stage": lifecycle_stage, "onboarding_plans": 0},
                tool_hint="create_onboarding_plan",
            )
        )
    if not csm_assigned:
        out.append(
            finding(
                "CORE-02",
                "No CSM assigned",
                f"Assign a CSM to {client_name}.",
                Priority.MEDIUM,
                {"csm_assigned": None},
                tool_hint="update_client_info",
            )
        )
    if not primary_contact_email:
        out.append(
            finding(
                "CORE-03",
                "No primary contact e-mail",
                f"Add a primary contact with an e-mail address for {client_name}.",
                Priority.MEDIUM,
                {"primary_contact_email": None},
                tool_hint="update_client_info",
            )
        )
    if has_usage_events is False:
        out.append(
            finding(
                "CORE-04",
                "No usage data",
                f"Connect usage ingestion (RULES §3.2) for {client_name}: no usage event was ever received.",
                Priority.MEDIUM,
                {"usage_events": 0},
                tool_hint="track_usage_engagement",
            )
        )
    return out


HLT01_ACTIONS = {
    "usage": "Run an adoption session and feature enablement.",
    "engagement": "Schedule a CSM touchpoint within 7 days.",
    "support": "Review open and breached tickets.",
    "satisfaction": "Contact detractors.",
    "payment": "Follow up with finance.",
}
COMPONENTS = ("usage", "engagement", "support", "satisfaction", "payment")


def health_findings(
    *,
    health_score: int | None,
    health_trend: str | None,
    components: dict[str, float | None] | None,
    effective_weights: dict[str, float] | None = None,
    top_drivers: list[dict[str, Any]] | None = None,
    churn_level: str | None = None,
    churn_probability: float | None = None,
    risk_level: str | None = None,
    comparison_risk_level: str | None = None,
    risk_threshold: float | None = None,
) -> list[dict[str, Any]]:
    """HLT-01…07 from the latest stored snapshot values (HLT-08 needs survey data:
    :func:`decision_maker_detractor_finding`). ``risk_threshold`` is the caller's threshold for HLT-03
    (``calculate_health_score``'s parameter); without one, the ``at_risk_threshold`` setting."""
    out: list[dict[str, Any]] = []
    comps = components or {}
    for name in COMPONENTS:
        score = comps.get(name)
        if score is not None and score < 60:
            out.append(
                finding(
                    "HLT-01",
                    f"Low {name} component",
                    HLT01_ACTIONS[name],
                    Priority.HIGH if score < 50 else Priority.MEDIUM,
                    {"component": name, "score": round(float(score), 1), "threshold": 60},
                )
            )
    if health_trend == "declining":
        out.append(
            finding(
                "HLT-02",
                "Health declining",
                "Review the top drivers of the health explanation.",
                Priority.HIGH,
                {"health_trend": health_trend, "top_drivers": top_drivers or []},
            )
        )
    threshold = at_risk_threshold() if risk_threshold is None else risk_threshold
    if health_score is not None and health_score < threshold:
        out.append(
            finding(
                "HLT-03",
                "Health below the risk threshold",
                "Open a risk alert and plan an intervention.",
                Priority.CRITICAL if health_score < 50 else Priority.HIGH,
                {"health_score": health_score, "threshold": threshold},
                tool_hint="execute_retention_campaign",
            )
        )
    if risk_level and comparison_risk_level:
        order = list(RiskLevel.values)
        if order.index(risk_level) > order.index(comparison_risk_level):
            out.append(
                finding(
                    "HLT-04",
                    "Risk band worsened",
                    f"Notify the CSM: risk band changed from {comparison_risk_level} to {risk_level}.",
                    Priority.MEDIUM,
                    {"risk_level": risk_level, "comparison_risk_level": comparison_risk_level},
                )
            )
    if components is not None:
        for name in COMPONENTS:
            if comps.get(name) is None:
                out.append(
                    finding(
                        "HLT-05",
                        f"Missing {name} data",
                        f"Connect or record the missing {name} data source.",
                        Priority.LOW,
                        {"component": name},
                    )
                )
        weights = effective_weights or {}
        low = sorted(
            (
                (name, float(score))
                for name, score in comps.items()
                if score is not None and score < 85 and name in weights
            ),
            key=lambda item: item[1],
        )[:3]
        for name, score in low:
            gain = round((85 - score) * float(weights[name]), 2)
            priority = Priority.HIGH if gain >= 10 else Priority.MEDIUM if gain >= 5 else Priority.LOW
            out.append(
                finding(
                    "HLT-06",
                    f"Improve {name}",
                    f"Improve the {name} component: potential gain {gain} health points.",
                    priority,
                    {
                        "component": name,
                        "score": round(score, 1),
                        "effective_weight": weights[name],
                        "potential_gain": gain,
                    },
                )
            )
    if churn_level in (RiskLevel.HIGH, RiskLevel.CRITICAL):
        critical = churn_level == RiskLevel.CRITICAL
        out.append(
            finding(
                "HLT-07",
                "High churn risk" if not critical else "Critical churn risk",
                "Weekly CSM touchpoints plus a retention campaign."
                if critical
                else "Executive outreach and an executive business review.",
                Priority.CRITICAL if critical else Priority.HIGH,
                {"churn_level": churn_level, "churn_probability": churn_probability},
                tool_hint="execute_retention_campaign" if critical else "conduct_executive_review",
            )
        )
    return out


def decision_maker_detractor_finding(detractor: dict[str, Any] | None = None) -> dict[str, Any]:
    """HLT-08: executive call with the respondent. ``detractor`` is what the caller knows of the response
    (score, responded_at, role, respondent_email); it becomes the evidence and names the respondent."""
    detail = dict(detractor or {})
    return finding(
        "HLT-08",
        "Decision-maker detractor",
        f"Hold an executive call with {detail.get('respondent_email') or 'the respondent'}.",
        Priority.HIGH,
        {"decision_maker_detractor": True, **detail},
        tool_hint="conduct_executive_review",
    )


def risk_findings(
    *,
    health_score: int | None,
    days_until_renewal: int | None,
    payment_status: str | None,
    primary_contact_changed_days_ago: int | None,
    days_since_engagement: int | None,
    open_escalations: int | None,
    sla_breaches_30d: int | None,
    detractor_scores: list[int] | None = None,
    decision_maker_detractor: bool | dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """RSK-02…08 and HLT-08 from stored values (RSK-01 is the usage monitor's; it comes via open alerts)."""
    out: list[dict[str, Any]] = []
    if detractor_scores:
        out.append(
            finding(
                "RSK-02",
                "NPS detractor",
                "Follow up with the detractor.",
                Priority.CRITICAL if decision_maker_detractor else Priority.HIGH,
                {"nps_scores": detractor_scores},
            )
        )
    if decision_maker_detractor:
        detail = decision_maker_detractor if isinstance(decision_maker_detractor, dict) else None
        out.append(decision_maker_detractor_finding(detail))
    if sla_breaches_30d is not None and sla_breaches_30d >= 2:
        out.append(
            finding(
                "RSK-03",
                "Repeated SLA breaches",
                "Review support quality with the support lead.",
                Priority.HIGH,
                {"sla_breaches_30d": sla_breaches_30d},
            )
        )
    if payment_status in ("late", "overdue"):
        out.append(
            finding(
                "RSK-04",
                f"Payment {payment_status}",
                "Follow up with finance.",
                Priority.HIGH if payment_status == "overdue" else Priority.MEDIUM,
                {"payment_status": payment_status},
            )
        )
    if (
        days_until_renewal is not None
        and 0 <= days_until_renewal <= 90
        and health_score is not None
        and health_score < 65
    ):
        out.append(
            finding(
                "RSK-05",
                "Renewal at risk",
                "Prepare a renewal save plan.",
                Priority.HIGH,
                {"days_until_renewal": days_until_renewal, "health_score": health_score},
                tool_hint="negotiate_renewals",
            )
        )
    if primary_contact_changed_days_ago is not None and primary_contact_changed_days_ago <= 90:
        out.append(
            finding(
                "RSK-06",
                "Primary contact changed",
                "Meet the new champion and re-confirm the success plan.",
                Priority.HIGH,
                {"primary_contact_changed_days_ago": primary_contact_changed_days_ago},
            )
        )
    if days_since_engagement is not None and days_since_engagement >= 30:
        out.append(
            finding(
                "RSK-07",
                "No engagement for 30 days",
                "Reach out: CSM outreach.",
                Priority.MEDIUM,
                {"days_since_engagement": days_since_engagement},
                tool_hint="send_personalized_email",
            )
        )
    if open_escalations:
        out.append(
            finding(
                "RSK-08",
                "Open escalation",
                "Track the escalation to resolution.",
                Priority.HIGH,
                {"open_escalations": open_escalations},
                tool_hint="manage_escalations",
            )
        )
    return out


def renewal_findings(
    *,
    renewal_probability: float | None,
    days_until_renewal: int | None,
    renewal_open: bool | None,
    auto_renew: bool | None,
    notice_deadline_days: int | None,
    last_completed_ebr_days_ago: int | None,
    value_tier_has_ebr_cadence: bool,
    ebr_data_available: bool,
) -> list[dict[str, Any]]:
    """RNW-02…05 (RNW-01 reminders belong to the renewal job and surface as open alerts)."""
    out: list[dict[str, Any]] = []
    if renewal_probability is not None and renewal_probability < 0.65:
        out.append(
            finding(
                "RNW-02",
                "Low renewal probability",
                "Prepare a renewal save plan.",
                Priority.HIGH,
                {"renewal_probability": renewal_probability},
                tool_hint="negotiate_renewals",
            )
        )
    if (
        ebr_data_available
        and value_tier_has_ebr_cadence
        and days_until_renewal is not None
        and 0 <= days_until_renewal <= 90
        and (last_completed_ebr_days_ago is None or last_completed_ebr_days_ago > 180)
    ):
        out.append(
            finding(
                "RNW-03",
                "No recent EBR before renewal",
                "Schedule an executive business review before the renewal.",
                Priority.MEDIUM,
                {
                    "days_until_renewal": days_until_renewal,
                    "last_completed_ebr_days_ago": last_completed_ebr_days_ago,
                },
                tool_hint="conduct_executive_review",
            )
        )
    if days_until_renewal is not None and days_until_renewal < 0 and renewal_open:
        out.append(
            finding(
                "RNW-04",
                "Renewal date passed",
                "Decide the renewal outcome.",
                Priority.CRITICAL,
                {"days_until_renewal": days_until_renewal},
                tool_hint="track_renewals",
            )
        )
    if auto_renew and notice_deadline_days is not None and 0 <= notice_deadline_days <= 14:
        out.append(
            finding(
                "RNW-05",
                "Auto-renew notice deadline close",
                "Confirm the customer's renewal intent.",
                Priority.HIGH,
                {"notice_deadline_in_days": notice_deadline_days},
            )
        )
    return out
