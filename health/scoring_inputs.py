"""What the health formulas read (RULES §4.2): a fixed handful of GROUP BY client queries per chunk.

Why a module of its own: these are the engine's reads, and their count must not grow with the chunk size
(``tests/health/test_scoring.py::test_chunk_query_count_does_not_grow_with_chunk_size``). :func:`gather_inputs`
reads a whole chunk; :func:`component_inputs` turns one client's slice of it into the five component scores through
the pure formulas of :mod:`health.scoring_formulas`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.db.models import Count, F, Max, Min, Q, Sum
from django.utils import timezone

from customers.choices import ContractStatus, PaymentStatus
from customers.models import Contract, IntegrationCredential, Invoice, TimelineEvent

from .choices import COMPONENTS
from .common import gap, tier_rank
from .models import ClientUsageDaily, Feature, FeatureUsageDaily, HealthSnapshot, UserActivityDaily
from .rollups import ANON_PREFIX, day_bounds, local_date
from .scoring_formulas import (
    HIGH_PRIORITIES,
    SATISFACTION_MIN_WINDOW,
    engagement_score,
    payment_score,
    payment_status_from_invoices,
    respondent_key,
    satisfaction_score,
    support_score,
    trend_days,
    usage_score,
)
from .selectors import optional_model

INTEGRATION_STALE_AFTER = dt.timedelta(hours=24)


@dataclass
class Window:
    """RULES §4.2's windows for one as-of day: W (``days`` ending at as-of), P (the ``days`` before W) and the
    satisfaction window (max(W, 90) days)."""

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


#: ``Tier.rank`` (0 when unknown), memoised: it is called per client and per core feature.
_tier_rank = lru_cache(maxsize=None)(tier_rank)


def gather_inputs(client_ids: list[int], win: Window) -> dict[str, Any]:
    """Everything the formulas need for a chunk, keyed by client pk; query count independent of chunk size."""
    ids = list(client_ids)
    out: dict[str, Any] = {}
    out.update(_usage_inputs(ids, win))
    out["contracts"] = _contracts(ids, win)
    out["last_engagement"] = _last_engagement(ids, win)
    out.update(_support_inputs(ids, win))
    out["responses"] = _responses(ids, win)
    out["invoices"] = _invoices(ids, win)
    return out


def _usage_inputs(ids: list[int], win: Window) -> dict[str, Any]:
    """RULES §4.2.1 from the roll-ups: W + P only (not the whole history); "any usage ever" is looked up
    separately, and only for the clients without an event day in W + P — two queries for any chunk, reading no
    older roll-up row than needed."""
    usage = {
        row["client_id"]: row
        for row in ClientUsageDaily.objects.filter(
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
    quiet = [cid for cid in ids if not (usage.get(cid) or {}).get("days_with_events")]
    older = set(
        ClientUsageDaily.objects.filter(client_id__any=quiet, date__lt=win.p_start, events__gt=0)
        .order_by()
        .values_list("client_id", flat=True)
        .distinct()
        if quiet
        else ()
    )
    mau = dict(
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
    return {
        "usage": usage,
        "has_usage_history": {
            cid for cid in ids if cid in older or (usage.get(cid) or {}).get("days_with_events")
        },
        "mau": mau,
        "core_features": core,
        "core_used": used,
    }


def _contracts(ids: list[int], win: Window) -> dict[int, dict]:
    """The active contract started by as-of with the latest start (then highest id), per client."""
    contracts: dict[int, dict] = {}
    for row in (
        Contract.objects.filter(client_id__any=ids, status=ContractStatus.ACTIVE, start_date__lte=win.as_of)
        .order_by("client_id", "-start_date", "-id")
        .values("client_id", "included_users", "payment_status", "payment_status_manual", "end_date")
    ):
        contracts.setdefault(row["client_id"], row)
    return contracts


def _last_engagement(ids: list[int], win: Window) -> dict[int, dt.datetime]:
    """RULES §4.2.2: latest of timeline engagement, portal activity, e-mail clicks."""
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
    return latest


def _ticket_model():
    return optional_model(
        "support.Ticket",
        "client",
        "created_at",
        "priority",
        "first_response_at",
        "first_response_due_at",
        "resolved_at",
    )


def _support_inputs(ids: list[int], win: Window) -> dict[str, Any]:
    """RULES §4.2.3: tickets (P0/P1, SLA breaches as stored on ``support.Ticket``), escalations, Zendesk staleness."""
    ticket = _ticket_model()
    out: dict[str, Any] = {"tickets": {}, "escalations": {}}
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
            row["client_id"]: row
            for row in ticket.objects.filter(
                client_id__any=ids, created_at__gte=win.w_start_at, created_at__lt=now
            )
            .values("client_id")
            .annotate(
                t=Count("id"),
                h=Count("id", filter=Q(priority__in=HIGH_PRIORITIES)),
                b=Count("id", filter=fr_breach | res_breach),
            )
        }
    escalation = optional_model("retention.Escalation", "client", "opened_at")
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
    return out


def _responses(ids: list[int], win: Window) -> dict[int, dict[tuple, tuple]]:
    """RULES §4.2.4: latest response per respondent e-mail and type in max(W, 90) days, plus ticket ratings that
    are not already stored as survey responses."""
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
            key = (kind, respondent_key(mail, f"#{pk}"))
            responses[cid][key] = (score, at)  # ordered by time: the last write is the latest response
    ticket = _ticket_model()
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
            key = ("csat", respondent_key(mail, f"ticket#{pk}"))
            if key not in responses[cid] or responses[cid][key][1] <= at:
                responses[cid][key] = (rating, at)
    return responses


def _invoices(ids: list[int], win: Window) -> dict[int, dict]:
    """RULES §4.2.5: invoice count, oldest unpaid due date at as-of, invoices paid late in the last 365 days."""
    year_ago = win.as_of - dt.timedelta(days=364)
    unpaid = (Q(paid_on__isnull=True) | Q(paid_on__gt=win.as_of)) & ~Q(status="void")
    return {
        row["client_id"]: row
        for row in Invoice.objects.filter(client_id__any=ids, issued_on__lte=win.as_of)
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


def comparisons(ids: list[int], as_of: dt.date) -> dict[int, dict]:
    """RULES §4.6: latest official snapshot with as_of in [today − 2N, today − N] and a score."""
    n = trend_days()
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
    for row in rows:
        if row["client_id"] in out:
            continue
        out[row["client_id"]] = {
            "as_of": row["as_of"],
            "score": row["health_score"],
            "risk_level": row["risk_level"],
            "effective_weights": row["effective_weights"] or {},
            "scores": {c: row[f"{c}_score"] for c in COMPONENTS},
        }
    return out


# ----------------------------------------------------------------------------------------------------------
# One client's component scores from the chunk's data
# ----------------------------------------------------------------------------------------------------------


def _available_core(data: dict, rank: int) -> frozenset[str]:
    """Core features available to a tier rank (memoised in the chunk's data)."""
    memo = data.setdefault("_core_by_rank", {})
    if rank not in memo:
        memo[rank] = frozenset(k for k, min_tier, _ in data["core_features"] if _tier_rank(min_tier) <= rank)
    return memo[rank]


def component_inputs(client: dict, data: dict, win: Window) -> tuple[dict, dict, list[dict]]:
    """(scores, inputs, data gaps) of one client's five components (RULES §4.2)."""
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
        gaps.append(gap("component_scores.engagement", "no_engagement_events", "No engagement event ever."))

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
            gap(
                "component_scores.support", "integration_stale", "Zendesk last synced more than 24 hours ago."
            )
        )
    else:
        scores["support"] = support_score(**sup)

    nps = [float(s) for (kind, _), (s, _) in data["responses"].get(cid, {}).items() if kind == "nps"]
    csat = [float(s) for (kind, _), (s, _) in data["responses"].get(cid, {}).items() if kind == "csat"]
    scores["satisfaction"], inputs["satisfaction"] = satisfaction_score(nps, csat)
    window = inputs["satisfaction"]["window_days"] = max(win.days, SATISFACTION_MIN_WINDOW)
    for sub, kind in (("nps_based", "NPS"), ("csat_based", "CSAT")):
        if inputs["satisfaction"][sub] is None:
            gaps.append(
                gap(
                    f"health_metrics.satisfaction.{sub}",
                    "no_survey_responses",
                    f"No {kind} response in the last {window} days.",
                )
            )
    if scores["satisfaction"] is None:
        gaps.append(
            gap(
                "component_scores.satisfaction",
                "no_survey_responses",
                "No NPS or CSAT response in the window.",
            )
        )

    scores["payment"], inputs["payment"], payment_gaps = _payment(
        data["invoices"].get(cid), contract, win.as_of
    )
    gaps += payment_gaps
    return scores, inputs, gaps


def _payment(
    inv: dict | None, contract: dict | None, as_of: dt.date
) -> tuple[float | None, dict, list[dict]]:
    """RULES §4.2.5: status from invoices at as-of unless manually set to ``payment_plan``."""
    manual = bool(contract and contract["payment_status_manual"])
    if not inv and not manual:
        return (
            None,
            {"invoices": 0, "payment_status": None, "late_paid_365": None},
            [gap("component_scores.payment", "no_invoices", "No invoice and no manual payment status.")],
        )
    if manual and contract["payment_status"] == PaymentStatus.PAYMENT_PLAN:
        status = PaymentStatus.PAYMENT_PLAN
    elif inv:
        status = payment_status_from_invoices(inv["oldest_unpaid_due"], as_of)
    else:
        status = contract["payment_status"]
    late = inv["late_paid"] if inv else 0
    inputs = {
        "invoices": inv["n"] if inv else 0,
        "payment_status": status,
        "oldest_unpaid_due": inv["oldest_unpaid_due"].isoformat()
        if inv and inv["oldest_unpaid_due"]
        else None,
        "late_paid_365": late,
        "manual": manual,
    }
    return payment_score(status, late), inputs, []
