"""Health scoring (RULES §4–§5.1): one implementation of every formula, run set-based over a chunk of clients.

``score_chunk(client_ids, as_of)`` computes every component's inputs for the whole chunk with a fixed number
of aggregate queries (GROUP BY client over roll-ups, tickets, escalations, surveys, invoices, timeline), does
the arithmetic per client in memory and, for official calculations, bulk-upserts the day's snapshots and churn
predictions and bulk-updates the Client cache. The number of queries does not depend on the chunk size.
``score_client`` is the same function called with one id.

Pure formula helpers (``usage_score``, ``engagement_score``, ``support_score``, ``satisfaction_score``,
``payment_score``, ``combine``, ``risk_band``, ``trend_label``, ``churn_heuristic``) are importable alone.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.dispatch import receiver
from django.utils import timezone

from cs_project.core.bulk import bound_cursor, rows_update
from cs_project.core.errors import InvalidParameter, NotFound
from cs_project.core.stats import round_half_up
from customers.choices import AccountStatus, ContractStatus, HealthTrend, PaymentStatus, RiskLevel, Tier
from customers.models import Client, Contract, IntegrationCredential, Invoice, TimelineEvent

from .choices import CHURN_HEURISTIC_METHOD, COMPONENTS, FORMULA_VERSION
from .models import (
    ChurnPrediction,
    ClientUsageDaily,
    Feature,
    FeatureUsageDaily,
    HealthScorecard,
    HealthSnapshot,
    UserActivityDaily,
)
from .rollups import ANON_PREFIX, day_bounds, ensure_fresh, local_date
from .selectors import optional_model

OFFICIAL_LOOKBACK_DAYS = 30
SATISFACTION_MIN_WINDOW = 90
INTEGRATION_STALE_AFTER = dt.timedelta(hours=24)
ENGAGEMENT_BANDS = ((0, 95.0), (3, 85.0), (7, 75.0), (14, 60.0), (30, 45.0), (90, 30.0))  # (max d, score)
ENGAGEMENT_OLDEST = 15.0


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


def _r(value: float | None, places: int) -> float | None:
    return None if value is None else round_half_up(value, places)


def _gap(field_path: str, reason: str, detail: str) -> dict[str, str]:
    return {"field": field_path, "reason": reason, "detail": detail}


# ----------------------------------------------------------------------------------------------------------
# Component formulas (RULES §4.2) — pure functions of the gathered inputs
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
    """RULES §4.2.1: mean of the computable sub-scores U1–U4; missing without any usage history."""
    r = rules()
    gaps: list[dict] = []
    inputs: dict[str, Any] = {
        "mau": mau,
        "seats": seats,
        "core_features_used": core_used,
        "core_features_available": core_available,
        "aud_w": aud_w,
        "aud_p": aud_p,
        "dau_mean": aud_w / window_days if window_days else None,
        "u1": None,
        "u2": None,
        "u3": None,
        "u4": None,
    }
    if not has_history:
        return (
            None,
            inputs,
            [_gap("component_scores.usage", "no_usage_events", "No usage event ever recorded.")],
        )
    if seats:
        inputs["utilisation"] = mau / seats
        inputs["u1"] = min(1.0, (mau / seats) / r["usage_full_utilisation"]) * 100
    else:
        gaps.append(_gap("health_metrics.usage.u1", "no_seat_data", "No seat count on the active contract."))
    if core_available:
        inputs["core_breadth"] = core_used / core_available
        inputs["u2"] = min(1.0, (core_used / core_available) / r["usage_full_core_breadth"]) * 100
    else:
        gaps.append(
            _gap("health_metrics.usage.u2", "no_catalogue", "No core feature catalogued for the tier.")
        )
    if mau > 0:
        stickiness = (aud_w / window_days) / mau
        inputs["stickiness"] = stickiness
        inputs["u3"] = min(1.0, stickiness / r["usage_full_stickiness"]) * 100
    if aud_p > 0:
        change = (aud_w - aud_p) / aud_p
        inputs["aud_change"] = change
        inputs["u4"] = 100.0 if change >= 0 else max(0.0, 100 + 200 * change)
    else:
        gaps.append(_gap("health_metrics.usage.u4", "insufficient_history", "No active user-days in P."))
    subs = [inputs[k] for k in ("u1", "u2", "u3", "u4") if inputs[k] is not None]
    if not subs:
        return None, inputs, [*gaps, _gap("component_scores.usage", "not_enough_data", "No usage sub-score.")]
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
# Combination, bands, trend, churn (RULES §4.3–§5.1)
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


def risk_band(score: float | None) -> str | None:
    """RULES §4.5."""
    if score is None:
        return None
    if score >= 80:
        return RiskLevel.LOW
    if score >= 65:
        return RiskLevel.MEDIUM
    if score >= 50:
        return RiskLevel.HIGH
    return RiskLevel.CRITICAL


def trend_label(delta: int | None) -> str | None:
    """RULES §4.6: ≥ +3 improving, ≤ −3 declining."""
    if delta is None:
        return None
    if delta >= 3:
        return HealthTrend.IMPROVING
    if delta <= -3:
        return HealthTrend.DECLINING
    return HealthTrend.STABLE


def churn_level(p: float | None) -> str | None:
    """RULES §5.1 bands 0.25 / 0.50 / 0.75."""
    if p is None:
        return None
    if p >= 0.75:
        return RiskLevel.CRITICAL
    if p >= 0.50:
        return RiskLevel.HIGH
    if p >= 0.25:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def churn_heuristic(
    health: int | None,
    scores: dict[str, float | None],
    effective: dict[str, float | None],
    coverage: float,
    contract_end: dt.date | None,
) -> dict[str, Any]:
    """RULES §5.1 ``churn-heuristic-v1``."""
    p = None if health is None else min(0.95, max(0.05, (100 - health) / 100))
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
# Input gathering: a fixed handful of GROUP BY client queries per chunk
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Window:
    as_of: dt.date
    days: int
    w_start: dt.date = field(init=False)
    p_start: dt.date = field(init=False)
    sat_start: dt.date = field(init=False)
    end: dt.datetime = field(init=False)  # exclusive end instant of the as-of day, capped at now
    w_start_at: dt.datetime = field(init=False)

    def __post_init__(self):
        self.w_start = self.as_of - dt.timedelta(days=self.days - 1)
        self.p_start = self.w_start - dt.timedelta(days=self.days)
        self.sat_start = self.as_of - dt.timedelta(days=max(self.days, SATISFACTION_MIN_WINDOW) - 1)
        self.end = min(day_bounds(self.as_of)[1], timezone.now())
        self.w_start_at = day_bounds(self.w_start)[0]


_TIER_RANKS: dict[str, int] = {}


def _tier_rank(tier: str) -> int:
    """Tier.rank (0 when unknown), memoised: it is called per client and per core feature."""
    rank = _TIER_RANKS.get(tier)
    if rank is None:
        try:
            rank = Tier.rank(tier)
        except ValueError:
            rank = 0
        _TIER_RANKS[tier] = rank
    return rank


def gather_inputs(client_ids: list[int], win: Window) -> dict[str, Any]:
    """Everything the formulas need for a chunk, keyed by client pk; query count independent of chunk size."""
    ids = list(client_ids)
    out: dict[str, Any] = {}

    # W + P only (not the whole history); "any usage ever" is looked up separately, and only for the clients
    # without an event day in W + P — two queries for any chunk, reading no older roll-up row than needed.
    out["usage"] = {
        r["client_id"]: r
        for r in ClientUsageDaily.objects.filter(
            client_id__any=ids, date__gte=win.p_start, date__lte=win.as_of
        )
        .order_by()  # Meta.ordering would join Client for nothing
        .values("client_id")
        .annotate(
            days_with_events=Count("date", filter=Q(events__gt=0)),  # date: index-only scan
            aud_w=Sum("active_users", filter=Q(date__gte=win.w_start)),
            aud_p=Sum("active_users", filter=Q(date__lt=win.w_start)),
        )
    }
    quiet = [cid for cid in ids if not (out["usage"].get(cid) or {}).get("days_with_events")]
    older = set(
        ClientUsageDaily.objects.filter(client_id__any=quiet, date__lt=win.p_start, events__gt=0)
        .order_by()
        .values_list("client_id", flat=True)
        .distinct()
        if quiet
        else ()
    )
    out["has_usage_history"] = {
        cid for cid in ids if cid in older or (out["usage"].get(cid) or {}).get("days_with_events")
    }
    out["mau"] = dict(
        UserActivityDaily.objects.filter(
            client_id__any=ids, date__gte=win.w_start, date__lte=win.as_of, counting_events__gt=0
        )
        .exclude(user_id__startswith=ANON_PREFIX)
        .order_by()
        .values("client_id")
        .annotate(n=Count("user_id", distinct=True))
        .values_list("client_id", "n")
    )
    core = list(
        Feature.objects.filter(is_core=True, active=True).values_list(
            "feature_key", "min_tier", "counts_as_activity"
        )
    )
    out["core_features"] = core
    counting_core = [k for k, _, counting in core if counting]
    used: dict[int, set[str]] = defaultdict(set)
    if counting_core:
        for cid, key in (
            FeatureUsageDaily.objects.filter(
                client_id__any=ids,
                date__gte=win.w_start,
                date__lte=win.as_of,
                feature_key__in=counting_core,
                events__gt=0,
            )
            .order_by()
            .values_list("client_id", "feature_key")
            .distinct()
        ):
            used[cid].add(key)
    out["core_used"] = used

    contracts: dict[int, dict] = {}
    for row in (
        Contract.objects.filter(client_id__any=ids, status=ContractStatus.ACTIVE, start_date__lte=win.as_of)
        .order_by("client_id", "-start_date", "-id")
        .values("client_id", "included_users", "payment_status", "payment_status_manual", "end_date")
    ):
        contracts.setdefault(row["client_id"], row)
    out["contracts"] = contracts

    # Engagement (RULES §4.2.2): latest of timeline engagement, portal activity, e-mail clicks.
    latest: dict[int, dt.datetime] = {}

    def _merge(pairs):
        for cid, moment in pairs:
            if moment is not None and (cid not in latest or moment > latest[cid]):
                latest[cid] = moment

    _merge(
        TimelineEvent.objects.filter(client_id__any=ids, counts_as_engagement=True, occurred_at__lt=win.end)
        .values("client_id")
        .annotate(m=Max("occurred_at"))
        .values_list("client_id", "m")
    )
    portal = optional_model("support.PortalActivity", "client", "occurred_at")
    if portal is not None:
        _merge(
            portal.objects.filter(client_id__any=ids, occurred_at__lt=win.end)
            .values("client_id")
            .annotate(m=Max("occurred_at"))
            .values_list("client_id", "m")
        )
    email = optional_model("communication.EmailMessage", "client", "clicked_at")
    if email is not None:
        _merge(
            email.objects.filter(client_id__any=ids, clicked_at__isnull=False, clicked_at__lt=win.end)
            .values("client_id")
            .annotate(m=Max("clicked_at"))
            .values_list("client_id", "m")
        )
    out["last_engagement"] = latest

    # Support (RULES §4.2.3).
    ticket = optional_model(
        "support.Ticket",
        "client",
        "created_at",
        "priority",
        "first_response_at",
        "first_response_due_at",
        "resolved_at",
    )
    out["tickets"] = {}
    if ticket is not None:
        now = win.end
        fr_stop = Q(first_response_at__isnull=False) | Q(resolved_at__isnull=False)
        fr_breach = Q(first_response_due_at__isnull=False) & (
            Q(first_response_at__gt=F("first_response_due_at"))
            | Q(first_response_at__isnull=True, resolved_at__gt=F("first_response_due_at"))
            | (~fr_stop & Q(first_response_due_at__lt=now))
        )
        res_breach = Q(resolution_due_at__isnull=False) & (
            Q(resolved_at__gt=F("resolution_due_at")) | Q(resolved_at__isnull=True, resolution_due_at__lt=now)
        )
        out["tickets"] = {
            r["client_id"]: r
            for r in ticket.objects.filter(
                client_id__any=ids, created_at__gte=win.w_start_at, created_at__lt=now
            )
            .values("client_id")
            .annotate(
                t=Count("id"),
                h=Count("id", filter=Q(priority__in=["P0", "P1"])),
                b=Count("id", filter=fr_breach | res_breach),
            )
        }
    escalation = optional_model("retention.Escalation", "client", "opened_at")
    out["escalations"] = {}
    if escalation is not None:
        out["escalations"] = dict(
            escalation.objects.filter(
                client_id__any=ids, opened_at__gte=win.w_start_at, opened_at__lt=win.end
            )
            .values("client_id")
            .annotate(n=Count("id"))
            .values_list("client_id", "n")
        )
    zendesk = (
        IntegrationCredential.objects.filter(provider="zendesk", enabled=True)
        .values("last_success_at")
        .first()
    )
    out["zendesk_stale"] = bool(
        zendesk
        and (
            zendesk["last_success_at"] is None
            or timezone.now() - zendesk["last_success_at"] > INTEGRATION_STALE_AFTER
        )
    )

    # Satisfaction (RULES §4.2.4): latest response per respondent e-mail and type in max(W, 90) days.
    responses: dict[int, dict[tuple, tuple]] = defaultdict(dict)
    sat_start_at = day_bounds(win.sat_start)[0]
    survey = optional_model(
        "feedback.SurveyResponse", "client", "survey_type", "score", "respondent_email", "responded_at"
    )
    if survey is not None:
        for pk, cid, kind, score, mail, at in (
            survey.objects.filter(
                client_id__any=ids,
                survey_type__in=["nps", "csat"],
                responded_at__gte=sat_start_at,
                responded_at__lt=win.end,
            )
            .order_by("responded_at", "id")
            .values_list("id", "client_id", "survey_type", "score", "respondent_email", "responded_at")
        ):
            key = (kind, (mail or "").strip().lower() or f"#{pk}")
            responses[cid][key] = (score, at)  # ordered by time: the last write is the latest response
    if ticket is not None and "satisfaction_rating" in {f.name for f in ticket._meta.get_fields()}:
        tq = ticket.objects.filter(
            client_id__any=ids,
            satisfaction_rating__isnull=False,
            rated_at__gte=sat_start_at,
            rated_at__lt=win.end,
        )
        if survey is not None and "ticket" in {f.name for f in survey._meta.get_fields()}:
            tq = tq.filter(survey_responses__isnull=True)  # stored as a survey response already
        for pk, cid, rating, mail, at in tq.order_by("rated_at", "id").values_list(
            "id", "client_id", "satisfaction_rating", "requester_email", "rated_at"
        ):
            key = ("csat", (mail or "").strip().lower() or f"ticket#{pk}")
            if key not in responses[cid] or responses[cid][key][1] <= at:
                responses[cid][key] = (rating, at)
    out["responses"] = responses

    # Payment (RULES §4.2.5).
    year_ago = win.as_of - dt.timedelta(days=364)
    unpaid = (Q(paid_on__isnull=True) | Q(paid_on__gt=win.as_of)) & ~Q(status="void")
    out["invoices"] = {
        r["client_id"]: r
        for r in Invoice.objects.filter(client_id__any=ids, issued_on__lte=win.as_of)
        .order_by()
        .values("client_id")
        .annotate(
            n=Count("id"),
            oldest_unpaid_due=Min("due_date", filter=unpaid),
            late_paid=Count(
                "id",
                filter=Q(
                    paid_on__isnull=False,
                    paid_on__gt=F("due_date"),
                    paid_on__gte=year_ago,
                    paid_on__lte=win.as_of,
                ),
            ),
        )
    }
    return out


# ----------------------------------------------------------------------------------------------------------
# Scorecards and comparison snapshots
# ----------------------------------------------------------------------------------------------------------


def select_scorecard(client: dict, scorecards: list[HealthScorecard]) -> HealthScorecard:
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
# The chunk scorer
# ----------------------------------------------------------------------------------------------------------


def _available_core(data: dict, rank: int) -> frozenset[str]:
    """Core features available to a tier rank (memoised in the chunk's data)."""
    memo = data.setdefault("_core_by_rank", {})
    if rank not in memo:
        memo[rank] = frozenset(k for k, min_tier, _ in data["core_features"] if _tier_rank(min_tier) <= rank)
    return memo[rank]


def _component_inputs(client: dict, data: dict, win: Window) -> tuple[dict, dict, list[dict]]:
    cid = client["id"]
    scores: dict[str, float | None] = {}
    inputs: dict[str, dict] = {}
    gaps: list[dict] = []

    usage_row = data["usage"].get(cid) or {}
    contract = data["contracts"].get(cid)
    available_core = _available_core(data, _tier_rank(client["tier"]))
    score, inp, g = usage_score(
        has_history=cid in data["has_usage_history"],
        mau=data["mau"].get(cid, 0),
        seats=contract["included_users"] if contract else None,
        core_used=len(data["core_used"].get(cid, set()) & available_core),
        core_available=len(available_core),
        aud_w=usage_row.get("aud_w") or 0,
        aud_p=usage_row.get("aud_p") or 0,
        window_days=win.days,
    )
    scores["usage"], inputs["usage"] = score, inp
    gaps += g

    last = data["last_engagement"].get(cid)
    cached = client.get("last_engagement_date")
    last_day = local_date(last) if last else None
    if cached and cached <= win.as_of and (last_day is None or cached > last_day):
        last_day = cached
    days_since = (win.as_of - last_day).days if last_day else None
    scores["engagement"] = engagement_score(days_since)
    inputs["engagement"] = {
        "last_engagement_date": last_day.isoformat() if last_day else None,
        "days_since": days_since,
    }
    if days_since is None:
        gaps.append(_gap("component_scores.engagement", "no_engagement_events", "No engagement event ever."))

    t = data["tickets"].get(cid) or {}
    sup = {
        "tickets": t.get("t", 0),
        "high_priority": t.get("h", 0),
        "breached": t.get("b", 0),
        "escalations": data["escalations"].get(cid, 0),
    }
    inputs["support"] = dict(sup)
    if data["zendesk_stale"]:
        scores["support"] = None
        gaps.append(
            _gap(
                "component_scores.support", "integration_stale", "Zendesk last synced more than 24 hours ago."
            )
        )
    else:
        scores["support"] = support_score(**sup)

    nps = [float(s) for (kind, _), (s, _) in data["responses"].get(cid, {}).items() if kind == "nps"]
    csat = [float(s) for (kind, _), (s, _) in data["responses"].get(cid, {}).items() if kind == "csat"]
    scores["satisfaction"], inputs["satisfaction"] = satisfaction_score(nps, csat)
    inputs["satisfaction"]["window_days"] = max(win.days, SATISFACTION_MIN_WINDOW)
    if scores["satisfaction"] is None:
        gaps.append(
            _gap(
                "component_scores.satisfaction",
                "no_survey_responses",
                "No NPS or CSAT response in the window.",
            )
        )

    inv = data["invoices"].get(cid)
    manual = bool(contract and contract["payment_status_manual"])
    if not inv and not manual:
        scores["payment"] = None
        inputs["payment"] = {"invoices": 0, "payment_status": None, "late_paid_365": None}
        gaps.append(
            _gap("component_scores.payment", "no_invoices", "No invoice and no manual payment status.")
        )
    else:
        if manual and contract["payment_status"] == PaymentStatus.PAYMENT_PLAN:
            status = PaymentStatus.PAYMENT_PLAN
        elif inv:
            status = payment_status_from_invoices(inv["oldest_unpaid_due"], win.as_of)
        else:
            status = contract["payment_status"]
        late = inv["late_paid"] if inv else 0
        scores["payment"] = payment_score(status, late)
        inputs["payment"] = {
            "invoices": inv["n"] if inv else 0,
            "payment_status": status,
            "oldest_unpaid_due": inv["oldest_unpaid_due"].isoformat()
            if inv and inv["oldest_unpaid_due"]
            else None,
            "late_paid_365": late,
            "manual": manual,
        }
    return scores, inputs, gaps


def _rounded_inputs(component_inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: (_r(v, 4) if isinstance(v, float) else v) for k, v in component_inputs.items()}


def _explanation(
    *, card, weights, combo, scores, inputs, comparison, win, score_change, with_inputs=True
) -> dict[str, Any]:
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
                "score": _r(s, 1),
                "base_weight": round_half_up(weights[c], 4),
                "effective_weight": _r(eff, 4),
                "contribution": _r(contribution, 2),
                "previous_score": _r(prev_s, 1),
                "previous_contribution": _r(prev_contribution, 2),
                "contribution_change": _r(change, 2),
            }
        )
        if with_inputs:
            components[-1]["inputs"] = _rounded_inputs(inputs[c])
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
                "days_ago": (win.as_of - comparison["as_of"]).days,
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


