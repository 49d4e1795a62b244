"""Pure health rules (RULES §3.4): usage trend, feature adoption stage, user cohorts. No ORM: one home each."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cs_project.core.stats import r, rate_change


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
