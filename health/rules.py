"""Pure health rules and formulas: usage trend, feature adoption stage, user cohorts (RULES §3.4); buckets,
projections, risk indicators, churn drivers and the usage findings of the health tools. No ORM: one home each."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any

from cs_project.core.stats import clamp, r, rate_change, round_half_up
from customers.choices import LifecycleStage, PaymentStatus, Priority, RiskLevel
from customers.rules import finding, risk_level_for_health
from expansion.choices import OPEN_RENEWAL_STATUSES

from .choices import COMPONENTS


def trend_10pct(new: float | None, old: float | None) -> str | None:
    """RULES §3.4 usage trend: ≥ +10 % increasing, ≤ −10 % decreasing, else stable; P empty → None."""
    change = rate_change(new, old)
    if change is None:
        return None
    if change >= 0.10 - 1e-12:
        return "increasing"
    if change <= -0.10 + 1e-12:
        return "decreasing"
    return "stable"


def adoption_stage(dates: list[dt.date], client_active_days: int) -> str:
    """RULES §3.4 feature adoption stage over a window."""
    n = len(set(dates))
    if n == 0:
        return "not_used"
    if n >= 3 and n >= 0.5 * client_active_days:
        return "power"
    weeks = {d.isocalendar()[:2] for d in dates}
    if n >= 3 and len(weeks) >= 2:
        return "regular"
    return "tried"


def user_cohorts(rows: list[dict], window_days: int) -> dict[str, list[str]]:
    """RULES §3.4 (first match wins) from per-user counts ``w`` (active days in W), ``p`` (in P) and
    ``before`` (active days in the 90 days before W)."""
    out: dict[str, list[str]] = {"power": [], "regular": [], "at_risk": [], "inactive": []}
    for row in sorted(rows, key=lambda x: x["user_id"]):
        w, p, before = row["w"], row["p"], row["before"]
        if w == 0 and before > 0:
            out["inactive"].append(row["user_id"])
        elif p > 0 and w <= 0.5 * p:
            out["at_risk"].append(row["user_id"])
        elif w > 0 and w >= 0.5 * window_days:
            out["power"].append(row["user_id"])
        elif w > 0:
            out["regular"].append(row["user_id"])
    return out


# --- part A
# Pure pieces of track_usage_engagement, calculate_health_score, analyze_health_trends and
# generate_health_reports.


def churn_driver_out(driver: dict[str, Any]) -> dict[str, Any]:
    """One churn driver as published. Each churn path keeps its own shape (RULES §5): the heuristic's
    ``{component, risk_contribution}`` (§5.1, risk points, 2 decimals) and the trained model's
    ``{feature, value, standardised_value, contribution, direction}`` (§5.2, 4 decimals)."""
    if "component" in driver:
        return {"component": driver["component"], "risk_contribution": r(driver["risk_contribution"], 2)}
    return {
        "feature": driver["feature"],
        "value": r(driver["value"], 4),
        "standardised_value": r(driver["standardised_value"], 4),
        "contribution": r(driver["contribution"], 4),
        "direction": driver["direction"],
    }


def churn_driver_name(driver: dict[str, Any]) -> str | None:
    """What a driver is about, whichever path produced it: the component (heuristic) or the feature (model)."""
    return driver.get("component") or driver.get("feature")


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def trunc_date(day: dt.date, granularity: str) -> dt.date:
    """Start of the daily / weekly (ISO, Monday) / monthly bucket holding ``day``."""
    if granularity == "weekly":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "monthly":
        return day.replace(day=1)
    return day


def next_bucket(b: dt.date, granularity: str) -> dt.date:
    if granularity == "weekly":
        return b + dt.timedelta(days=7)
    if granularity == "monthly":
        return (b.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return b + dt.timedelta(days=1)


def bucket_starts(start: dt.date, end: dt.date, granularity: str) -> list[dt.date]:
    """Every bucket start from the one holding ``start`` to the one holding ``end`` (the first may precede
    ``start``: callers print ``max(bucket, start)``)."""
    out, b = [], trunc_date(start, granularity)
    while b <= end:
        out.append(b)
        b = next_bucket(b, granularity)
    return out


def report_period(period: str, end: dt.date) -> tuple[dt.date, dt.date]:
    """``7d`` / ``30d`` / ``90d`` = the N whole days ending ``end`` (RULES §1); ``qtd`` / ``ytd`` from the first
    day of the quarter / year."""
    if period == "qtd":
        return dt.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end
    if period == "ytd":
        return dt.date(end.year, 1, 1), end
    return end - dt.timedelta(days=int(period.removesuffix("d")) - 1), end


def projected_point(fit: dict[str, float], x: float) -> dict[str, float | None]:
    """One projected score of an OLS fit (RULES §4.7): clamped 0–100, 95 % band ± 1.96 × residual std error."""
    y = fit["intercept"] + fit["slope"] * x
    band = 1.96 * fit["se"]
    return {"score": r(clamp(y), 1), "lower": r(clamp(y - band), 1), "upper": r(clamp(y + band), 1)}


def risk_indicators(
    *,
    components: dict[str, float | None],
    trend: str | None,
    score_change: int | None,
    payment_status: str | None,
    detractor: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """RULES §4.7 risk indicators, in a fixed order (components, trend, detractor, payment)."""
    out = []
    for c in COMPONENTS:
        s = components.get(c)
        if s is not None and s < 70:
            out.append(
                {
                    "indicator": f"component_low:{c}",
                    "severity": "high" if s < 50 else "medium",
                    "evidence": {"component": c, "score": r(s, 1)},
                }
            )
    if trend == "declining":
        out.append(
            {"indicator": "trend_declining", "severity": "high", "evidence": {"score_change": score_change}}
        )
    if detractor:
        out.append({"indicator": "decision_maker_detractor", "severity": "high", "evidence": detractor})
    if payment_status in ("late", "overdue"):
        out.append(
            {
                "indicator": "payment_issue",
                "severity": "high" if payment_status == "overdue" else "medium",
                "evidence": {"payment_status": payment_status},
            }
        )
    return out


def contributing_factors(components: dict[str, float | None]) -> dict[str, list[dict[str, Any]]]:
    """TOOLS §3.2: components ≥ 80 positive, < 60 negative, otherwise neutral (missing ones are left out)."""
    out: dict[str, list[dict[str, Any]]] = {
        "positive_factors": [],
        "negative_factors": [],
        "neutral_factors": [],
    }
    for c in COMPONENTS:
        s = components.get(c)
        if s is None:
            continue
        key = "positive_factors" if s >= 80 else "negative_factors" if s < 60 else "neutral_factors"
        out[key].append({"component": c, "score": r(s, 1)})
    return out


def portfolio_bucket(scores: list[int | None]) -> dict[str, Any]:
    """Mean, median, count and RULES §4.5 band distribution of the health scores of one bucket."""
    scored = [s for s in scores if s is not None]
    dist = {str(b): 0 for b in RiskLevel.values}
    for s in scored:
        dist[str(risk_level_for_health(s))] += 1
    return {
        "avg_score": r(sum(scored) / len(scored), 1) if scored else None,
        "median_score": r(statistics.median(scored), 1) if scored else None,
        "clients_scored": len(scored),
        "band_distribution": dist,
    }


def usage_drop_finding(last7: int, prev7: int) -> dict[str, Any] | None:
    """RSK-01: active user-days of the last 7 days ≤ −30 % of the 7 before, which had ≥ 5."""
    if prev7 < 5 or (last7 - prev7) / prev7 > -0.30 + 1e-12:
        return None
    return finding(
        "RSK-01",
        "Usage drop",
        f"Review the usage drop: active user-days {prev7} → {last7} over the last 7 days.",
        Priority.HIGH,
        {"aud_last_7d": last7, "aud_previous_7d": prev7, "change_rate": r((last7 - prev7) / prev7, 4)},
    )


CORE_BREADTH_TARGET = 0.70


def core_breadth_finding(breadth: float, unused: list[str]) -> dict[str, Any] | None:
    """ADP-02: one client's core-feature breadth below 70 %."""
    if breadth >= CORE_BREADTH_TARGET:
        return None
    return finding(
        "ADP-02",
        "Low core feature breadth",
        f"Enable the unused core features: {', '.join(unused)}.",
        Priority.MEDIUM,
        {"core_breadth": r(breadth, 4), "threshold": CORE_BREADTH_TARGET, "unused_core_features": unused},
    )