def _comparisons(ids: list[int], as_of: dt.date) -> dict[int, dict]:
    """RULES §4.6: latest official snapshot with as_of in [today − 2N, today − N] and a score."""
    n = int(rules()["health_trend_days"])
    out: dict[int, dict] = {}
    rows = (
        HealthSnapshot.objects.filter(
            client_id__any=ids,
            as_of__lte=as_of - dt.timedelta(days=n),
            as_of__gte=as_of - dt.timedelta(days=2 * n),
            health_score__isnull=False,
        )
        .order_by("client_id", "-as_of")
        .values(
            "client_id",
            "as_of",
            "health_score",
            "effective_weights",
            "risk_level",
            *[f"{c}_score" for c in COMPONENTS],
        )
    )
    for r in rows:
        if r["client_id"] in out:
            continue
        out[r["client_id"]] = {
            "as_of": r["as_of"],
            "score": r["health_score"],
            "risk_level": r["risk_level"],
            "effective_weights": r["effective_weights"] or {},
            "scores": {c: r[f"{c}_score"] for c in COMPONENTS},
        }
    return out


CLIENT_FIELDS = (
    "id",
    "client_id",
    "client_name",
    "tier",
    "value_tier",
    "status",
    "lifecycle_stage",
    "contract_end_date",
    "last_engagement_date",
    "health_score",
    "health_trend",
    "risk_level",
    "health_as_of",
)


