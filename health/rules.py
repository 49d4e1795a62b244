"""Pure health rules and formulas: usage trend, feature adoption stage, user cohorts (RULES §3.4); buckets,
projections, risk indicators, churn drivers and the usage findings of the health tools. No ORM: one home each."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from cs_project.core.stats import clamp, r, rate_change
from customers.choices import Priority, RiskLevel
from customers.rules import finding, risk_level_for_health

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