def low_adoption_finding(feature_key: str, rate: float, threshold: float) -> dict[str, Any]:
    """ADP-03: a feature's adoption rate below the threshold."""
    return finding(
        "ADP-03",
        f"Low adoption of {feature_key}",
        f"Run a feature enablement campaign for {feature_key}.",
        Priority.LOW,
        {"feature_key": feature_key, "adoption_rate": r(rate, 4), "threshold": threshold},
    )


def top_user_share(counts: list[int]) -> float | None:
    """PAT-02 condition: with ≥ 3 active users, the top user's share of activity when it is ≥ 50 %, else None."""
    total = sum(counts)
    if len(counts) < 3 or not total:
        return None
    share = max(counts) / total
    return share if share >= 0.5 else None


def null_column_gaps(rows: list[dict], path: str, reasons: dict[str, tuple[str, str]], gaps: list) -> None:
    """One data gap (RULES §15.2) per column that is null in at least one row: ``<path>.<column>`` with the
    column's reason and detail from ``reasons``."""
    for column, (reason, detail) in reasons.items():
        if any(column in row and row[column] is None for row in rows):
            gaps.append({"field": f"{path}.{column}", "reason": reason, "detail": detail})


# --- part B: feature co-usage, lifecycle LC-02 / LC-06 (used by manage_lifecycle_stages and the automation)