def score_chunk(
    client_ids: list[int],
    as_of: dt.date | None = None,
    *,
    weights: dict[str, float] | None = None,
    lookback_days: int = OFFICIAL_LOOKBACK_DAYS,
    persist: bool = True,
    explain_inputs: bool = True,
) -> dict[int, dict[str, Any]]:
    """Score a chunk of clients (by pk). Official results (scorecard weights, 30-day lookback, active client,
    ``persist``) are stored: one snapshot and churn prediction per client per day (a re-run replaces them),
    and the Client cache is updated. Returns ``{client_pk: result}``.

    ``explain_inputs=False`` (the nightly job) leaves the rounded inputs out of each result's explanation: the
    snapshot stores them once, in ``inputs``, and :func:`snapshot_explanation` re-attaches them."""
    as_of = as_of or local_date(timezone.now())
    ids = sorted(set(client_ids))
    if not ids:
        return {}
    ensure_fresh(ids)
    win = Window(as_of=as_of, days=lookback_days)
    clients = list(Client.objects.filter(id__any=ids).values(*CLIENT_FIELDS))
    scorecards = [] if weights else list(HealthScorecard.objects.filter(is_active=True).order_by("id"))
    data = gather_inputs(ids, win)
    comparisons = _comparisons(ids, as_of)
    calculated_at = timezone.now()

    results: dict[int, dict[str, Any]] = {}
    for client in clients:
        card = None if weights else select_scorecard(client, scorecards)
        base = dict(weights) if weights else card.weights()
        scores, inputs, gaps = _component_inputs(client, data, win)
        combo = combine(scores, base)
        health = combo["health_score"]
        for c in combo["missing_components"]:
            if not any(g["field"] == f"component_scores.{c}" for g in gaps):
                gaps.append(_gap(f"component_scores.{c}", "not_enough_data", f"{c} could not be computed."))
        if health is None:
            gaps.append(
                _gap(
                    "current_health_score",
                    "not_enough_data",
                    f"Coverage {combo['coverage']:.2f} is below {rules()['health_min_coverage']:.2f}.",
                )
            )
        comparison = comparisons.get(client["id"])
        delta = health - comparison["score"] if (comparison and health is not None) else None
        trend = trend_label(delta)
        if comparison is None:
            gaps.append(_gap("health_trend", "insufficient_history", "No snapshot 7–14 days back."))
        churn = churn_heuristic(
            health,
            scores,
            combo["effective_weights"],
            combo["coverage"],
            (data["contracts"].get(client["id"]) or {}).get("end_date") or client["contract_end_date"],
        )
        official = (
            persist
            and weights is None
            and lookback_days == OFFICIAL_LOOKBACK_DAYS
            and client["status"] == AccountStatus.ACTIVE
        )
        results[client["id"]] = {
            "client_pk": client["id"],
            "client_id": client["client_id"],
            "client_name": client["client_name"],
            "as_of": as_of,
            "persisted": official,
            "health_score": health,
            "raw_score": combo["raw_score"],
            "risk_level": risk_band(health),
            "low_confidence": combo["low_confidence"],
            "coverage": combo["coverage"],
            "components": scores,
            "weights": base,
            "effective_weights": combo["effective_weights"],
            "missing_components": combo["missing_components"],
            "inputs": inputs,
            "trend": trend,
            "score_change": delta,
            "comparison": comparison,
            "scorecard_id": card.id if card else None,
            "scorecard_name": card.name if card else None,
            "churn": churn,
            "explanation": _explanation(
                card=card,
                weights=base,
                combo=combo,
                scores=scores,
                inputs=inputs,
                comparison=comparison,
                win=win,
                score_change=delta,
                with_inputs=explain_inputs,
            ),
            "data_gaps": gaps,
            "previous": {
                "health_score": client["health_score"],
                "risk_level": client["risk_level"] or None,
                "health_as_of": client["health_as_of"],
            },
            "calculated_at": calculated_at,
            "last_engagement_date": inputs["engagement"]["last_engagement_date"],
        }
    _apply_churn_model(ids, as_of, results)
    _persist([r for r in results.values() if r["persisted"]], clients, calculated_at)
    return results


