"""Read-side computations behind the health tools (TOOLS §3): usage and engagement analytics over roll-ups,
feature adoption, engagement patterns, health trends, reports; plus the orchestration of the
``calculate_health_score`` call around the health engine (:mod:`health.scoring` owns every formula).

Numbers come from stored rows only; anything missing is ``None`` with a ``data_gaps`` entry (RULES §15.2).
Portfolio-wide functions run a fixed number of aggregate queries whatever the number of clients.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import (
    Avg,
    Count,
    DateField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    JSONField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.expressions import Window
from django.db.models.fields.json import KT
from django.db.models.functions import (
    Abs,
    Cast,
    Coalesce,
    ExtractHour,
    ExtractIsoWeekDay,
    Trunc,
    TruncHour,
)
from django.db.models.functions.window import RowNumber
from django.utils import timezone

from cs_project.core.context import Actor
from cs_project.core.errors import InvalidParameter
from cs_project.core.formatting import iso, jsonable, to_csv, to_markdown
from cs_project.core.stats import clamp, ols, r, rate_change
from customers.audit import audit_and_timeline
from customers.choices import (
    AccountStatus,
    AlertStatus,
    ContractStatus,
    Impact,
    Priority,
    RiskLevel,
    Severity,
    TimelineEventType,
)
from customers.models import Alert, Client, Contract
from customers.rules import finding, health_findings, sort_findings

from .choices import COMPONENTS
from .common import (
    benchmark,
    counting_exclusions,
    gap,
    money,
    resolve_client,
    seats_of,
    stable_id,
    tier_rank,
    today,
)
from .models import (
    ChurnPrediction,
    ClientUsageDaily,
    Feature,
    FeatureUsageDaily,
    HealthSnapshot,
    UsageEvent,
    UserActivityDaily,
)
from .rollups import ANON_PREFIX, day_bounds, ensure_fresh, raw_retention_cutoff, reporting_tz
from .rules import adoption_stage, trend_10pct, user_cohorts
from .scoring import risk_band, score_client, trend_label, validate_weights

D = dt.timedelta
BANDS = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


# ------------------------------------------------------------------------------------------------------------
# Shared helpers
# ------------------------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------------------------
# track_usage_engagement (TOOLS §3.1)
# ------------------------------------------------------------------------------------------------------------


def _usage_metrics_by_client(ids: list[int], w0: dt.date, w1: dt.date) -> dict[int, dict[str, Any]]:
    """Per client, in a fixed number of GROUP BY queries: events and active users in W, AUD over the 30 days
    ending ``w1``, MAU, seats → stickiness, events per active user, licence utilisation."""
    m0 = w1 - D(days=29)
    cud = {
        x["client_id"]: x
        for x in ClientUsageDaily.objects.filter(client_id__in=ids, date__gte=min(w0, m0), date__lte=w1)
        .values("client_id")
        .annotate(
            events=Sum("events", filter=Q(date__gte=w0)),
            aud30=Sum("active_users", filter=Q(date__gte=m0)),
        )
    }
    base = UserActivityDaily.objects.filter(client_id__in=ids, counting_events__gt=0, date__lte=w1).exclude(
        user_id__startswith=ANON_PREFIX
    )
    mau = dict(
        base.filter(date__gte=m0)
        .values("client_id")
        .annotate(n=Count("user_id", distinct=True))
        .values_list("client_id", "n")
    )
    active = dict(
        base.filter(date__gte=w0)
        .values("client_id")
        .annotate(n=Count("user_id", distinct=True))
        .values_list("client_id", "n")
    )
    seats: dict[int, int | None] = {}
    for cid, n in (
        Contract.objects.filter(client_id__in=ids, status=ContractStatus.ACTIVE)
        .order_by("client_id", "-start_date", "-id")
        .values_list("client_id", "included_users")
    ):
        seats.setdefault(cid, n)
    out = {}
    for cid in ids:
        c = cud.get(cid) or {}
        m, a, s = mau.get(cid, 0), active.get(cid, 0), seats.get(cid)
        out[cid] = {
            "stickiness": ((c.get("aud30") or 0) / 30) / m if m else None,
            "events_per_active_user": (c.get("events") or 0) / a if a else None,
            "utilisation": m / s if s else None,
        }
    return out


def usage_engagement(
    *,
    client_id: str,
    period_start: dt.date,
    period_end: dt.date,
    granularity: str = "daily",
    include_feature_breakdown: bool = True,
    include_user_segmentation: bool = True,
    benchmark_comparison: bool = True,
) -> dict[str, Any]:
    if period_end <= period_start:
        raise InvalidParameter("period_end must be after period_start.", field="period_end")
    span = (period_end - period_start).days
    if span > 365:
        raise InvalidParameter("The period may span at most 365 days.", field="period_end")
    cutoff = raw_retention_cutoff()
    if granularity == "hourly" and (span > 7 or period_start < cutoff):
        raise InvalidParameter(
            f"hourly granularity needs a span ≤ 7 days starting on or after {cutoff.isoformat()} "
            "(raw-event retention).",
            field="granularity",
        )
    client = resolve_client(client_id)
    ensure_fresh([client.pk])
    gaps: list[dict] = []
    days = span + 1
    w0, w1 = period_start, period_end
    p0, p1 = w0 - D(days=days), w0 - D(days=1)
    raw_ok = w0 >= cutoff
    start_at, end_at = day_bounds(w0)[0], day_bounds(w1)[1]
    tz = reporting_tz()

    uad = UserActivityDaily.objects.filter(client=client).exclude(user_id__startswith=ANON_PREFIX)
    active_q = uad.filter(counting_events__gt=0)

    def distinct_active(a: dt.date, b: dt.date) -> int:
        return active_q.filter(date__gte=a, date__lte=b).values("user_id").distinct().count()

    known = uad.filter(date__lte=w1).values("user_id").distinct().count()
    ever_active = active_q.filter(date__lte=w1).values("user_id").distinct().count()
    active_users, active_prev = distinct_active(w0, w1), distinct_active(p0, p1)
    wau, mau = distinct_active(w1 - D(days=6), w1), distinct_active(w1 - D(days=29), w1)
    cud = ClientUsageDaily.objects.filter(client=client)

    def cud_agg(a: dt.date, b: dt.date) -> dict[str, Any]:
        agg = cud.filter(date__gte=a, date__lte=b).aggregate(
            events=Sum("events"), qty=Sum("quantity"), aud=Sum("active_users"), actions=Sum("counting_events")
        )
        return {k: (v or 0) for k, v in agg.items()}

    aw, ap = cud_agg(w0, w1), cud_agg(p0, p1)
    aud30 = cud_agg(w1 - D(days=29), w1)["aud"]
    has_history = cud.filter(events__gt=0, date__lte=w1).exists()
    if not has_history:
        gaps.append(gap("engagement_metrics", "no_usage_events", "No usage event recorded for this client."))
    seats = seats_of(client)
    stickiness = (aud30 / 30) / mau if mau else None
    if stickiness is None:
        gaps.append(gap("engagement_metrics.stickiness", "not_enough_data", "No monthly active user."))
    activation = ever_active / seats if seats else None
    if seats is None:
        gaps.append(
            gap("engagement_metrics.activation_rate", "no_seat_data", "No seat count on the contract.")
        )
    engagement_rate = active_users / known if known else None
    if not known:
        gaps.append(gap("engagement_metrics.engagement_rate", "no_usage_events", "No known user."))
    login_keys = list(settings.CS_RULES.get("login_feature_keys", ["login"]))
    logins = (
        FeatureUsageDaily.objects.filter(
            client=client, date__gte=w0, date__lte=w1, feature_key__in=login_keys
        ).aggregate(n=Sum("events"))["n"]
        or 0
    )
    raw_w = UsageEvent.objects.filter(client=client, occurred_at__gte=start_at, occurred_at__lt=end_at)
    session_minutes = None
    if not raw_ok:
        gaps.append(
            gap("engagement_metrics.session_minutes", "raw_events_expired", "Period before retention.")
        )
    else:
        secs = raw_w.filter(properties__has_key="session_seconds").aggregate(
            n=Count("id"), s=Sum(Cast(KT("properties__session_seconds"), FloatField()))
        )
        if secs["n"]:
            session_minutes = r((secs["s"] or 0) / 60, 1)
        else:
            gaps.append(
                gap(
                    "engagement_metrics.session_minutes",
                    "no_session_ids",
                    "No event carries session_seconds.",
                )
            )

    # user cohorts (RULES §3.4)
    lo = min(p0, w0 - D(days=90))
    user_rows = list(
        active_q.filter(date__gte=lo, date__lte=w1)
        .values("user_id")
        .annotate(
            w=Count("id", filter=Q(date__gte=w0)),
            p=Count("id", filter=Q(date__gte=p0, date__lte=p1)),
            before=Count("id", filter=Q(date__gte=w0 - D(days=90), date__lt=w0)),
        )
    )
    cohorts = user_cohorts(user_rows, days)
    vs_prev = {
        "active_users_change_rate": r(rate_change(active_users, active_prev), 4),
        "events_change_rate": r(rate_change(aw["events"], ap["events"]), 4),
    }
    if not active_prev:
        gaps.append(
            gap(
                "engagement_metrics.vs_previous_period.active_users_change_rate",
                "insufficient_history",
                "P empty.",
            )
        )
    if not ap["events"]:
        gaps.append(
            gap(
                "engagement_metrics.vs_previous_period.events_change_rate", "insufficient_history", "P empty."
            )
        )
    engagement_trend = trend_10pct(active_users, active_prev)
    if engagement_trend is None:
        gaps.append(
            gap("engagement_metrics.engagement_trend", "insufficient_history", "No active users in P.")
        )

    # features
    catalogue = {f.feature_key: f for f in Feature.objects.filter(active=True)}
    rank = tier_rank(client.tier)
    available = {k for k, f in catalogue.items() if f.catalogued and tier_rank(f.min_tier) <= rank}
    fud_w = {
        x["feature_key"]: x
        for x in FeatureUsageDaily.objects.filter(client=client, date__gte=w0, date__lte=w1, events__gt=0)
        .values("feature_key")
        .annotate(events=Sum("events"), qty=Sum("quantity"))
    }
    feature_dates: dict[str, list[dt.date]] = defaultdict(list)
    for key, day in FeatureUsageDaily.objects.filter(
        client=client, date__gte=w0, date__lte=w1, events__gt=0
    ).values_list("feature_key", "date"):
        feature_dates[key].append(day)
    users_by_feature: dict[str, int] | None = None
    if raw_ok:
        users_by_feature = dict(
            raw_w.exclude(user_id__startswith=ANON_PREFIX)
            .values("feature_key")
            .annotate(n=Count("user_id", distinct=True))
            .values_list("feature_key", "n")
        )
    else:
        gaps.append(
            gap("usage_analytics.top_features[].users", "raw_events_expired", "Users need raw events.")
        )
    used_available = set(fud_w) & available
    top = sorted(fud_w.values(), key=lambda x: (-x["events"], x["feature_key"]))[:10]
    rates: dict[str, float | None] = {}
    for key in sorted(available):
        if users_by_feature is not None and active_users:
            rates[key] = users_by_feature.get(key, 0) / active_users
        else:
            rates[key] = None if key in fud_w else 0.0
    threshold = 0.2
    underutilized = sorted(k for k, v in rates.items() if v is not None and v < threshold)
    first_use = dict(
        FeatureUsageDaily.objects.filter(client=client, events__gt=0, date__lte=w1)
        .values("feature_key")
        .annotate(first=Min("date"))
        .values_list("feature_key", "first")
    )
    integration_keys = [k for k, f in catalogue.items() if f.category == "integration"]
    integration_usage = sum(x["events"] for k, x in fud_w.items() if k in integration_keys)
    api_usage = None
    if not UsageEvent.objects.filter(client=client, properties__has_key="channel").exists():
        gaps.append(
            gap("usage_analytics.api_usage", "not_applicable", "No event carries properties.channel.")
        )
    elif not raw_ok:
        gaps.append(gap("usage_analytics.api_usage", "raw_events_expired", "Period before retention."))
    else:
        api_usage = raw_w.filter(properties__channel="api").count()
    usage_trend = trend_10pct(aw["aud"], ap["aud"])
    growth = rate_change(aw["aud"], ap["aud"])
    if growth is None:
        gaps.append(
            gap("usage_analytics.usage_growth_rate", "insufficient_history", "No active user-days in P.")
        )
    if not available:
        gaps.append(gap("usage_analytics.feature_utilization_rate", "no_catalogue", "No catalogued feature."))

    # series
    usage_trends = _usage_series(client, w0, w1, granularity, raw_w, tz)

    # patterns: weekday from roll-ups, hour and heatmap from raw events
    by_weekday = [0] * 7
    for day, events in cud.filter(date__gte=w0, date__lte=w1).values_list("date", "events"):
        by_weekday[day.weekday()] += events
    by_hour: list[int] | None = None
    heatmap: dict[str, list[int]] | None = None
    if raw_ok:
        by_hour = [0] * 24
        heatmap = {d: [0] * 24 for d in WEEKDAYS}
        for row in (
            raw_w.annotate(
                h=ExtractHour("occurred_at", tzinfo=tz), wd=ExtractIsoWeekDay("occurred_at", tzinfo=tz)
            )
            .values("h", "wd")
            .annotate(n=Count("id"))
        ):
            by_hour[row["h"]] += row["n"]
            heatmap[WEEKDAYS[row["wd"] - 1]][row["h"]] += row["n"]
    else:
        gaps.append(gap("engagement_patterns.by_hour", "raw_events_expired", "Period before retention."))
        gaps.append(gap("activity_heatmap", "raw_events_expired", "Period before retention."))
    peak_weekday = WEEKDAYS[by_weekday.index(max(by_weekday))] if any(by_weekday) else None
    peak_hour = by_hour.index(max(by_hour)) if by_hour and any(by_hour) else None
    if peak_weekday is None:
        gaps.append(gap("engagement_patterns.peak_weekday", "no_usage_events", "No events in the period."))
    if peak_hour is None and by_hour is not None:
        gaps.append(gap("engagement_patterns.peak_hour", "no_usage_events", "No events in the period."))

    client_active_days = cud.filter(date__gte=w0, date__lte=w1, active_users__gt=0).count()
    timeline = None
    if include_feature_breakdown:
        timeline = [
            {
                "feature_key": key,
                "first_used_at": first.isoformat(),
                "users": users_by_feature.get(key, 0) if users_by_feature is not None else None,
                "stage": adoption_stage(feature_dates.get(key, []), client_active_days),
            }
            for key, first in sorted(first_use.items(), key=lambda kv: (kv[1], kv[0]))
        ]

    benchmarks = None
    if benchmark_comparison:
        peers = list(
            Client.objects.filter(status=AccountStatus.ACTIVE, tier=client.tier)
            .exclude(pk=client.pk)
            .values_list("pk", flat=True)
        )
        metrics = _usage_metrics_by_client([client.pk, *peers], w0, w1)
        benchmarks = []
        for i, name in enumerate(("stickiness", "events_per_active_user", "utilisation")):
            vals = [metrics[p][name] for p in peers if metrics[p][name] is not None]
            own = metrics[client.pk][name]
            benchmarks.append(
                benchmark(name, r(own, 4), vals, "tier", client.tier, gaps, f"benchmark_insights[{i}]")
            )

    # findings
    findings: list[dict] = []
    last7 = cud_agg(w1 - D(days=6), w1)["aud"]
    prev7 = cud_agg(w1 - D(days=13), w1 - D(days=7))["aud"]
    if prev7 >= 5 and (last7 - prev7) / prev7 <= -0.30 + 1e-12:
        findings.append(
            finding(
                "RSK-01",
                "Usage drop",
                f"Review the usage drop: active user-days {prev7} → {last7} over the last 7 days.",
                Priority.HIGH,
                {
                    "aud_last_7d": last7,
                    "aud_previous_7d": prev7,
                    "change_rate": r((last7 - prev7) / prev7, 4),
                },
            )
        )
    core_available = sorted(k for k in available if catalogue[k].is_core)
    if core_available:
        core_used = [k for k in core_available if k in fud_w]
        breadth = len(core_used) / len(core_available)
        if breadth < 0.70:
            unused = [k for k in core_available if k not in fud_w]
            findings.append(
                finding(
                    "ADP-02",
                    "Low core feature breadth",
                    f"Enable the unused core features: {', '.join(unused)}.",
                    Priority.MEDIUM,
                    {"core_breadth": r(breadth, 4), "threshold": 0.70, "unused_core_features": unused},
                )
            )
    for key in underutilized:
        findings.append(
            finding(
                "ADP-03",
                f"Low adoption of {key}",
                f"Run a feature enablement campaign for {key}.",
                Priority.LOW,
                {"feature_key": key, "adoption_rate": r(rates[key], 4), "threshold": threshold},
            )
        )
    per_user = list(
        active_q.filter(date__gte=w0, date__lte=w1)
        .values("user_id")
        .annotate(n=Sum("counting_events"))
        .order_by("-n", "user_id")
    )
    total_counting = sum(x["n"] for x in per_user)
    if len(per_user) >= 3 and total_counting and per_user[0]["n"] / total_counting >= 0.5:
        findings.append(
            finding(
                "PAT-02",
                "Usage concentrated in one user",
                "Broaden adoption beyond one user.",
                Priority.MEDIUM,
                {
                    "user_id": per_user[0]["user_id"],
                    "share_of_counting_events": r(per_user[0]["n"] / total_counting, 4),
                    "active_users": len(per_user),
                },
            )
        )
    alerts = [
        {
            "alert_id": a.alert_id,
            "reason": a.reason,
            "priority": a.priority,
            "status": a.status,
            "first_triggered_at": a.first_triggered_at.isoformat(),
        }
        for a in Alert.objects.filter(client=client, status=AlertStatus.OPEN)
        .filter(Q(reason="usage_drop") | Q(reason__startswith="adoption_overdue:"))
        .order_by("first_triggered_at", "id")
    ]
    return {
        "client_id": client.client_id,
        "analysis_period": {
            "start": w0.isoformat(),
            "end": w1.isoformat(),
            "days": days,
            "granularity": granularity,
        },
        "engagement_metrics": {
            "total_known_users": known,
            "active_users": active_users,
            "dau_avg": r(aw["aud"] / days, 1),
            "wau": wau,
            "mau": mau,
            "stickiness": r(stickiness, 4),
            "activation_rate": r(activation, 4),
            "engagement_rate": r(engagement_rate, 4),
            "logins": logins,
            "session_minutes": session_minutes,
            "actions": aw["actions"],
            "power_users": len(cohorts["power"]),
            "regular_users": len(cohorts["regular"]),
            "at_risk_users": len(cohorts["at_risk"]),
            "inactive_users": len(cohorts["inactive"]),
            "engagement_trend": engagement_trend,
            "vs_previous_period": vs_prev,
        },
        "usage_analytics": {
            "total_usage_events": aw["events"],
            "total_quantity": float(aw["qty"]),
            "unique_features_used": len(fud_w),
            "total_features_available": len(available),
            "feature_utilization_rate": r(len(used_available) / len(available), 4) if available else None,
            "top_features": [
                {
                    "feature_key": x["feature_key"],
                    "events": x["events"],
                    "users": users_by_feature.get(x["feature_key"], 0)
                    if users_by_feature is not None
                    else None,
                }
                for x in top
            ],
            "underutilized_features": underutilized,
            "new_feature_adoption": [
                {"feature_key": k, "first_used_at": d.isoformat()}
                for k, d in sorted(first_use.items(), key=lambda kv: (kv[1], kv[0]))
                if d >= w0
            ],
            "integration_usage": integration_usage,
            "api_usage": api_usage,
            "usage_trend": usage_trend,
            "usage_growth_rate": r(growth, 4),
        },
        "usage_trends": usage_trends,
        "engagement_patterns": {
            "by_weekday": by_weekday,
            "by_hour": by_hour,
            "peak_weekday": peak_weekday,
            "peak_hour": peak_hour,
        },
        "user_cohorts": (
            {k: {"count": len(v), "user_ids": v[:50]} for k, v in cohorts.items()}
            if include_user_segmentation
            else None
        ),
        "feature_adoption_timeline": timeline,
        "activity_heatmap": heatmap,
        "benchmark_insights": benchmarks,
        "recommendations": sort_findings(findings),
        "alerts": alerts,
        "data_gaps": gaps,
    }


def _usage_series(client: Client, w0: dt.date, w1: dt.date, granularity: str, raw_w, tz) -> list[dict]:
    if granularity == "hourly":
        excluded = counting_exclusions()
        rows = (
            raw_w.annotate(b=TruncHour("occurred_at", tzinfo=tz))
            .values("b")
            .annotate(
                events=Count("id"),
                quantity=Sum("quantity"),
                active_users=Count(
                    "user_id",
                    distinct=True,
                    filter=~Q(user_id__startswith=ANON_PREFIX) & ~Q(feature_key__in=excluded),
                ),
            )
            .order_by("b")
        )
        return [
            {
                "bucket_start": x["b"].isoformat(),
                "events": x["events"],
                "quantity": float(x["quantity"] or 0),
                "active_users": x["active_users"],
            }
            for x in rows
        ]
    kind = {"daily": "day", "weekly": "week", "monthly": "month"}[granularity]
    cud = {
        x["b"]: x
        for x in ClientUsageDaily.objects.filter(client=client, date__gte=w0, date__lte=w1)
        .annotate(b=Trunc("date", kind, output_field=DateField()))
        .values("b")
        .annotate(events=Sum("events"), quantity=Sum("quantity"), dau=Sum("active_users"))
    }
    users = dict(
        UserActivityDaily.objects.filter(client=client, date__gte=w0, date__lte=w1, counting_events__gt=0)
        .exclude(user_id__startswith=ANON_PREFIX)
        .annotate(b=Trunc("date", kind, output_field=DateField()))
        .values("b")
        .annotate(n=Count("user_id", distinct=True))
        .values_list("b", "n")
    )
    out = []
    for b in bucket_starts(w0, w1, granularity):
        row = cud.get(b) or {}
        out.append(
            {
                "bucket_start": max(b, w0).isoformat(),
                "events": row.get("events") or 0,
                "quantity": float(row.get("quantity") or 0),
                "active_users": users.get(b, 0),
            }
        )
    return out


def trunc_date(day: dt.date, granularity: str) -> dt.date:
    if granularity == "weekly":
        return day - D(days=day.weekday())
    if granularity == "monthly":
        return day.replace(day=1)
    return day


def next_bucket(b: dt.date, granularity: str) -> dt.date:
    if granularity == "weekly":
        return b + D(days=7)
    if granularity == "monthly":
        return (b.replace(day=28) + D(days=4)).replace(day=1)
    return b + D(days=1)


def bucket_starts(start: dt.date, end: dt.date, granularity: str) -> list[dt.date]:
    out, b = [], trunc_date(start, granularity)
    while b <= end:
        out.append(b)
        b = next_bucket(b, granularity)
    return out


# ------------------------------------------------------------------------------------------------------------
# calculate_health_score (TOOLS §3.2) — orchestration around health.scoring.score_client
# ------------------------------------------------------------------------------------------------------------

ALERT_REASONS_ON_CALCULATE = ("health_below_threshold", "churn_risk_high")


def _risk_indicators(result: dict[str, Any], client: Client, as_of: dt.date, lookback: int) -> list[dict]:
    """RULES §4.7 risk indicators."""
    out = []
    for c in COMPONENTS:
        s = result["components"].get(c)
        if s is not None and s < 70:
            out.append(
                {
                    "indicator": f"component_low:{c}",
                    "severity": "high" if s < 50 else "medium",
                    "evidence": {"component": c, "score": r(s, 1)},
                }
            )
    if result["trend"] == "declining":
        out.append(
            {
                "indicator": "trend_declining",
                "severity": "high",
                "evidence": {"score_change": result["score_change"]},
            }
        )
    detractor = _decision_maker_detractor(client, as_of, lookback)
    if detractor:
        out.append({"indicator": "decision_maker_detractor", "severity": "high", "evidence": detractor})
    status = (result["inputs"].get("payment") or {}).get("payment_status")
    if status in ("late", "overdue"):
        out.append(
            {
                "indicator": "payment_issue",
                "severity": "high" if status == "overdue" else "medium",
                "evidence": {"payment_status": status},
            }
        )
    return out


def _decision_maker_detractor(client: Client, as_of: dt.date, lookback: int) -> dict | None:
    survey = apps.get_model("feedback", "SurveyResponse")
    since = day_bounds(as_of - D(days=max(lookback, 90) - 1))[0]
    row = (
        survey.objects.filter(
            client=client,
            survey_type="nps",
            score__lte=6,
            responded_at__gte=since,
            responded_at__lt=day_bounds(as_of)[1],
            contact__role__in=["decision_maker", "executive_sponsor"],
        )
        .order_by("-responded_at")
        .values("score", "responded_at", "contact__role", "respondent_email")
        .first()
    )
    if not row:
        return None
    return {
        "score": float(row["score"]),
        "responded_at": row["responded_at"].isoformat(),
        "role": row["contact__role"],
        "respondent_email": row["respondent_email"],
    }


def predicted_scores(client: Client, as_of: dt.date, gaps: list) -> list[dict] | None:
    """RULES §4.7 projection: OLS over the official daily snapshots of the last 90 days (≥ 4 spanning ≥ 14 days),
    12 weekly points clamped 0–100 with a 95 % band ± 1.96 × residual standard error."""
    rows = list(
        HealthSnapshot.objects.filter(
            client=client, as_of__gt=as_of - D(days=90), as_of__lte=as_of, health_score__isnull=False
        )
        .order_by("as_of")
        .values_list("as_of", "health_score")
    )
    if len(rows) < 4 or (rows[-1][0] - rows[0][0]).days < 14:
        gaps.append(
            gap(
                "predicted_scores", "insufficient_history", "Needs ≥ 4 official snapshots spanning ≥ 14 days."
            )
        )
        return None
    xs = [float((d - as_of).days) for d, _ in rows]
    fit = ols(xs, [float(s) for _, s in rows])
    if fit is None:
        gaps.append(gap("predicted_scores", "insufficient_history", "Snapshots do not allow a fit."))
        return None
    out = []
    for week in range(1, 13):
        y = fit["intercept"] + fit["slope"] * 7 * week
        band = 1.96 * fit["se"]
        out.append(
            {
                "week": week,
                "score": r(clamp(y), 1),
                "lower": r(clamp(y - band), 1),
                "upper": r(clamp(y + band), 1),
            }
        )
    return out


def health_score_calculate(
    *,
    actor: Actor,
    client_id: str,
    scoring_model: str = "weighted_composite",
    component_weights: dict[str, Any] | None = None,
    lookback_period_days: int = 30,
    include_predictions: bool = True,
    risk_threshold: float = 60.0,
) -> dict[str, Any]:
    """Score one client through the engine; official results are stored (snapshot, cache, churn prediction,
    alerts, audit + timeline), previews write nothing (RULES §4.6)."""
    weights = None
    if component_weights is not None:
        weights = validate_weights(component_weights)
    elif scoring_model == "custom":
        raise InvalidParameter(
            "scoring_model 'custom' requires component_weights.", field="component_weights"
        )
    client = resolve_client(client_id)
    as_of = today()
    with transaction.atomic():
        before = (
            HealthSnapshot.objects.filter(client=client, as_of=as_of)
            .values("health_score", "risk_level", "trend", *[f"{c}_score" for c in COMPONENTS])
            .first()
        )
        result = score_client(
            client.pk, as_of, weights=weights, lookback_days=lookback_period_days, persist=True
        )
        gaps = list(result["data_gaps"])
        persisted = result["persisted"]
        reasons = []
        if not persisted:
            if weights is not None:
                reasons.append("custom weights")
            if lookback_period_days != 30:
                reasons.append(f"lookback {lookback_period_days} days")
            if client.status != AccountStatus.ACTIVE:
                reasons.append(f"client status {client.status}")
        churn = dict(result["churn"])
        # An active trained model already replaced the heuristic in score_chunk (RULES §5.2).
        if scoring_model == "ml_predictive" and not str(churn.get("method", "")).startswith("churn-logreg"):
            gaps.append(
                gap(
                    "churn_prediction.method",
                    "no_active_churn_model",
                    "No active trained model; heuristic used.",
                )
            )
        automated_alerts: list[dict] = []
        audit_event = None
        if persisted:
            automated_alerts, alert_events = _apply_alerts(result, actor, risk_threshold, as_of)
            after = {
                "health_score": result["health_score"],
                "risk_level": result["risk_level"],
                "trend": result["trend"],
                **{f"{c}_score": result["components"][c] for c in COMPONENTS},
            }
            if before != after:
                audit_event = audit_and_timeline(
                    actor=actor,
                    action="health.snapshot.calculated",
                    client=client,
                    event_type=TimelineEventType.HEALTH,
                    title=f"Health score {result['health_score'] if result['health_score'] is not None else '–'}"
                    f" ({result['risk_level'] or 'not scored'})",
                    object_type="health_snapshot",
                    object_id=f"{client.client_id}:{as_of.isoformat()}",
                    changes={
                        "health_score": [(before or {}).get("health_score"), result["health_score"]],
                        "risk_level": [(before or {}).get("risk_level"), result["risk_level"]],
                    },
                    data={
                        "as_of": as_of.isoformat(),
                        "formula_version": result["explanation"]["formula_version"],
                        "scorecard_id": result["scorecard_id"],
                        "scoring_model": scoring_model,
                        "risk_threshold": risk_threshold,
                    },
                    impact=Impact.NEGATIVE
                    if result["risk_level"] in (RiskLevel.HIGH, RiskLevel.CRITICAL)
                    else Impact.NEUTRAL,
                    severity=Severity.INFO,
                )
            elif alert_events:
                audit_event = alert_events[0]
    payload = _score_payload(
        client=client,
        result=result,
        churn=churn,
        gaps=gaps,
        as_of=as_of,
        include_predictions=include_predictions,
        risk_threshold=risk_threshold,
        lookback=lookback_period_days,
        automated_alerts=automated_alerts,
        audit_event=audit_event,
    )
    payload["message"] = (
        f"Official snapshot for {as_of.isoformat()} stored."
        if result["persisted"]
        else f"Preview ({', '.join(reasons)}): nothing stored."
    )
    return payload


def _apply_alerts(result: dict, actor: Actor, threshold: float, as_of: dt.date) -> tuple[list[dict], list]:
    """Upsert ``health_below_threshold`` / ``churn_risk_high`` through customers' alert service; a same-day
    repeat of an unchanged trigger is left alone so that the call stays idempotent."""
    from customers.services import alert_raise

    from .services import health_alert_candidates

    out, events = [], []
    candidates = [
        c for c in health_alert_candidates(result, threshold) if c["reason"] in ALERT_REASONS_ON_CALCULATE
    ]
    live = {
        a.reason: a
        for a in Alert.objects.filter(
            client_id=result["client_pk"],
            type="risk",
            reason__in=ALERT_REASONS_ON_CALCULATE,
            status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED],
        )
    }
    tz = reporting_tz()
    for c in candidates:
        existing = live.get(c["reason"])
        if (
            existing is not None
            and timezone.localtime(existing.last_triggered_at, tz).date() == as_of
            and Priority.rank(existing.priority) <= Priority.rank(c["priority"])
        ):
            out.append(
                {
                    "alert_id": existing.alert_id,
                    "reason": existing.reason,
                    "priority": existing.priority,
                    "status": existing.status,
                    "created": False,
                    "updated": False,
                }
            )
            continue
        res = alert_raise(
            actor=actor,
            client=result["client_id"],
            type="risk",
            reason=c["reason"],
            priority=c["priority"],
            rule_id=c["rule_id"],
            evidence=jsonable(c["evidence"]),
        )
        if res.audit_event is not None:
            events.append(res.audit_event)
        out.append(
            {
                "alert_id": res.alert.alert_id,
                "reason": res.alert.reason,
                "priority": res.alert.priority,
                "status": res.alert.status,
                "created": res.created,
                "updated": not res.created,
            }
        )
    return out, events


def _score_payload(
    *,
    client: Client,
    result: dict,
    churn: dict,
    gaps: list,
    as_of: dt.date,
    include_predictions: bool,
    risk_threshold: float,
    lookback: int,
    automated_alerts: list,
    audit_event,
) -> dict[str, Any]:
    comps = result["components"]
    eff = result["effective_weights"]
    history = [
        {"as_of": d.isoformat(), "score": s, "risk_level": lvl or None}
        for d, s, lvl in HealthSnapshot.objects.filter(
            client=client, as_of__gt=as_of - D(days=90), as_of__lte=as_of
        )
        .order_by("as_of")
        .values_list("as_of", "health_score", "risk_level")
    ]
    predictions = predicted_scores(client, as_of, gaps) if include_predictions else None
    churn_out = None
    if include_predictions:
        churn_out = {
            "probability": r(churn["probability"], 4),
            "risk_level": churn["risk_level"],
            "method": churn["method"],
            "calibrated": churn["calibrated"],
            "horizon_days": churn["horizon_days"],
            "drivers": [
                {"component": d["component"], "risk_contribution": r(d["risk_contribution"], 2)}
                for d in churn["drivers"]
            ],
            "predicted_churn_date": iso(churn["predicted_churn_date"]),
            "data_coverage": r(churn["data_coverage"], 4),
            "model_metrics": churn["model_metrics"],
        }
        if churn["probability"] is None:
            gaps.append(gap("churn_prediction.probability", "not_enough_data", "No health score."))
        if churn["horizon_days"] is None:
            gaps.append(
                gap("churn_prediction.horizon_days", "not_applicable", "The heuristic has no horizon.")
            )
        if churn["model_metrics"] is None:
            gaps.append(gap("churn_prediction.model_metrics", "not_applicable", "No trained model was used."))
    positive = [
        {"component": c, "score": r(comps[c], 1)}
        for c in COMPONENTS
        if comps[c] is not None and comps[c] >= 80
    ]
    negative = [
        {"component": c, "score": r(comps[c], 1)}
        for c in COMPONENTS
        if comps[c] is not None and comps[c] < 60
    ]
    neutral = [
        {"component": c, "score": r(comps[c], 1)}
        for c in COMPONENTS
        if comps[c] is not None and 60 <= comps[c] < 80
    ]
    comparison = result["comparison"] or {}
    found = health_findings(
        health_score=result["health_score"],
        health_trend=result["trend"],
        components=comps,
        effective_weights={c: w for c, w in eff.items() if w is not None},
        top_drivers=result["explanation"]["top_drivers"],
        churn_level=churn["risk_level"],
        churn_probability=r(churn["probability"], 4),
        risk_level=result["risk_level"],
        comparison_risk_level=comparison.get("risk_level"),
    )
    found = [f for f in found if f["rule_id"] != "HLT-03"]
    if result["health_score"] is not None and result["health_score"] < risk_threshold:
        found.append(
            finding(
                "HLT-03",
                "Health below the risk threshold",
                "Open a risk alert and plan an intervention.",
                Priority.CRITICAL if result["health_score"] < 50 else Priority.HIGH,
                {"health_score": result["health_score"], "threshold": risk_threshold},
                tool_hint="execute_retention_campaign",
            )
        )
    detractor = _decision_maker_detractor(client, as_of, lookback)
    if detractor:
        found.append(
            finding(
                "HLT-08",
                "Decision-maker detractor",
                f"Hold an executive call with {detractor['respondent_email'] or 'the respondent'}.",
                Priority.HIGH,
                detractor,
                tool_hint="conduct_executive_review",
            )
        )
    found = sort_findings(found)
    if result["trend"] is None and result["health_score"] is not None:
        pass  # the engine already reported insufficient_history for the trend
    return {
        "client_id": client.client_id,
        "calculation_timestamp": result["calculated_at"].isoformat(),
        "as_of": as_of.isoformat(),
        "persisted": result["persisted"],
        "current_health_score": result["health_score"],
        "health_trend": result["trend"],
        "score_change": result["score_change"],
        "risk_level": result["risk_level"],
        "low_confidence": result["low_confidence"],
        "component_scores": {
            **{c: r(comps[c], 1) for c in COMPONENTS},
            "weights": {f"{c}_weight": r(result["weights"][c], 4) for c in COMPONENTS},
            "effective_weights": {f"{c}_weight": r(eff[c], 4) for c in COMPONENTS},
            "missing_components": list(result["missing_components"]),
        },
        "explanation": jsonable(result["explanation"]),
        "health_metrics": jsonable(result["inputs"]),
        "risk_indicators": _risk_indicators(result, client, as_of, lookback),
        "churn_prediction": churn_out,
        "historical_scores": history,
        "predicted_scores": predictions,
        "contributing_factors": {
            "positive_factors": positive,
            "negative_factors": negative,
            "neutral_factors": neutral,
        },
        "improvement_opportunities": [f for f in found if f["rule_id"] == "HLT-06"],
        "automated_alerts": automated_alerts,
        "recommended_actions": found,
        "audit_event_id": str(audit_event.event_id) if audit_event else None,
        "data_gaps": gaps,
    }


# ------------------------------------------------------------------------------------------------------------
# analyze_health_trends (TOOLS §3.9)
# ------------------------------------------------------------------------------------------------------------

SEGMENT_BY_PATH = {
    "tier": "client__tier",
    "value_tier": "client__value_tier",
    "lifecycle_stage": "client__lifecycle_stage",
    "csm": "client__csm_assigned__username",
}


def _portfolio_bucket(values: list[dict]) -> dict[str, Any]:
    scores = [v["health_score"] for v in values if v["health_score"] is not None]
    dist = {b: 0 for b in BANDS}
    for v in values:
        if v["health_score"] is not None:
            dist[risk_band(v["health_score"])] += 1
    return {
        "avg_score": r(sum(scores) / len(scores), 1) if scores else None,
        "median_score": r(statistics.median(scores), 1) if scores else None,
        "clients_scored": len(scores),
        "band_distribution": {str(k): n for k, n in dist.items()},
    }


def health_trends(
    *,
    client_id: str | None = None,
    lookback_days: int = 90,
    granularity: str = "weekly",
    include_forecast: bool = True,
    forecast_periods: int = 4,
    segment_by: str | None = None,
    include_components: bool = True,
) -> dict[str, Any]:
    if segment_by and client_id:
        raise InvalidParameter("segment_by applies to the portfolio only (no client_id).", field="segment_by")
    client = resolve_client(client_id) if client_id else None
    gaps: list[dict] = []
    end = today()
    start = end - D(days=lookback_days - 1)
    kind = {"daily": "day", "weekly": "week", "monthly": "month"}[granularity]
    qs = HealthSnapshot.objects.filter(as_of__gte=start, as_of__lte=end)
    qs = qs.filter(client=client) if client else qs.filter(client__status=AccountStatus.ACTIVE)
    fields = [
        "client_id",
        "client__client_id",
        "client__client_name",
        "b",
        "as_of",
        "health_score",
        "risk_level",
    ]
    fields += [f"{c}_score" for c in COMPONENTS]
    if segment_by:
        fields.append(SEGMENT_BY_PATH[segment_by])
    rows = list(
        qs.annotate(b=Trunc("as_of", kind, output_field=DateField()))
        .annotate(
            rn=Window(
                RowNumber(),
                partition_by=[F("client_id"), F("b")],
                order_by=[F("as_of").desc(), F("id").desc()],
            )
        )
        .filter(rn=1)
        .values(*fields)
        .order_by("b", "client_id")
    )
    buckets = bucket_starts(start, end, granularity)
    index = {b: i for i, b in enumerate(buckets)}
    by_bucket: dict[dt.date, list[dict]] = defaultdict(list)
    for row in rows:
        by_bucket[row["b"]].append(row)
    present = [b for b in buckets if by_bucket.get(b)]
    series: list[dict] = []
    segments = None
    if client:
        for b in present:
            v = by_bucket[b][0]
            item = {
                "bucket_start": max(b, start).isoformat(),
                "score": v["health_score"],
                "risk_level": v["risk_level"] or None,
            }
            if include_components:
                item["components"] = {c: r(v[f"{c}_score"], 1) for c in COMPONENTS}
            series.append(item)
        values = [
            (index[b], by_bucket[b][0]["health_score"])
            for b in present
            if by_bucket[b][0]["health_score"] is not None
        ]
    else:
        for b in present:
            series.append({"bucket_start": max(b, start).isoformat(), **_portfolio_bucket(by_bucket[b])})
        values = [
            (index[b], sum(s) / len(s))
            for b in present
            if (s := [v["health_score"] for v in by_bucket[b] if v["health_score"] is not None])
        ]
        if segment_by:
            path = SEGMENT_BY_PATH[segment_by]
            segments = {}
            keys = sorted({(row[path] or "unassigned") for row in rows})
            for key in keys:
                segments[key] = [
                    {"bucket_start": max(b, start).isoformat(), **_portfolio_bucket(sel)}
                    for b in present
                    if (sel := [v for v in by_bucket[b] if (v[path] or "unassigned") == key])
                ]
    if not present:
        gaps.append(gap("series", "no_score", "No official snapshot in the lookback window."))

    first_b, last_b = (present[0], present[-1]) if present else (None, None)
    component_trends = None
    if include_components and present:
        component_trends = {}
        for c in COMPONENTS:

            def mean_of(b, c=c):
                vals = [v[f"{c}_score"] for v in by_bucket[b] if v[f"{c}_score"] is not None]
                return sum(vals) / len(vals) if vals else None

            s0, s1 = mean_of(first_b), mean_of(last_b)
            change = s1 - s0 if s0 is not None and s1 is not None else None
            component_trends[c] = {
                "start": r(s0, 1),
                "end": r(s1, 1),
                "change": r(change, 1),
                "direction": trend_label(round(change, 6)) if change is not None else None,
            }
            if change is None:
                gaps.append(
                    gap(
                        f"component_trends.{c}",
                        "not_enough_data",
                        f"{c} missing at the first or last bucket.",
                    )
                )

    band_migrations: dict[str, int] = {}
    movers = None
    pairs = []
    if present and first_b != last_b:
        first = {v["client_id"]: v for v in by_bucket[first_b] if v["health_score"] is not None}
        last = {v["client_id"]: v for v in by_bucket[last_b] if v["health_score"] is not None}
        for cid in sorted(set(first) & set(last)):
            a, z = first[cid], last[cid]
            key = f"{risk_band(a['health_score'])}->{risk_band(z['health_score'])}"
            band_migrations[key] = band_migrations.get(key, 0) + 1
            pairs.append(
                {
                    "client_id": z["client__client_id"],
                    "client_name": z["client__client_name"],
                    "start_score": a["health_score"],
                    "end_score": z["health_score"],
                    "change": z["health_score"] - a["health_score"],
                }
            )
    if not client:
        movers = {
            "improving": sorted(
                (p for p in pairs if p["change"] > 0), key=lambda p: (-p["change"], p["client_id"])
            )[:10],
            "declining": sorted(
                (p for p in pairs if p["change"] < 0), key=lambda p: (p["change"], p["client_id"])
            )[:10],
        }

    forecast = None
    if include_forecast:
        fit = ols([float(x) for x, _ in values], [float(y) for _, y in values]) if len(values) >= 6 else None
        if fit is None:
            gaps.append(
                gap("forecast", "insufficient_history", "The forecast needs ≥ 6 buckets with a score.")
            )
        else:
            points, b, x = [], buckets[-1], len(buckets) - 1
            for _ in range(forecast_periods):
                b, x = next_bucket(b, granularity), x + 1
                y = fit["intercept"] + fit["slope"] * x
                band = 1.96 * fit["se"]
                points.append(
                    {
                        "bucket_start": b.isoformat(),
                        "score": r(clamp(y), 1),
                        "lower": r(clamp(y - band), 1),
                        "upper": r(clamp(y + band), 1),
                    }
                )
            forecast = {"method": "ols_linear", "points": points, "r2": r(fit["r2"], 4), "n_points": fit["n"]}

    if values:
        v0, v1 = values[0][1], values[-1][1]
        change = v1 - v0
        summary = {
            "start_value": r(v0, 1),
            "end_value": r(v1, 1),
            "change": r(change, 1),
            "direction": trend_label(round(change, 6)) if len(values) > 1 else None,
        }
        if len(values) < 2:
            gaps.append(gap("summary.direction", "insufficient_history", "Only one bucket with a score."))
    else:
        summary = {"start_value": None, "end_value": None, "change": None, "direction": None}
        gaps.append(gap("summary", "no_score", "No scored bucket."))
    return {
        "scope": {"client_id": client.client_id if client else None, "segment_by": segment_by},
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "granularity": granularity,
        "series": series,
        "segments": segments,
        "component_trends": component_trends,
        "band_migrations": band_migrations,
        "movers": movers,
        "forecast": forecast,
        "summary": summary,
        "data_gaps": gaps,
    }


# ------------------------------------------------------------------------------------------------------------
# generate_health_reports (TOOLS §3.10)
# ------------------------------------------------------------------------------------------------------------


def report_period(period: str, end: dt.date) -> tuple[dt.date, dt.date]:
    if period.endswith("d"):
        return end - D(days=int(period[:-1]) - 1), end
    if period == "qtd":
        return dt.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end
    return dt.date(end.year, 1, 1), end  # ytd


def _snap(field: str, on: dt.date):
    return Subquery(
        HealthSnapshot.objects.filter(client=OuterRef("pk"), as_of__lte=on)
        .order_by("-as_of")
        .values(field)[:1]
    )


def _portfolio_rows_qs(start: dt.date, end: dt.date):
    """Active clients annotated (correlated subqueries, one SQL statement) with their score now and at the
    start of the period, the latest churn prediction, open alerts and the active retention campaign."""
    campaign = apps.get_model("retention", "RetentionCampaign")
    churn = ChurnPrediction.objects.filter(client=OuterRef("pk"), as_of__lte=end).order_by("-as_of")
    return Client.objects.filter(status=AccountStatus.ACTIVE).annotate(
        cur_score=_snap("health_score", end),
        cur_risk=_snap("risk_level", end),
        start_score=_snap("health_score", start),
        start_risk=_snap("risk_level", start),
        churn_p=Subquery(churn.values("probability")[:1], output_field=FloatField()),
        churn_level=Subquery(churn.values("risk_level")[:1]),
        churn_drivers=Subquery(churn.values("drivers")[:1], output_field=JSONField()),
        open_alerts=Coalesce(
            Subquery(
                Alert.objects.filter(client=OuterRef("pk"), status=AlertStatus.OPEN)
                .order_by()
                .values("client")
                .annotate(n=Count("id"))
                .values("n"),
                output_field=IntegerField(),
            ),
            0,
        ),
        active_campaign=Subquery(
            campaign.objects.filter(client=OuterRef("pk"), status="active")
            .order_by("-started_at")
            .values("campaign_id")[:1]
        ),
    )


ROW_FIELDS = (
    "client_id",
    "client_name",
    "contract_value",
    "renewal_date",
    "cur_score",
    "cur_risk",
    "start_score",
    "start_risk",
    "churn_p",
    "churn_level",
    "open_alerts",
    "active_campaign",
)


def _client_row(x: dict, end: dt.date) -> dict[str, Any]:
    change = (
        x["cur_score"] - x["start_score"]
        if x["cur_score"] is not None and x["start_score"] is not None
        else None
    )
    return {
        "client_id": x["client_id"],
        "client_name": x["client_name"],
        "health_score": x["cur_score"],
        "risk_level": x["cur_risk"] or None,
        "start_score": x["start_score"],
        "change": change,
        "arr": money(x["contract_value"]),
        "churn_probability": r(x["churn_p"], 4),
        "churn_level": x["churn_level"] or None,
        "renewal_date": iso(x["renewal_date"]),
        "days_to_renewal": (x["renewal_date"] - end).days if x["renewal_date"] else None,
        "open_alerts": x["open_alerts"],
        "active_campaign": x["active_campaign"],
    }


def health_report(
    *,
    report_type: str = "portfolio",
    client_id: str | None = None,
    period: str = "30d",
    format: str = "json",  # noqa: A002 - the spec's parameter name
    min_change: int = 10,
    limit: int = 100,
) -> dict[str, Any]:
    if report_type == "account" and not client_id:
        raise InvalidParameter("client_id is required for the account report.", field="client_id")
    if report_type != "account" and client_id:
        raise InvalidParameter(f"client_id is not allowed for the {report_type} report.", field="client_id")
    client = resolve_client(client_id) if client_id else None
    end = today()
    start, end = report_period(period, end)
    gaps: list[dict] = []
    builder = {
        "portfolio": _report_portfolio,
        "account": _report_account,
        "at_risk": _report_at_risk,
        "movers": _report_movers,
    }[report_type]
    built = builder(start=start, end=end, client=client, min_change=min_change, limit=limit, gaps=gaps)
    title = {
        "portfolio": "Portfolio health report",
        "account": f"Health report — {client.client_name if client else ''}",
        "at_risk": "At-risk accounts",
        "movers": f"Health movers (|change| ≥ {min_change})",
    }[report_type]
    if format == "json":
        content: Any = built["content"]
    elif format == "csv":
        content = to_csv(built["columns"], built["rows"])
    else:
        content = to_markdown(title, start, end, built["summary"], built["tables"])
    return {
        "report_id": stable_id(
            "rpt",
            "generate_health_reports",
            {
                "report_type": report_type,
                "client_id": client_id,
                "period": period,
                "format": format,
                "min_change": min_change,
                "limit": limit,
                "as_of": end.isoformat(),
            },
        ),
        "report_type": report_type,
        "period": {"start": start.isoformat(), "end": end.isoformat(), "label": period},
        "generated_at": timezone.now().isoformat(),
        "format": format,
        "content": content,
        "summary": built["summary"],
        "row_count": len(built["rows"]),
        "truncated": built["truncated"],
        "data_gaps": gaps,
    }


CLIENT_COLUMNS = [
    "client_id",
    "client_name",
    "health_score",
    "risk_level",
    "start_score",
    "change",
    "arr",
    "churn_probability",
    "churn_level",
    "renewal_date",
    "days_to_renewal",
    "open_alerts",
    "active_campaign",
]


def _report_portfolio(*, start, end, client, min_change, limit, gaps) -> dict[str, Any]:
    qs = _portfolio_rows_qs(start, end)
    stats = qs.aggregate(
        clients=Count("pk"),
        scored=Count("pk", filter=Q(cur_score__isnull=False)),
        mean=Avg("cur_score"),
    )
    now_bands = {
        (x["cur_risk"] or "not_scored"): x
        for x in qs.values("cur_risk").annotate(n=Count("pk"), arr=Sum("contract_value")).order_by()
    }
    start_bands = {
        (x["start_risk"] or "not_scored"): x["n"]
        for x in qs.values("start_risk").annotate(n=Count("pk")).order_by()
    }
    rows = list(qs.values(*ROW_FIELDS).order_by("client_id"))
    scores = [x["cur_score"] for x in rows if x["cur_score"] is not None]
    keys = [str(b) for b in BANDS] + ["not_scored"]
    band_now = {k: now_bands.get(k, {}).get("n", 0) for k in keys}
    band_start = {k: start_bands.get(k, 0) for k in keys}
    arr_by_band = {k: money(now_bands.get(k, {}).get("arr") or 0) for k in keys}
    arr_at_risk = money(sum(Decimal(now_bands.get(k, {}).get("arr") or 0) for k in ("high", "critical")))
    client_rows = [_client_row(x, end) for x in rows]
    changes = [x for x in client_rows if x["change"] is not None]
    improving = sorted((x for x in changes if x["change"] > 0), key=lambda x: (-x["change"], x["client_id"]))[
        :5
    ]
    declining = sorted((x for x in changes if x["change"] < 0), key=lambda x: (x["change"], x["client_id"]))[
        :5
    ]
    missing = HealthSnapshot.objects.filter(
        client__status=AccountStatus.ACTIVE, as_of__gte=start, as_of__lte=end
    ).aggregate(
        total=Count("id"), **{c: Count("id", filter=Q(**{f"{c}_score__isnull": True})) for c in COMPONENTS}
    )
    missing_share = {
        c: (r(missing[c] / missing["total"], 4) if missing["total"] else None) for c in COMPONENTS
    }
    if not missing["total"]:
        gaps.append(gap("content.component_missing_share", "no_score", "No snapshot in the period."))
    mean = stats["mean"]
    if mean is None:
        gaps.append(gap("summary.mean_health", "no_score", "No scored client."))
    summary = {
        "clients": stats["clients"],
        "clients_scored": stats["scored"],
        "mean_health": r(mean, 1),
        "median_health": r(statistics.median(scores), 1) if scores else None,
        "arr_at_risk": arr_at_risk,
    }
    shown = client_rows[:limit]
    mover = lambda x: {k: x[k] for k in ("client_id", "client_name", "start_score", "health_score", "change")}  # noqa: E731
    content = {
        "summary": summary,
        "band_distribution": {"now": band_now, "period_start": band_start},
        "arr_by_band": arr_by_band,
        "arr_at_risk": arr_at_risk,
        "top_movers": {
            "improving": [mover(x) for x in improving],
            "declining": [mover(x) for x in declining],
        },
        "component_missing_share": missing_share,
        "clients": shown,
    }
    band_table = [[k, band_start[k], band_now[k], arr_by_band[k]] for k in keys]
    return {
        "content": content,
        "summary": summary,
        "rows": shown,
        "columns": CLIENT_COLUMNS,
        "truncated": len(client_rows) > limit,
        "tables": [
            ("Risk bands", ["band", "period_start", "now", "arr"], band_table),
            (
                "Top movers",
                ["direction", "client_id", "start_score", "health_score", "change"],
                [["up", x["client_id"], x["start_score"], x["health_score"], x["change"]] for x in improving]
                + [
                    ["down", x["client_id"], x["start_score"], x["health_score"], x["change"]]
                    for x in declining
                ],
            ),
            ("Clients", CLIENT_COLUMNS, [[x[c] for c in CLIENT_COLUMNS] for x in shown]),
        ],
    }


def _report_at_risk(*, start, end, client, min_change, limit, gaps) -> dict[str, Any]:
    qs = (
        _portfolio_rows_qs(start, end)
        .filter(Q(cur_risk__in=["high", "critical"]) | Q(churn_level__in=["high", "critical"]))
        .annotate(
            exposure=ExpressionWrapper(
                Cast("contract_value", FloatField()) * F("churn_p"), output_field=FloatField()
            )
        )
        .order_by(F("exposure").desc(nulls_last=True), "client_id")
    )
    rows = list(qs.values(*ROW_FIELDS, "churn_drivers", "exposure")[: limit + 1])
    truncated = len(rows) > limit
    rows = rows[:limit]
    ids = [x["client_id"] for x in rows]
    reasons: dict[str, list[str]] = defaultdict(list)
    for cid, reason in (
        Alert.objects.filter(client__client_id__in=ids, status=AlertStatus.OPEN)
        .order_by("client__client_id", "reason")
        .values_list("client__client_id", "reason")
    ):
        reasons[cid].append(reason)
    out = []
    for x in rows:
        row = _client_row(x, end)
        row["top_drivers"] = [d.get("component") for d in (x["churn_drivers"] or [])[:3]]
        row["alert_reasons"] = reasons.get(x["client_id"], [])
        row["exposure"] = money(x["exposure"]) if x["exposure"] is not None else None
        out.append(row)
    total = qs.count() if truncated else len(out)
    summary = {
        "clients_at_risk": total,
        "arr_listed": money(sum(Decimal(str(x["arr"])) for x in out)),
        "exposure_listed": money(sum(Decimal(str(x["exposure"] or 0)) for x in out)),
    }
    columns = [
        "client_id",
        "client_name",
        "health_score",
        "risk_level",
        "arr",
        "churn_probability",
        "churn_level",
        "exposure",
        "renewal_date",
        "days_to_renewal",
        "top_drivers",
        "open_alerts",
        "alert_reasons",
        "active_campaign",
    ]
    return {
        "content": {"summary": summary, "clients": out},
        "summary": summary,
        "rows": out,
        "columns": columns,
        "truncated": truncated,
        "tables": [("At-risk accounts", columns, [[x[c] for c in columns] for x in out])],
    }


def _report_movers(*, start, end, client, min_change, limit, gaps) -> dict[str, Any]:
    qs = (
        _portfolio_rows_qs(start, end)
        .filter(cur_score__isnull=False, start_score__isnull=False)
        .annotate(chg=ExpressionWrapper(F("cur_score") - F("start_score"), output_field=IntegerField()))
        .filter(Q(chg__gte=min_change) | Q(chg__lte=-min_change))
        .annotate(abs_chg=Abs("chg"))
        .order_by("-abs_chg", "client_id")
    )
    rows = list(qs.values(*ROW_FIELDS)[: limit + 1])
    truncated = len(rows) > limit
    out = [_client_row(x, end) for x in rows[:limit]]
    summary = {
        "movers": qs.count() if truncated else len(out),
        "improving": sum(1 for x in out if x["change"] > 0),
        "declining": sum(1 for x in out if x["change"] < 0),
        "min_change": min_change,
    }
    columns = [
        "client_id",
        "client_name",
        "start_score",
        "health_score",
        "change",
        "risk_level",
        "start_risk",
        "arr",
    ]
    start_risk = {x["client_id"]: x["start_risk"] or None for x in rows}
    for x in out:
        x["start_risk"] = start_risk[x["client_id"]]
    return {
        "content": {"summary": summary, "clients": out},
        "summary": summary,
        "rows": out,
        "columns": columns,
        "truncated": truncated,
        "tables": [("Movers", columns, [[x[c] for c in columns] for x in out])],
    }


def _report_account(*, start, end, client, min_change, limit, gaps) -> dict[str, Any]:
    from .scoring import snapshot_explanation

    snaps = HealthSnapshot.objects.filter(client=client, as_of__lte=end)
    current = snaps.order_by("-as_of").first()
    at_start = snaps.filter(as_of__lte=start).order_by("-as_of").first()
    if current is None:
        gaps.append(gap("content.current", "no_score", "The client has no official snapshot."))
    if at_start is None:
        gaps.append(
            gap("content.vs_period_start", "insufficient_history", "No snapshot at the period start.")
        )
    components = []
    if current is not None:
        expl = snapshot_explanation(current)
        by_c = {c["component"]: c for c in expl.get("components", [])}
        for c in COMPONENTS:
            e = by_c.get(c, {})
            s0 = getattr(at_start, f"{c}_score") if at_start else None
            s1 = getattr(current, f"{c}_score")
            components.append(
                {
                    "component": c,
                    "score": r(s1, 1),
                    "base_weight": r((current.weights or {}).get(c), 4),
                    "effective_weight": r((current.effective_weights or {}).get(c), 4),
                    "contribution": e.get("contribution"),
                    "start_score": r(s0, 1),
                    "change": r(s1 - s0, 1) if s0 is not None and s1 is not None else None,
                }
            )
    series = [
        {"as_of": d.isoformat(), "score": s, "risk_level": lvl or None}
        for d, s, lvl in snaps.filter(as_of__gte=start)
        .order_by("as_of")
        .values_list("as_of", "health_score", "risk_level")
    ]
    alerts = [
        {"alert_id": a.alert_id, "reason": a.reason, "priority": a.priority, "status": a.status}
        for a in Alert.objects.filter(client=client, status=AlertStatus.OPEN).order_by("reason")
    ]
    churn = ChurnPrediction.objects.filter(client=client, as_of__lte=end).order_by("-as_of").first()
    renewal_model = apps.get_model("expansion", "Renewal")
    renewal = (
        renewal_model.objects.filter(client=client)
        .order_by(F("closed_at").desc(nulls_first=True), "-renewal_date")
        .values("renewal_id", "renewal_date", "status", "probability")
        .first()
    )
    if renewal is None:
        gaps.append(gap("content.renewal", "not_applicable", "No renewal record."))
    if churn is None:
        gaps.append(gap("content.churn_prediction", "no_score", "No churn prediction stored."))
    score = current.health_score if current else None
    start_score = at_start.health_score if at_start else None
    summary = {
        "client_id": client.client_id,
        "health_score": score,
        "risk_level": (current.risk_level or None) if current else None,
        "health_trend": (current.trend or None) if current else None,
        "start_score": start_score,
        "change": score - start_score if score is not None and start_score is not None else None,
        "as_of": current.as_of.isoformat() if current else None,
    }
    content = {
        "summary": summary,
        "components": components,
        "explanation": snapshot_explanation(current) if current else None,
        "vs_period_start": {
            "as_of": at_start.as_of.isoformat() if at_start else None,
            "score": start_score,
            "components": {x["component"]: x["change"] for x in components},
        },
        "snapshots": series,
        "open_alerts": alerts,
        "churn_prediction": (
            {
                "as_of": churn.as_of.isoformat(),
                "probability": r(churn.probability, 4),
                "risk_level": churn.risk_level or None,
                "method": churn.method,
                "drivers": jsonable(churn.drivers),
                "predicted_churn_date": iso(churn.predicted_churn_date),
            }
            if churn
            else None
        ),
        "renewal": jsonable(renewal) if renewal else None,
    }
    columns = [
        "component",
        "score",
        "base_weight",
        "effective_weight",
        "contribution",
        "start_score",
        "change",
    ]
    return {
        "content": content,
        "summary": summary,
        "rows": components,
        "columns": columns,
        "truncated": False,
        "tables": [
            ("Components", columns, [[x[c] for c in columns] for x in components]),
            (
                "Snapshots",
                ["as_of", "score", "risk_level"],
                [[x["as_of"], x["score"], x["risk_level"]] for x in series],
            ),
            (
                "Open alerts",
                ["alert_id", "reason", "priority"],
                [[a["alert_id"], a["reason"], a["priority"]] for a in alerts],
            ),
        ],
    }