# RULES §7.2 constants (not configurable: RULES §1 "nothing else is configurable"). LC-02's threshold is the
# at-risk setting (customers.rules.at_risk_threshold), passed in. Both lifecycle paths (the nightly automation
# and manage_lifecycle_stages' analysis) read these at call time.
RECOVERY_HEALTH = 65  # LC-03: health ≥ 65 on the last 2 official snapshots
EXPANSION_HEALTH = 85  # LC-06
EXPANSION_SEAT_UTILISATION = 0.90  # LC-06
LC06_OPPORTUNITY_STAGES = ("qualified", "proposal", "negotiation")  # LC-06: open, stage ≥ qualified
RENEWAL_WINDOW_DAYS = 90  # LC-04 / LC-05 (RULES §20 "renewal stage trigger")
ONBOARDING_MIN_DAYS = 90  # LC-01 without a plan
RENEWAL_OVERDUE_DAYS = 30  # LC-07
#: precedence when several rules apply (RULES §7.2): lower wins
STAGE_PRECEDENCE = {
    LifecycleStage.AT_RISK: 0,
    LifecycleStage.RENEWAL: 1,
    LifecycleStage.EXPANSION: 2,
    LifecycleStage.ACTIVE: 3,
}


def jaccard_pairs(sets: dict[str, set], top: int = 10) -> list[dict]:
    """Feature pairs by Jaccard similarity of their user (or client) sets, highest first, at most ``top``."""
    keys = sorted(k for k, v in sets.items() if v)
    pairs = []
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            inter = len(sets[a] & sets[b])
            if inter:
                pairs.append(
                    {
                        "features": [a, b],
                        "jaccard": round_half_up(inter / len(sets[a] | sets[b]), 4),
                        "co_users": inter,
                    }
                )
    return sorted(pairs, key=lambda p: (-p["jaccard"], p["features"]))[:top]


def lc02_reasons(
    *, health: float | None, payment_overdue: bool, critical_escalation: bool, threshold: float
) -> list[str]:
    """LC-02 (RULES §7.2): the conditions that hold, in a fixed order; empty = the rule does not hold.

    ``threshold`` is the at-risk threshold (``customers.rules.at_risk_threshold()``), passed by the caller so the
    rule stays pure; both the analysis and the nightly automation pass the same setting."""
    reasons = []
    if health is not None and health < threshold:
        reasons.append("health_below_threshold")
    if payment_overdue:
        reasons.append("payment_overdue")
    if critical_escalation:
        reasons.append("critical_escalation")
    return reasons


def lc06_holds(*, health: float | None, qualified_opportunities: int, seat_utilisation: float | None) -> bool:
    """LC-06 (RULES §7.2): health ≥ 85 and (an open expansion opportunity ≥ qualified or seat utilisation
    ≥ 0.90). The stage condition (currently ``active``) is the caller's."""
    if health is None or health < EXPANSION_HEALTH:
        return False
    if qualified_opportunities > 0:
        return True
    return seat_utilisation is not None and seat_utilisation >= EXPANSION_SEAT_UTILISATION - 1e-12