def _apply_churn_model(ids: list[int], as_of: dt.date, results: dict[int, dict[str, Any]]) -> None:
    """RULES §5.2: an active trained model replaces the heuristic's prediction (1 query when there is none)."""
    from . import churn_model  # churn_model imports this module

    model = churn_model.active_churn_model()
    if model is None:
        return
    for pk, features in churn_model.chunk_features(client_ids=ids, as_of=as_of, results=results).items():
        if features["values"] is not None:
            results[pk]["churn"] = churn_model.predict(model=model, features=features)


SNAPSHOT_UPDATE_FIELDS = [
    "health_score",
    "raw_score",
    *[f"{c}_score" for c in COMPONENTS],
    "weights",
    "effective_weights",
    "scorecard",
    "missing_components",
    "coverage",
    "low_confidence",
    "inputs",
    "explanation",
    "data_gaps",
    "risk_level",
    "trend",
    "score_change",
    "comparison_as_of",
    "churn_probability",
    "churn_method",
    "lookback_days",
    "formula_version",
    "calculated_at",
]
PREDICTION_UPDATE_FIELDS = [
    "probability",
    "risk_level",
    "method",
    "calibrated",
    "horizon_days",
    "drivers",
    "predicted_churn_date",
    "data_coverage",
    "model",
    "created_at",
]
CACHE_FIELDS = ("health_score", "health_trend", "risk_level", "health_as_of", "last_engagement_date")


