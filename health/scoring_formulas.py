"""The health score's formulas (RULES §4.2–§5.1) as pure functions of already-gathered values: no query.

Why a module of its own: the chunk scorer (:mod:`health.scoring`), the churn model's training
(:mod:`health.churn_training` compares the model with :func:`heuristic_probability`) and the tools all need the
same arithmetic, and pure functions are testable with known answers without a database. The bands themselves
(RULES §4.5 risk band, §5.1 churn band) have their one home in :mod:`customers.rules`; they are re-exported here
under the engine's names (``risk_band``, ``churn_level``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from cs_project.core.errors import InvalidParameter
from cs_project.core.stats import r, round_half_up
from customers.choices import HealthTrend, PaymentStatus
from customers.rules import churn_level_for_probability as churn_level
from customers.rules import risk_level_for_health as risk_band
from customers.rules import trend_gap_detail as customers_trend_gap_detail

from .choices import CHURN_HEURISTIC_METHOD, COMPONENTS, FORMULA_VERSION
from .common import gap

#: RULES §4.6: only a 30-day lookback with the scorecard's weights is official (stored); others are previews.
OFFICIAL_LOOKBACK_DAYS = 30
SATISFACTION_MIN_WINDOW = 90
ENGAGEMENT_BANDS = ((0, 95.0), (3, 85.0), (7, 75.0), (14, 60.0), (30, 45.0), (90, 30.0))  # (max d, score)
ENGAGEMENT_OLDEST = 15.0
USAGE_SUBSCORES = ("u1", "u2", "u3", "u4")
#: RULES §4.2.3 / §5.2: the ticket priorities that count as "high priority" (support component, churn feature).
HIGH_PRIORITIES = ("P0", "P1")


def respondent_key(email: str | None, fallback: str) -> str:
    """RULES §13.1 "latest response per respondent": the lower-cased, trimmed e-mail, else a per-row fallback
    (an anonymous response counts on its own)."""
    return (email or "").strip().lower() or fallback


_RULES: dict[str, Any] | None = None


def rules() -> dict[str, Any]:
    """``settings.CS_RULES``, read once (it is consulted several times per client; ``settings`` attribute access
    goes through ``LazyObject.__getattribute__``) and re-read when a test overrides it."""
    global _RULES
    if _RULES is None:
        _RULES = settings.CS_RULES
    return _RULES


@receiver(setting_changed)
def _rules_changed(*, setting: str, **kwargs) -> None:
    global _RULES
    if setting == "CS_RULES":
        _RULES = None


def trend_days() -> int:
    """RULES §4.6 ``N`` (``health_trend_days``): the comparison snapshot is searched in [as-of − 2N, as-of − N]."""
    return int(rules()["health_trend_days"])


def trend_gap_detail() -> str:
    """The ``health_trend`` data-gap text (its one home: :func:`customers.rules.trend_gap_detail`) for the N the
    engine searched."""
    return customers_trend_gap_detail(trend_days())


# ----------------------------------------------------------------------------------------------------------
# Component formulas (RULES §4.2)
# ----------------------------------------------------------------------------------------------------------


def usage_score(
    *,
    has_history: bool,
    mau: int,
    seats: int | None,
    core_used: int,
    core_available: int,
    aud_w: int,
    aud_p: int,
    window_days: int,
) -> tuple[float | None, dict[str, Any], list[dict]]:
    """RULES §4.2.1: mean of the computable sub-scores U1–U4; missing without any usage history.

    Every sub-score left null carries its own data gap (``health_metrics.usage.u<n>``, RULES §15.2), so a reader
    of the inputs never meets a silent null."""
    rule = rules()
    gaps: list[dict] = []
    inputs: dict[str, Any] = {
        "mau": mau,
        "seats": seats,
        "core_features_used": core_used,
        "core_features_available": core_available,
        "aud_w": aud_w,
        "aud_p": aud_p,
        "dau_mean": aud_w / window_days if window_days else None,
        **dict.fromkeys(USAGE_SUBSCORES),
    }
    if not has_history:
        return (
            None,
            inputs,
            [
                gap("component_scores.usage", "no_usage_events", "No usage event ever recorded."),
                *(
                    gap(f"health_metrics.usage.{u}", "no_usage_events", "No usage event ever recorded.")
                    for u in USAGE_SUBSCORES
                ),
            ],
        )
    if seats:
        inputs["utilisation"] = mau / seats
        inputs["u1"] = min(1.0, (mau / seats) / rule["usage_full_utilisation"]) * 100
    else:
        gaps.append(gap("health_metrics.usage.u1", "no_seat_data", "No seat count on the active contract."))
    if core_available:
        inputs["core_breadth"] = core_used / core_available
        inputs["u2"] = min(1.0, (core_used / core_available) / rule["usage_full_core_breadth"]) * 100
    else:
        gaps.append(
            gap("health_metrics.usage.u2", "no_catalogue", "No core feature catalogued for the tier.")
        )
    if mau > 0:
        stickiness = (aud_w / window_days) / mau
        inputs["stickiness"] = stickiness
        inputs["u3"] = min(1.0, stickiness / rule["usage_full_stickiness"]) * 100
    else:
        gaps.append(
            gap(
                "health_metrics.usage.u3",
                "not_enough_data",
                "No identified active user in W (MAU = 0): stickiness is undefined.",
            )
        )
    if aud_p > 0:
        change = (aud_w - aud_p) / aud_p
        inputs["aud_change"] = change
        inputs["u4"] = 100.0 if change >= 0 else max(0.0, 100 + 200 * change)
    else:
        gaps.append(gap("health_metrics.usage.u4", "insufficient_history", "No active user-days in P."))
    subs = [inputs[k] for k in USAGE_SUBSCORES if inputs[k] is not None]
    if not subs:
        return None, inputs, [*gaps, gap("component_scores.usage", "not_enough_data", "No usage sub-score.")]
    return sum(subs) / len(subs), inputs, gaps


def engagement_score(days_since: int | None) -> float | None:
    """RULES §4.2.2: recency of the latest engagement event; None when there is none."""
    if days_since is None:
        return None
    for max_days, score in ENGAGEMENT_BANDS:
        if days_since <= max_days:
            return score
    return ENGAGEMENT_OLDEST


def support_score(*, tickets: int, high_priority: int, breached: int, escalations: int) -> float:
    """RULES §4.2.3."""
    return float(
        100
        - min(30, 3 * tickets)
        - min(20, 10 * high_priority)
        - min(30, 10 * breached)
        - min(20, 10 * escalations)
    )


def satisfaction_score(nps_scores: list[float], csat_ratings: list[float]) -> tuple[float | None, dict]:
    """RULES §4.2.4: mean of NPS-based (mean × 10) and CSAT-based ((mean − 1) ÷ 4 × 100) sub-scores."""
    nps = sum(nps_scores) / len(nps_scores) * 10 if nps_scores else None
    csat = (sum(csat_ratings) / len(csat_ratings) - 1) / 4 * 100 if csat_ratings else None
    subs = [s for s in (nps, csat) if s is not None]
    inputs = {
        "nps_responses": len(nps_scores),
        "nps_mean": sum(nps_scores) / len(nps_scores) if nps_scores else None,
        "nps_based": nps,
        "csat_responses": len(csat_ratings),
        "csat_mean": sum(csat_ratings) / len(csat_ratings) if csat_ratings else None,
        "csat_based": csat,
    }
    return (sum(subs) / len(subs) if subs else None), inputs


PAYMENT_PENALTY = {
    PaymentStatus.OVERDUE: 40,
    PaymentStatus.LATE: 20,
    PaymentStatus.PAYMENT_PLAN: 10,
    PaymentStatus.CURRENT: 0,
}


def payment_status_from_invoices(oldest_unpaid_due: dt.date | None, as_of: dt.date) -> str:
    """RULES §2: late = oldest unpaid invoice 1–30 days past due, overdue > 30, else current."""
    if oldest_unpaid_due is None or oldest_unpaid_due >= as_of:
        return PaymentStatus.CURRENT
    return PaymentStatus.OVERDUE if (as_of - oldest_unpaid_due).days > 30 else PaymentStatus.LATE


def payment_score(status: str, late_paid_365: int) -> float:
    """RULES §4.2.5: ``max(0, 100 − S − min(30, 10L))``."""
    return float(max(0, 100 - PAYMENT_PENALTY[status] - min(30, 10 * late_paid_365)))


# ----------------------------------------------------------------------------------------------------------
# Combination, trend, churn heuristic (RULES §4.3–§5.1)
# ----------------------------------------------------------------------------------------------------------


def combine(scores: dict[str, float | None], weights: dict[str, float]) -> dict[str, Any]:
    """RULES §4.3: weighted mean over available components; coverage < min → null score."""
    available = [c for c in COMPONENTS if scores.get(c) is not None]
    coverage = sum(weights[c] for c in available)
    effective = {c: (weights[c] / coverage if c in available and coverage > 0 else None) for c in COMPONENTS}
    raw = sum(effective[c] * scores[c] for c in available) if coverage > 0 else None
    enough = coverage >= rules()["health_min_coverage"] - 1e-9 and raw is not None
    return {
        "raw_score": raw if enough else None,
        "health_score": int(round_half_up(raw)) if enough else None,
        "coverage": coverage,
        "effective_weights": effective,
        "missing_components": [c for c in COMPONENTS if c not in available],
        "low_confidence": bool(enough and coverage < rules()["health_low_confidence_coverage"] - 1e-9),
        "contributions": {c: (effective[c] * scores[c] if c in available else None) for c in COMPONENTS},
    }


def trend_label(delta: int | None) -> str | None:
    """RULES §4.6: ≥ +3 improving, ≤ −3 declining."""
    if delta is None:
        return None
    if delta >= 3:
        return HealthTrend.IMPROVING
    if delta <= -3:
        return HealthTrend.DECLINING
    return HealthTrend.STABLE


def heuristic_probability(health_score: float | None) -> float | None:
    """RULES §5.1 ``p = clamp((100 − H) / 100, 0.05, 0.95)``; also the baseline a trained model must beat."""
    if health_score is None:
        return None
    return min(0.95, max(0.05, (100 - health_score) / 100))


def churn_heuristic(
    health: int | None,
    scores: dict[str, float | None],
    effective: dict[str, float | None],
    coverage: float,
    contract_end: dt.date | None,
) -> dict[str, Any]:
    """RULES §5.1 ``churn-heuristic-v1``."""
    p = heuristic_probability(health)
    drivers = sorted(
        (
            {"component": c, "risk_contribution": (100 - scores[c]) * effective[c]}
            for c in COMPONENTS
            if scores.get(c) is not None and effective.get(c) is not None
        ),
        key=lambda d: -d["risk_contribution"],
    )[:5]
    return {
        "probability": p,
        "risk_level": churn_level(p),
        "method": CHURN_HEURISTIC_METHOD,
        "calibrated": False,
        "horizon_days": None,
        "drivers": drivers,
        "predicted_churn_date": contract_end if (p is not None and p >= 0.5 and contract_end) else None,
        "data_coverage": coverage,
        "model_metrics": None,
    }


# ----------------------------------------------------------------------------------------------------------
# Scorecards and custom weights (RULES §4.3–§4.4)
# ----------------------------------------------------------------------------------------------------------


def select_scorecard(client: dict, scorecards: list) -> Any:
    """RULES §4.4: most specific active match, then lowest priority, then lowest id; else the default."""
    best, best_key = None, None
    default = None
    for card in scorecards:
        if card.is_default:
            default = default or card
            continue
        match = card.match_fields()
        if any(v is not None and client.get(k) != v for k, v in match.items()):
            continue
        key = (-sum(v is not None for v in match.values()), card.priority, card.id)
        if best_key is None or key < best_key:
            best, best_key = card, key
    if best is not None:
        return best
    if default is None:
        raise ImproperlyConfigured("No active default HealthScorecard (RULES §4.4); run the migrations.")
    return default


def validate_weights(weights: dict[str, Any]) -> dict[str, float]:
    """RULES §4.3 custom weights: all five ``<component>_weight`` keys, each 0–1, sum 1.00 ± 0.01."""
    if not isinstance(weights, dict):
        raise InvalidParameter("component_weights must be an object.", field="component_weights")
    expected = {f"{c}_weight" for c in COMPONENTS}
    if set(weights) != expected:
        raise InvalidParameter(
            f"component_weights must contain exactly {sorted(expected)}.", field="component_weights"
        )
    out = {}
    for c in COMPONENTS:
        v = weights[f"{c}_weight"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v <= 1):
            raise InvalidParameter(f"{c}_weight must be a number 0–1.", field=f"component_weights.{c}_weight")
        out[c] = float(v)
    if abs(sum(out.values()) - 1) > 0.01 + 1e-9:
        raise InvalidParameter("component weights must sum to 1.00 ± 0.01.", field="component_weights")
    return out


# ----------------------------------------------------------------------------------------------------------
# Explanation payload (RULES §4.6)
# ----------------------------------------------------------------------------------------------------------


def rounded_inputs(component_inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: (r(v, 4) if isinstance(v, float) else v) for k, v in component_inputs.items()}


def explanation(
    *, card, weights, combo, scores, inputs, comparison, as_of: dt.date, score_change, with_inputs=True
) -> dict[str, Any]:
    """The explanation of one score: per-component contributions, their change since the comparison snapshot
    and the top drivers of that change."""
    prev_scores = comparison["scores"] if comparison else {}
    prev_eff = comparison["effective_weights"] if comparison else {}
    components = []
    for c in COMPONENTS:
        s = scores.get(c)
        eff = combo["effective_weights"].get(c)
        contribution = combo["contributions"].get(c)
        prev_s = prev_scores.get(c) if comparison else None
        prev_w = prev_eff.get(c) if comparison else None
        prev_contribution = prev_s * prev_w if (prev_s is not None and prev_w is not None) else None
        change = None
        if comparison and (contribution is not None or prev_contribution is not None):
            change = (contribution or 0.0) - (prev_contribution or 0.0)
        components.append(
            {
                "component": c,
                "status": "ok" if s is not None else "missing",
                "score": r(s, 1),
                "base_weight": round_half_up(weights[c], 4),
                "effective_weight": r(eff, 4),
                "contribution": r(contribution, 2),
                "previous_score": r(prev_s, 1),
                "previous_contribution": r(prev_contribution, 2),
                "contribution_change": r(change, 2),
            }
        )
        if with_inputs:
            components[-1]["inputs"] = rounded_inputs(inputs[c])
    drivers = sorted(
        (x for x in components if x["contribution_change"] is not None),
        key=lambda x: -abs(x["contribution_change"]),
    )[:3]
    return {
        "formula_version": FORMULA_VERSION,
        "scorecard": {"id": card.id, "name": card.name} if card else None,
        "comparison": (
            {
                "as_of": comparison["as_of"].isoformat(),
                "score": comparison["score"],
                "days_ago": (as_of - comparison["as_of"]).days,
            }
            if comparison
            else None
        ),
        "components": components,
        "missing_components": combo["missing_components"],
        "top_drivers": [
            {"component": x["component"], "contribution_change": x["contribution_change"]} for x in drivers
        ],
        "score_change": score_change,
        "low_confidence": combo["low_confidence"],
    }


EXPLANATION_PREVIOUS_KEYS = ("previous_score", "previous_contribution", "contribution_change")


def explanation_gaps(
    explanation: dict[str, Any] | None, *, prefix: str = "explanation", engine_gaps: Iterable[dict] = ()
) -> list[dict]:
    """The data gaps of the nulls of an explanation payload (RULES §4.6, TOOLS §0.6).

    Built where the payload is read (the tool result, the overview), never by the nightly job: stored snapshots
    keep their explanation as it was stored and the chunk scorer does no extra work. ``engine_gaps`` are the
    engine's own gaps of the same score (``component_scores.<c>``, ``health_metrics.<c>.<input>``); a missing
    component's nulls and a null input take their reason from them. No comparison snapshot → the comparison, the
    score change and every ``previous_*`` / ``contribution_change`` are null for one reason,
    ``insufficient_history``, named once per key with a ``components[]`` path."""
    if not explanation:
        return []
    by_field = {g["field"]: g for g in engine_gaps}
    components = explanation.get("components") or []
    gaps: list[dict] = []
    if "scorecard" in explanation and explanation["scorecard"] is None:
        gaps.append(gap(f"{prefix}.scorecard", "not_applicable", "Custom weights: no scorecard was used."))
    comparison = explanation.get("comparison")
    if comparison is None:  # a key absent from an older, partial payload is no null and needs no gap
        detail = trend_gap_detail()
        gaps.extend(
            gap(f"{prefix}.{key}", "insufficient_history", detail)
            for key in ("comparison", "score_change")
            if key in explanation
        )
        gaps.extend(
            gap(f"{prefix}.components[].{key}", "insufficient_history", detail)
            for key in EXPLANATION_PREVIOUS_KEYS
            if any(key in c for c in components)
        )
    elif "score_change" in explanation and explanation["score_change"] is None:
        gaps.append(
            gap(f"{prefix}.score_change", "not_enough_data", "No health score (coverage below 0.50).")
        )
    for index, component in enumerate(components):
        name = component.get("component")
        path = f"{prefix}.components[{index}]"
        inputs = component.get("inputs") or {}
        if component.get("score") is None:
            engine = by_field.get(f"component_scores.{name}")
            reason = engine["reason"] if engine else "not_enough_data"
            detail = engine["detail"] if engine else f"{name} could not be computed."
            gaps.extend(
                gap(f"{path}.{key}", reason, detail)
                for key in ("score", "effective_weight", "contribution")
                if key in component and component[key] is None
            )
            if any(value is None for value in inputs.values()):
                gaps.append(gap(f"{path}.inputs", reason, detail))
                inputs = {}  # named once, for the reason the whole component is missing
        if comparison is not None:
            for key in EXPLANATION_PREVIOUS_KEYS:
                if key in component and component[key] is None:
                    gaps.append(
                        gap(
                            f"{path}.{key}",
                            "not_enough_data",
                            f"{name} was missing in the comparison snapshot of {comparison.get('as_of')}.",
                        )
                    )
        for key, value in inputs.items():
            engine = by_field.get(f"health_metrics.{name}.{key}")
            if value is None and engine is not None:
                gaps.append(gap(f"{path}.inputs.{key}", engine["reason"], engine["detail"]))
    return gaps


def stored_explanation(explanation: dict[str, Any]) -> dict[str, Any]:
    """The explanation as stored: component inputs live once, in ``HealthSnapshot.inputs``."""
    components = explanation["components"]
    if not any("inputs" in c for c in components):
        return explanation
    return {**explanation, "components": [{k: v for k, v in c.items() if k != "inputs"} for c in components]}


def snapshot_explanation(snapshot) -> dict[str, Any]:
    """The full explanation payload of a stored snapshot (RULES §4.6), inputs re-attached."""
    explanation = dict(snapshot.explanation or {})
    inputs = snapshot.inputs or {}
    explanation["components"] = [
        {**c, "inputs": rounded_inputs(inputs.get(c["component"], {}))}
        for c in explanation.get("components", [])
    ]
    return explanation


__all__ = [
    "churn_heuristic",
    "churn_level",
    "combine",
    "engagement_score",
    "explanation",
    "explanation_gaps",
    "heuristic_probability",
    "payment_score",
    "payment_status_from_invoices",
    "risk_band",
    "rules",
    "satisfaction_score",
    "select_scorecard",
    "snapshot_explanation",
    "stored_explanation",
    "support_score",
    "trend_label",
    "usage_score",
    "validate_weights",
]