@dataclass
class ClientFacts:
    """What the §7.2 rules read about one client (from the scoring result and the nightly chunk's queries)."""

    pk: int
    client_id: str
    stage: str
    tier: str
    owner_id: int | None
    health: int | None = None
    payment_status: str | None = None
    seat_utilisation: float | None = None
    first_start: dt.date | None = None
    contract_end: dt.date | None = None
    plan_status: str | None = None  # latest non-cancelled onboarding plan's status; None = no plan
    m2_achieved_on: dt.date | None = None
    critical_escalations: list[str] = field(default_factory=list)
    renewals: list[tuple[str, str, dt.date]] = field(default_factory=list)  # (id, status, date) by date
    qualified_opportunities: int = 0
    previous_as_of: dt.date | None = None
    previous_health: int | None = None


def lc04_holds(f: ClientFacts, as_of: dt.date) -> bool:
    """LC-04: contract end within 90 days (or already passed) and the renewal of that term not won."""
    if f.contract_end is None or (f.contract_end - as_of).days > RENEWAL_WINDOW_DAYS:
        return False
    return not any(status == "won" and day >= f.contract_end for _, status, day in f.renewals)


def lc05_renewal(f: ClientFacts, as_of: dt.date) -> str | None:
    """LC-05: the renewal id when the latest renewal is won, none is open and the end date is beyond 90 days."""
    if not f.renewals or any(status in OPEN_RENEWAL_STATUSES for _, status, _ in f.renewals):
        return None
    rid, status, _ = f.renewals[-1]
    if status != "won" or f.contract_end is None or (f.contract_end - as_of).days <= RENEWAL_WINDOW_DAYS:
        return None
    return rid


def _lc01(f: ClientFacts, as_of: dt.date) -> tuple[str, dict[str, Any]] | None:
    """LC-01: (reason, evidence) when the onboarding plan is completed, or there is no plan, m2 is achieved
    and the first contract started ≥ 90 days ago."""
    if f.plan_status == "completed":
        return "onboarding plan completed", {"plan_status": f.plan_status}
    if f.plan_status is None and f.m2_achieved_on and f.first_start:
        days = (as_of - f.first_start).days
        if days >= ONBOARDING_MIN_DAYS:
            return (
                f"no onboarding plan, first value (m2) on {f.m2_achieved_on}, contract start {days} days ago",
                {
                    "m2_achieved_on": f.m2_achieved_on.isoformat(),
                    "contract_start": f.first_start.isoformat(),
                    "days_since_start": days,
                },
            )
    return None


def _lc03_holds(f: ClientFacts, lc02: list[str]) -> bool:
    """LC-03: LC-02 no longer holds and health ≥ 65 on the last 2 official snapshots."""
    return (
        not lc02
        and f.health is not None
        and f.health >= RECOVERY_HEALTH
        and f.previous_health is not None
        and f.previous_health >= RECOVERY_HEALTH
    )