def _snapshot_row(r: dict[str, Any]) -> dict[str, Any]:
    """The stored columns of one official result (the single mapping result → HealthSnapshot)."""
    return {
        "client_id": r["client_pk"],
        "as_of": r["as_of"],
        "health_score": r["health_score"],
        "raw_score": r["raw_score"],
        **{f"{c}_score": r["components"][c] for c in COMPONENTS},
        "weights": r["weights"],
        "effective_weights": r["effective_weights"],
        "scorecard_id": r["scorecard_id"],
        "missing_components": r["missing_components"],
        "coverage": min(1.0, r["coverage"]),
        "low_confidence": r["low_confidence"],
        "inputs": r["inputs"],
        "explanation": stored_explanation(r["explanation"]),
        "data_gaps": r["data_gaps"],
        "risk_level": r["risk_level"],
        "trend": r["trend"],
        "score_change": r["score_change"],
        "comparison_as_of": r["comparison"]["as_of"] if r["comparison"] else None,
        "churn_probability": r["churn"]["probability"],
        "churn_method": r["churn"]["method"],
        "lookback_days": OFFICIAL_LOOKBACK_DAYS,
        "formula_version": FORMULA_VERSION,
    }


def _prediction_row(r: dict[str, Any]) -> dict[str, Any]:
    churn = r["churn"]
    return {
        "client_id": r["client_pk"],
        "as_of": r["as_of"],
        "probability": churn["probability"],
        "risk_level": churn["risk_level"],
        "method": churn["method"],
        "calibrated": churn["calibrated"],
        "horizon_days": churn["horizon_days"],
        "drivers": churn["drivers"],
        "predicted_churn_date": churn["predicted_churn_date"],
        "data_coverage": churn["data_coverage"],
        "model_id": churn.get("model_id"),
    }


