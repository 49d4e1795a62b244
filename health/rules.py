"""Pure health rules (RULES §3.4): usage trend, feature adoption stage, user cohorts. No ORM: one home each."""

from __future__ import annotations

import datetime as dt

from cs_project.core.stats import rate_change, round_half_up


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


# --- part B: feature co-usage, lifecycle LC-02 / LC-06 (used by manage_lifecycle_stages and the automation)

#: LC-06 constants (RULES §7.2; not configurable, RULES §1). Read at call time by both lifecycle paths.
EXPANSION_HEALTH = 85
EXPANSION_SEAT_UTILISATION = 0.90


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