def lifecycle_candidates(f: ClientFacts, as_of: dt.date, threshold: float) -> list[dict[str, Any]]:
    """Every §7.2 transition rule that holds for the client's current stage: ``{rule_id, to_stage, reason,
    evidence}``; ``threshold`` is the at-risk setting. :func:`pick_transition` applies the precedence."""
    stage, out = f.stage, []
    base = {"from_stage": stage, "health_score": f.health, "as_of": as_of.isoformat()}

    def add(rule_id: str, to: str, reason: str, **evidence: Any) -> None:
        out.append(
            {
                "rule_id": rule_id,
                "to_stage": to,
                "reason": f"{rule_id}: {reason}",
                "evidence": {**base, "to_stage": to, "rule_id": rule_id, **evidence},
            }
        )

    at_risk = lc02_reasons(
        health=f.health,
        payment_overdue=f.payment_status == PaymentStatus.OVERDUE,
        critical_escalation=bool(f.critical_escalations),
        threshold=threshold,
    )
    lc04 = lc04_holds(f, as_of)
    end = f.contract_end.isoformat() if f.contract_end else None
    days_to_end = (f.contract_end - as_of).days if f.contract_end else None
    if stage == LifecycleStage.ONBOARDING and (lc01 := _lc01(f, as_of)):
        add("LC-01", LifecycleStage.ACTIVE, lc01[0], **lc01[1])
    if stage in (LifecycleStage.ACTIVE, LifecycleStage.EXPANSION, LifecycleStage.RENEWAL) and at_risk:
        parts = {
            "health_below_threshold": f"health {f.health} < {threshold:g}",
            "payment_overdue": "payment overdue",
            "critical_escalation": "open critical escalation",
        }
        add(
            "LC-02",
            LifecycleStage.AT_RISK,
            "; ".join(parts[x] for x in at_risk),
            conditions=at_risk,
            threshold=threshold,
            payment_status=f.payment_status,
            critical_escalations=f.critical_escalations,
        )
    if stage == LifecycleStage.AT_RISK and _lc03_holds(f, at_risk):
        to = LifecycleStage.RENEWAL if lc04 else LifecycleStage.ACTIVE
        add(
            "LC-03",
            to,
            f"health {f.health} and {f.previous_health} (≥ {RECOVERY_HEALTH}) on the last 2 official snapshots"
            + (f", contract end {end} within {RENEWAL_WINDOW_DAYS} days" if lc04 else ""),
            previous_health_score=f.previous_health,
            previous_as_of=f.previous_as_of.isoformat() if f.previous_as_of else None,
            contract_end_date=end,
        )
    if stage in (LifecycleStage.ACTIVE, LifecycleStage.EXPANSION) and lc04:
        add(
            "LC-04",
            LifecycleStage.RENEWAL,
            f"contract end {end} in {days_to_end} days, renewal not won",
            contract_end_date=end,
            days_to_end=days_to_end,
        )
    if stage == LifecycleStage.RENEWAL and (rid := lc05_renewal(f, as_of)):
        add(
            "LC-05",
            LifecycleStage.ACTIVE,
            f"renewal {rid} won, contract end {end}",
            renewal_id=rid,
            contract_end_date=end,
        )
    if stage == LifecycleStage.ACTIVE and lc06_holds(
        health=f.health,
        qualified_opportunities=f.qualified_opportunities,
        seat_utilisation=f.seat_utilisation,
    ):
        n = f.qualified_opportunities
        why = (
            f"{n} qualified expansion opportunit{'y' if n == 1 else 'ies'}"
            if n
            else f"seat utilisation {f.seat_utilisation:.2f}"
        )
        add(
            "LC-06",
            LifecycleStage.EXPANSION,
            f"health {f.health} ≥ {EXPANSION_HEALTH} and {why}",
            qualified_opportunities=n,
            seat_utilisation=round(f.seat_utilisation, 4) if f.seat_utilisation is not None else None,
        )
    return [c for c in out if c["to_stage"] != LifecycleStage.CHURNED]


def pick_transition(candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """RULES §7.2 precedence: at_risk > renewal > expansion > active."""
    if not candidates:
        return None
    return min(candidates, key=lambda c: STAGE_PRECEDENCE[c["to_stage"]])


def renewal_overdue(f: ClientFacts, as_of: dt.date) -> dict[str, Any] | None:
    """LC-07: the oldest open renewal whose date passed more than 30 days ago."""
    for rid, status, day in f.renewals:
        if status in OPEN_RENEWAL_STATUSES and (as_of - day).days > RENEWAL_OVERDUE_DAYS:
            return {
                "renewal_id": rid,
                "renewal_date": day.isoformat(),
                "days_overdue": (as_of - day).days,
                "contract_end_date": f.contract_end.isoformat() if f.contract_end else None,
                "as_of": as_of.isoformat(),
            }
    return None


def milestone_status(elapsed_days: int | None, typical_days: int) -> str | None:
    """RULES §8 status of a milestone not (yet) achieved: on_track / overdue (> typical) / stuck (> 1.5 ×);
    None without a contract start."""
    if elapsed_days is None:
        return None
    if elapsed_days > 1.5 * typical_days:
        return "stuck"
    if elapsed_days > typical_days:
        return "overdue"
    return "on_track"


# SEG-01 / SEG-02 (RULES §18), applied by segment_customers (per segment) and segment_by_value_tier (per tier)
SEG01_HEALTH = 65
SEG02_SHARE = 0.20
HIGH_TOUCH_CADENCES = ("weekly", "every_2_weeks")


def seg01_holds(mean_health: float | None) -> bool:
    """SEG-01: the group's mean health is below 65 (no scored member: does not hold)."""
    return mean_health is not None and mean_health < SEG01_HEALTH


def seg02_holds(*, touch_cadence: str | None, without_csm: int, members: int) -> bool:
    """SEG-02: a high-touch group (weekly / every 2 weeks) with more than 20 % of its members without a CSM."""
    return touch_cadence in HIGH_TOUCH_CADENCES and members > 0 and without_csm / members > SEG02_SHARE