def _cache_rows(results: list[dict], clients: list[dict]) -> list[dict[str, Any]]:
    """Client cache values of the results that are not older than the cached day."""
    by_pk = {c["id"]: c for c in clients}
    rows = []
    for r in results:
        current = by_pk[r["client_pk"]]
        if current["health_as_of"] and current["health_as_of"] > r["as_of"]:
            continue  # a back-filled day never overwrites a newer cache
        led = r["last_engagement_date"]
        led = dt.date.fromisoformat(led) if led else None
        cached = current["last_engagement_date"]
        rows.append(
            {
                "id": r["client_pk"],
                "health_score": r["health_score"],
                "health_trend": r["trend"] or "",
                "risk_level": r["risk_level"] or "",
                "health_as_of": r["as_of"],
                "last_engagement_date": max(d for d in (led, cached) if d) if (led or cached) else None,
            }
        )
    return rows


def _persist(results: list[dict], clients: list[dict], calculated_at: dt.datetime) -> None:
    """Upsert snapshots + churn predictions and update the Client cache: 3 statements for any chunk size.

    PostgreSQL: each table gets one ``INSERT … SELECT … FROM jsonb_to_recordset(%s) ON CONFLICT (client_id,
    as_of) DO UPDATE`` (resp. ``UPDATE … FROM jsonb_to_recordset``) whose single parameter is the whole batch
    serialised once by the C JSON encoder — no per-value adaptation, no ORM objects. Other databases:
    ``bulk_create(update_conflicts=True)`` / ``bulk_update`` with the same row mapping."""
    if not results:
        return
    snapshots = [_snapshot_row(r) for r in results]
    predictions = [_prediction_row(r) for r in results]
    cache = _cache_rows(results, clients)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _pg_upsert(HealthSnapshot, snapshots, SNAPSHOT_UPDATE_FIELDS, calculated_at, "calculated_at")
            _pg_upsert(ChurnPrediction, predictions, PREDICTION_UPDATE_FIELDS, calculated_at, "created_at")
            rows_update(Client, cache, list(CACHE_FIELDS))
        else:
            _orm_persist(snapshots, predictions, cache, calculated_at)


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> str:
    """JSON text of a batch: the C encoder; non-finite floats (never expected) become null as in _jsonable."""
    try:
        return json.dumps(value, default=_json_default, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_jsonable(value), default=_json_default, separators=(",", ":"))


def _pg_columns(model, names: list[str]) -> list[tuple[str, str]]:
    """(column, PostgreSQL type) of model fields, for a ``jsonb_to_recordset`` column definition list."""
    out = []
    for name in names:
        f = model._meta.get_field(name)
        out.append((f.column, f.db_type(connection)))
    return out


def _pg_upsert(model, rows: list[dict], update_fields: list[str], stamp: dt.datetime, stamp_field: str):
    """One INSERT … SELECT FROM jsonb_to_recordset(batch) ON CONFLICT (client_id, as_of) DO UPDATE."""
    table = model._meta.db_table
    cols = _pg_columns(model, list(rows[0]))  # get_field accepts attnames (client_id, scorecard_id)
    stamp_col = model._meta.get_field(stamp_field).column
    updates = [model._meta.get_field(f).column for f in update_fields]
    select = ", ".join(f"r.{c}" for c, _ in cols)
    sql = (
        f"INSERT INTO {table} ({', '.join(c for c, _ in cols)}, {stamp_col}) "
        f"SELECT {select}, %s FROM jsonb_to_recordset(%s::jsonb) "
        f"AS r({', '.join(f'{c} {t}' for c, t in cols)}) "
        f"ON CONFLICT (client_id, as_of) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in updates)
    )
    with bound_cursor() as cur:
        cur.execute(sql, [stamp, _dumps(rows)])


def _orm_persist(snapshots, predictions, cache, calculated_at) -> None:
    """Portable fallback (SQLite): the same rows through the ORM."""
    HealthSnapshot.objects.bulk_create(
        [
            HealthSnapshot(
                **{
                    **s,
                    "inputs": _jsonable(s["inputs"]),
                    "explanation": _jsonable(s["explanation"]),
                },
                calculated_at=calculated_at,
            )
            for s in snapshots
        ],
        update_conflicts=True,
        unique_fields=["client", "as_of"],
        update_fields=SNAPSHOT_UPDATE_FIELDS,
        batch_size=1000,
    )
    ChurnPrediction.objects.bulk_create(
        [
            ChurnPrediction(**{**p, "drivers": _jsonable(p["drivers"])}, created_at=calculated_at)
            for p in predictions
        ],
        update_conflicts=True,
        unique_fields=["client", "as_of"],
        update_fields=PREDICTION_UPDATE_FIELDS,
        batch_size=1000,
    )
    if cache:
        Client.objects.bulk_update([Client(**row) for row in cache], list(CACHE_FIELDS), batch_size=1000)


def stored_explanation(explanation: dict[str, Any]) -> dict[str, Any]:
    """The explanation as stored: component inputs live once, in ``HealthSnapshot.inputs``."""
    components = explanation["components"]
    if not any("inputs" in c for c in components):
        return explanation
    return {**explanation, "components": [{k: v for k, v in c.items() if k != "inputs"} for c in components]}


def snapshot_explanation(snapshot: HealthSnapshot) -> dict[str, Any]:
    """The full explanation payload of a stored snapshot (RULES §4.6), inputs re-attached."""
    explanation = dict(snapshot.explanation or {})
    inputs = snapshot.inputs or {}
    explanation["components"] = [
        {**c, "inputs": _rounded_inputs(inputs.get(c["component"], {}))}
        for c in explanation.get("components", [])
    ]
    return explanation


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def score_client(
    client_id: str | int,
    as_of: dt.date | None = None,
    *,
    weights: dict[str, float] | None = None,
    lookback_days: int = OFFICIAL_LOOKBACK_DAYS,
    persist: bool = True,
) -> dict[str, Any]:
    """Score one client (business id or pk) through the chunk scorer: one home per formula."""
    if isinstance(client_id, int):
        pk = client_id
    else:
        pk = Client.objects.filter(client_id=client_id).values_list("id", flat=True).first()
    if pk is None:
        raise NotFound(f"Client {client_id!r} does not exist.", field="client_id")
    result = score_chunk([pk], as_of, weights=weights, lookback_days=lookback_days, persist=persist).get(pk)
    if result is None:
        raise NotFound(f"Client {client_id!r} does not exist.", field="client_id")
    return result
