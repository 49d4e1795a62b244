"""Read-side computations behind the health tools (TOOLS §3): usage and engagement analytics over roll-ups,
feature adoption, engagement patterns, health trends, reports; plus the orchestration of the
``calculate_health_score`` call around the health engine (:mod:`health.scoring` owns every formula).

Numbers come from stored rows only; anything missing is ``None`` with a ``data_gaps`` entry (RULES §15.2).
Portfolio-wide functions run a fixed number of aggregate queries whatever the number of clients.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import statistics
from collections import Counter, defaultdict
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
    Max,
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
from cs_project.core.errors import InvalidParameter, NotFound
from customers.audit import audit_and_timeline
from customers.choices import (
    AccountStatus,
    AlertStatus,
    ContractStatus,
    Impact,
    Priority,
    RiskLevel,
    Severity,
    Tier,
    TimelineEventType,
)
from customers.models import Alert, Client, Contract
from customers.rules import finding, health_findings, sort_findings

from .choices import COMPONENTS
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
from .scoring import risk_band, score_client, trend_label, validate_weights
from .segmentation import gap, money, r, stable_id, today

D = dt.timedelta
BANDS = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


# ------------------------------------------------------------------------------------------------------------
# Shared helpers
# ------------------------------------------------------------------------------------------------------------


def resolve_client(client_id: str) -> Client:
    try:
        return Client.objects.get(client_id=client_id)
    except Client.DoesNotExist:
        raise NotFound(f"Client '{client_id}' does not exist.", field="client_id") from None


def rate_change(new: float | None, old: float | None) -> float | None:
    if new is None or not old:
        return None
    return (new - old) / old


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


def ols(xs: list[float], ys: list[float]) -> dict[str, float] | None:
    """Ordinary least squares y = a + b·x with r² and the residual standard error (n − 2 d.o.f.)."""
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    sse = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    sst = sum((y - my) ** 2 for y in ys)
    return {
        "slope": slope,
        "intercept": intercept,
        "r2": 1 - sse / sst if sst else 1.0,
        "se": math.sqrt(sse / (n - 2)),
        "n": n,
    }


def clamp(v: float, low: float = 0.0, high: float = 100.0) -> float:
    return max(low, min(high, v))


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[1], q[2]


def percentile_rank(value: float, peers: list[float]) -> int:
    """RULES §15.1: 100 × (peers below + 0.5 × peers equal) ÷ peers, integer."""
    below = sum(1 for p in peers if p < value)
    equal = sum(1 for p in peers if p == value)
    return int(r(100 * (below + 0.5 * equal) / len(peers), 0))


def benchmark(
    metric: str,
    value: float | None,
    peers: list[float],
    dimension: str,
    dim_value: str,
    gaps: list,
    path: str,
) -> dict[str, Any]:
    """RULES §15.1 shape; fewer than ``benchmark_min_peers`` → nulls + ``peer_group_too_small``."""
    minimum = int(settings.CS_RULES.get("benchmark_min_peers", 5))
    out = {
        "metric": metric,
        "value": value,
        "peer_group": {"dimension": dimension, "value": dim_value, "size": len(peers)},
        "percentile": None,
        "peer_p25": None,
        "peer_median": None,
        "peer_p75": None,
    }
    if len(peers) < minimum:
        gaps.append(gap(f"{path}.percentile", "peer_group_too_small", f"{len(peers)} peers (< {minimum})."))
        return out
    p25, p50, p75 = quartiles(sorted(peers))
    out.update(
        peer_p25=r(p25, 4),
        peer_median=r(p50, 4),
        peer_p75=r(p75, 4),
        percentile=percentile_rank(value, peers) if value is not None else None,
    )
    if value is None:
        gaps.append(gap(f"{path}.value", "not_enough_data", "The client's own value is not available."))
    return out


def tier_rank(tier: str) -> int:
    try:
        return Tier.rank(tier)
    except ValueError:
        return 0


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


def seats_of(client: Client) -> int | None:
    return (
        Contract.objects.filter(client=client, status=ContractStatus.ACTIVE)
        .order_by("-start_date", "-id")
        .values_list("included_users", flat=True)
        .first()
    )


def counting_exclusions() -> list[str]:
    """Feature keys whose events do not count as activity (RULES §3.1)."""
    return list(Feature.objects.filter(counts_as_activity=False).values_list("feature_key", flat=True))


def iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v


def jsonable(value: Any, places: int = 4) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v, places) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, places) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float):
        return None if not math.isfinite(value) else r(value, places)
    return value


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


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return "; ".join(str(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def to_csv(columns: list[str], rows: list[dict]) -> str:
    """One row per record with a header row; RFC 4180 quoting and CRLF line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _md(v: Any) -> str:
    text = _cell(v)
    return text.replace("|", "\\|").replace("\n", " ") if text else "–"


def to_markdown(title: str, start: dt.date, end: dt.date, summary: dict, tables: list[tuple]) -> str:
    lines = [f"# {title}", "", f"Period: {start.isoformat()} – {end.isoformat()}", "", "## Summary", ""]
    lines += ["| Metric | Value |", "|---|---|"]
    lines += [f"| {k} | {_md(v)} |" for k, v in summary.items()]
    for name, columns, rows in tables:
        lines += ["", f"## {name}", ""]
        if not rows:
            lines.append("_None._")
            continue
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        lines += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------------
# track_feature_adoption (TOOLS §3.4)
# ------------------------------------------------------------------------------------------------------------

OPEN_EXPANSION_STAGES = ("identified", "qualified", "proposal", "negotiation")


def _cohort_rows(client_ids: list[int], w0: dt.date, w1: dt.date, days: int) -> list[dict]:
    """Per (client, user): active days in W, in P and in the 90 days before W (one GROUP BY)."""
    p0, p1 = w0 - D(days=days), w0 - D(days=1)
    lo = min(p0, w0 - D(days=90))
    return list(
        UserActivityDaily.objects.filter(
            client_id__in=client_ids, counting_events__gt=0, date__gte=lo, date__lte=w1
        )
        .exclude(user_id__startswith=ANON_PREFIX)
        .values("client_id", "user_id")
        .annotate(
            w=Count("id", filter=Q(date__gte=w0)),
            p=Count("id", filter=Q(date__gte=p0, date__lte=p1)),
            before=Count("id", filter=Q(date__gte=w0 - D(days=90), date__lt=w0)),
        )
    )


def _high_value_features(keys: list[str], catalogue: dict, w0: dt.date, w1: dt.date) -> list[dict]:
    """Adopters' mean health exceeds non-adopters' by ≥ 10 points (≥ 5 clients per group), portfolio-wide."""
    clients = list(
        Client.objects.filter(status=AccountStatus.ACTIVE, health_score__isnull=False).values_list(
            "pk", "tier", "health_score"
        )
    )
    users: dict[str, set[int]] = defaultdict(set)
    for cid, key in (
        FeatureUsageDaily.objects.filter(
            client__status=AccountStatus.ACTIVE,
            date__gte=w0,
            date__lte=w1,
            events__gt=0,
            feature_key__in=keys,
        )
        .values_list("client_id", "feature_key")
        .distinct()
    ):
        users[key].add(cid)
    out = []
    for key in keys:
        f = catalogue[key]
        eligible = [(pk, h) for pk, tier, h in clients if tier_rank(tier) >= tier_rank(f.min_tier)]
        a = [h for pk, h in eligible if pk in users[key]]
        n = [h for pk, h in eligible if pk not in users[key]]
        if len(a) >= 5 and len(n) >= 5:
            ma, mn = sum(a) / len(a), sum(n) / len(n)
            if ma - mn >= 10:
                out.append(
                    {
                        "feature_key": key,
                        "adopters_avg_health": r(ma, 1),
                        "non_adopters_avg_health": r(mn, 1),
                        "difference": r(ma - mn, 1),
                        "n_adopters": len(a),
                        "n_non_adopters": len(n),
                    }
                )
    return sorted(out, key=lambda x: (-x["difference"], x["feature_key"]))


def _jaccard_pairs(sets: dict[str, set], top: int = 10) -> list[dict]:
    keys = sorted(k for k, v in sets.items() if v)
    pairs = []
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            inter = len(sets[a] & sets[b])
            if inter:
                pairs.append(
                    {
                        "features": [a, b],
                        "jaccard": r(inter / len(sets[a] | sets[b]), 4),
                        "co_users": inter,
                    }
                )
    return sorted(pairs, key=lambda p: (-p["jaccard"], p["features"]))[:top]


def feature_adoption(
    *,
    client_id: str | None = None,
    feature_id: str | None = None,
    time_period_days: int = 90,
    adoption_threshold: float = 0.2,
    include_user_personas: bool = True,
    optimization_recommendations: bool = True,
) -> dict[str, Any]:
    client = resolve_client(client_id) if client_id else None
    if feature_id is not None and not Feature.objects.filter(feature_key=feature_id).exists():
        raise NotFound(f"Feature '{feature_id}' is not in the catalogue.", field="feature_id")
    gaps: list[dict] = []
    end = today()
    w0 = end - D(days=time_period_days - 1)
    raw_ok = w0 >= raw_retention_cutoff()
    catalogue = {f.feature_key: f for f in Feature.objects.filter(active=True)}
    if feature_id is not None and feature_id not in catalogue:
        catalogue[feature_id] = Feature.objects.get(feature_key=feature_id)
    keys = [feature_id] if feature_id else sorted(catalogue)
    if not keys:
        gaps.append(gap("feature_adoption_breakdown", "no_catalogue", "No active feature in the catalogue."))
    ids = (
        [client.pk]
        if client
        else list(Client.objects.filter(status=AccountStatus.ACTIVE).values_list("pk", flat=True))
    )
    if client:
        ensure_fresh(ids)
    else:
        from .rollups import rollup_pending

        rollup_pending()
    client_info = {
        x["pk"]: x
        for x in Client.objects.filter(pk__in=ids).values(
            "pk", "tier", "lifecycle_stage", "contract_start_date"
        )
    }
    fud = list(
        FeatureUsageDaily.objects.filter(
            client_id__in=ids, date__gte=w0, date__lte=end, events__gt=0
        ).values_list("client_id", "feature_key", "date", "events", "active_users")
    )
    used_by: dict[str, set[int]] = defaultdict(set)
    events_by: Counter = Counter()
    dates_by: dict[tuple, list[dt.date]] = defaultdict(list)
    for cid, key, day, ev, _au in fud:
        used_by[key].add(cid)
        events_by[key] += ev
        dates_by[(cid, key)].append(day)
    span = {
        x["feature_key"]: x
        for x in FeatureUsageDaily.objects.filter(client_id__in=ids, events__gt=0, date__lte=end)
        .values("feature_key")
        .annotate(first=Min("date"), last=Max("date"))
    }
    first_use = {
        (x["client_id"], x["feature_key"]): x["first"]
        for x in FeatureUsageDaily.objects.filter(client_id__in=ids, events__gt=0, date__lte=end)
        .values("client_id", "feature_key")
        .annotate(first=Min("date"))
    }
    core_keys = [k for k, f in catalogue.items() if f.is_core and f.catalogued]

    def core_breadth(cid: int) -> float | None:
        rank = tier_rank(client_info[cid]["tier"])
        avail = [k for k in core_keys if tier_rank(catalogue[k].min_tier) <= rank]
        if not avail:
            return None
        return sum(1 for k in avail if cid in used_by[k]) / len(avail)

    breakdown, rates = [], {}
    users_by_feature: dict[str, int] | None = None
    active_users = 0
    client_active_days = 0
    if client:
        active_users = (
            UserActivityDaily.objects.filter(
                client=client, counting_events__gt=0, date__gte=w0, date__lte=end
            )
            .exclude(user_id__startswith=ANON_PREFIX)
            .values("user_id")
            .distinct()
            .count()
        )
        client_active_days = ClientUsageDaily.objects.filter(
            client=client, date__gte=w0, date__lte=end, active_users__gt=0
        ).count()
        if raw_ok:
            start_at, end_at = day_bounds(w0)[0], day_bounds(end)[1]
            users_by_feature = dict(
                UsageEvent.objects.filter(client=client, occurred_at__gte=start_at, occurred_at__lt=end_at)
                .exclude(user_id__startswith=ANON_PREFIX)
                .values("feature_key")
                .annotate(n=Count("user_id", distinct=True))
                .values_list("feature_key", "n")
            )
        else:
            gaps.append(
                gap("feature_adoption_breakdown[].adoption_rate", "raw_events_expired", "Window too old.")
            )
        if not active_users:
            gaps.append(
                gap("feature_adoption_breakdown[].adoption_rate", "no_usage_events", "No active user.")
            )
    tier_counts = Counter(info["tier"] for info in client_info.values())
    for key in keys:
        f = catalogue[key]
        if client:
            users = users_by_feature.get(key, 0) if users_by_feature is not None else None
            rate = users / active_users if users is not None and active_users else None
            stage = adoption_stage(dates_by.get((client.pk, key), []), client_active_days)
            count = users
        else:
            eligible = sum(n for t, n in tier_counts.items() if tier_rank(t) >= tier_rank(f.min_tier))
            count = len(used_by[key])
            rate = count / eligible if eligible else None
            stage = None
        rates[key] = rate
        breakdown.append(
            {
                "feature_key": key,
                "name": f.name or key,
                "is_core": f.is_core,
                "adoption_rate": r(rate, 4),
                "users_or_clients": count,
                "events": events_by[key],
                "stage": stage,
                "first_used_at": iso(span.get(key, {}).get("first")),
                "last_used_at": iso(span.get(key, {}).get("last")),
            }
        )
    if not client and keys:
        gaps.append(gap("feature_adoption_breakdown[].stage", "not_applicable", "Stages are per client."))

    breadths = {cid: core_breadth(cid) for cid in ids}
    if client:
        overall = breadths[client.pk]
    else:
        vals = [v for v in breadths.values() if v is not None]
        overall = sum(vals) / len(vals) if vals else None
    if overall is None:
        gaps.append(gap("overall_adoption_rate", "no_catalogue", "No core feature for the tier(s)."))

    def grouped(attr: str) -> dict[str, float | None]:
        groups: dict[str, list[float]] = defaultdict(list)
        for cid, v in breadths.items():
            if v is not None:
                groups[client_info[cid][attr]].append(v)
        return {k: r(sum(v) / len(v), 4) for k, v in sorted(groups.items())}

    velocity: dict[str, float | None] = {}
    for key in keys:
        f = catalogue[key]
        delays = []
        for cid in ids:
            first = first_use.get((cid, key))
            start = client_info[cid]["contract_start_date"]
            if first is None or start is None or tier_rank(client_info[cid]["tier"]) < tier_rank(f.min_tier):
                continue
            eligible_on = max(start, f.released_on) if f.released_on else start
            delays.append(max(0, (first - eligible_on).days))
        velocity[key] = statistics.median(delays) if delays else None
    if any(v is None for v in velocity.values()):
        gaps.append(
            gap("adoption_velocity", "not_enough_data", "Some features have no first use after eligibility.")
        )

    if client:
        order = sorted(((d, k) for (cid, k), d in first_use.items() if cid == client.pk and k in keys))
        patterns = [
            {"order": i + 1, "feature_key": k, "first_used_at": d.isoformat()}
            for i, (d, k) in enumerate(order)
        ]
    else:
        patterns = _jaccard_pairs({k: used_by[k] for k in keys})

    # stickiness: feature DAU (mean daily users over the last ≤ 30 days) ÷ feature MAU (distinct users, raw)
    m0 = max(w0, end - D(days=29))
    m_days = (end - m0).days + 1
    stickiness: dict[str, float | None] = {}
    if m0 >= raw_retention_cutoff():
        dau = Counter()
        for _cid, key, day, _ev, au in fud:
            if day >= m0:
                dau[key] += au
        mau = Counter()
        for row in (
            UsageEvent.objects.filter(
                client_id__in=ids, occurred_at__gte=day_bounds(m0)[0], occurred_at__lt=day_bounds(end)[1]
            )
            .exclude(user_id__startswith=ANON_PREFIX)
            .values("feature_key", "client_id")
            .annotate(n=Count("user_id", distinct=True))
        ):
            mau[row["feature_key"]] += row["n"]
        for key in keys:
            stickiness[key] = r((dau[key] / m_days) / mau[key], 4) if mau[key] else None
    else:
        gaps.append(gap("feature_stickiness", "raw_events_expired", "Distinct users need raw events."))

    underutilized = sorted(k for k in keys if rates[k] is not None and rates[k] < adoption_threshold)
    findings: list[dict] = []
    if client and overall is not None and overall < 0.70:
        rank = tier_rank(client.tier)
        unused = sorted(
            k for k in core_keys if tier_rank(catalogue[k].min_tier) <= rank and client.pk not in used_by[k]
        )
        findings.append(
            finding(
                "ADP-02",
                "Low core feature breadth",
                f"Enable the unused core features: {', '.join(unused)}.",
                Priority.MEDIUM,
                {"core_breadth": r(overall, 4), "threshold": 0.70, "unused_core_features": unused},
            )
        )
    adp03 = [
        finding(
            "ADP-03",
            f"Low adoption of {k}",
            f"Run a feature enablement campaign for {k}.",
            Priority.LOW,
            {"feature_key": k, "adoption_rate": r(rates[k], 4), "threshold": adoption_threshold},
        )
        for k in underutilized
    ]
    findings += adp03
    personas = None
    if include_user_personas:
        rows = _cohort_rows(ids, w0, end, time_period_days)
        by_client: dict[int, list[dict]] = defaultdict(list)
        for row in rows:
            by_client[row["client_id"]].append(row)
        counts = Counter()
        for cid_rows in by_client.values():
            for k, v in user_cohorts(cid_rows, time_period_days).items():
                counts[k] += len(v)
        total_users = sum(counts.values())
        personas = {
            k: {"count": counts[k], "share": r(counts[k] / total_users, 4) if total_users else None}
            for k in ("power", "regular", "at_risk", "inactive")
        }
    hv = _high_value_features(keys, catalogue, w0, end)
    scope_payload = {"client_id": client_id, "feature_id": feature_id, "window_days": time_period_days}
    return {
        "analysis_id": stable_id(
            "ana",
            "track_feature_adoption",
            {**scope_payload, "threshold": adoption_threshold, "as_of": end.isoformat()},
        ),
        "analysis_timestamp": timezone.now().isoformat(),
        "scope": scope_payload,
        "overall_adoption_rate": r(overall, 4),
        "feature_adoption_breakdown": breakdown,
        "adoption_by_tier": grouped("tier") if not client else None,
        "adoption_by_lifecycle": grouped("lifecycle_stage") if not client else None,
        "adoption_velocity": velocity,
        "adoption_patterns": patterns,
        "high_value_features": hv,
        "underutilized_features": underutilized,
        "feature_stickiness": stickiness,
        "adoption_barriers": sort_findings(findings),
        "success_factors": [
            {"feature_key": x["feature_key"], "health_difference": x["difference"]} for x in hv
        ],
        "user_personas": personas,
        "optimization_opportunities": sort_findings(adp03) if optimization_recommendations else None,
        "recommended_actions": sort_findings(findings) if optimization_recommendations else None,
        "data_gaps": gaps,
    }


# ------------------------------------------------------------------------------------------------------------
# manage_lifecycle_stages (TOOLS §3.5)
# ------------------------------------------------------------------------------------------------------------

TRANSITION_TRIGGERS = [
    {
        "rule_id": "LC-01",
        "from": ["onboarding"],
        "to": "active",
        "condition": "onboarding plan completed, or (no plan, m2 achieved and contract start ≥ 90 days ago)",
    },
    {
        "rule_id": "LC-02",
        "from": ["active", "expansion", "renewal"],
        "to": "at_risk",
        "condition": "health < 60 or payment overdue or open critical escalation",
    },
    {
        "rule_id": "LC-03",
        "from": ["at_risk"],
        "to": "active",
        "condition": "health ≥ 65 on the last 2 official snapshots and LC-02 no longer holds (→ renewal if LC-04)",
    },
    {
        "rule_id": "LC-04",
        "from": ["active", "expansion"],
        "to": "renewal",
        "condition": "contract end within 90 days and renewal not yet won",
    },
    {"rule_id": "LC-05", "from": ["renewal"], "to": "active", "condition": "renewal won"},
    {
        "rule_id": "LC-06",
        "from": ["active"],
        "to": "expansion",
        "condition": "health ≥ 85 and (open expansion opportunity ≥ qualified or seat utilisation ≥ 0.90)",
    },
    {
        "rule_id": "LC-07",
        "from": ["renewal"],
        "to": None,
        "condition": "contract end passed by > 30 days with the renewal open → alert renewal_overdue",
    },
]
PLAYBOOKS = {
    "onboarding": {
        "condition": "progress stuck or behind",
        "campaign_type": "success_planning",
        "level": "standard",
    },
    "active": {"condition": "trend declining", "campaign_type": "proactive_outreach", "level": "light"},
    "at_risk": {
        "condition": "always; churn level critical → executive_engagement / aggressive",
        "campaign_type": "proactive_outreach",
        "level": "standard",
    },
    "renewal": {
        "condition": "renewal probability < 0.65",
        "campaign_type": "renewal_save",
        "level": "aggressive",
    },
    "expansion": {"condition": "always", "campaign_type": "value_reinforcement", "level": "standard"},
}


def lifecycle_analyze(
    *,
    current_stage: str | None = None,
    include_transitions: bool = True,
    intervention_planning: bool = True,
    automation_rules: bool = True,
) -> dict[str, Any]:
    from customers.choices import LifecycleStage
    from customers.models import LifecycleStageHistory

    from .segmentation import annotate_filter_fields

    gaps: list[dict] = []
    as_of = today()
    now = timezone.now()
    qs = Client.objects.all()
    if current_stage:
        qs = qs.filter(lifecycle_stage=current_stage)
    open_entered = Subquery(
        LifecycleStageHistory.objects.filter(client=OuterRef("pk"), exited_at__isnull=True)
        .order_by("-entered_at")
        .values("entered_at")[:1]
    )
    rows = list(
        qs.annotate(stage_entered=open_entered).values(
            "pk",
            "client_id",
            "client_name",
            "lifecycle_stage",
            "contract_value",
            "health_score",
            "stage_entered",
        )
    )
    stages = [current_stage] if current_stage else list(LifecycleStage.values)
    by_stage: dict[str, list[dict]] = defaultdict(list)
    for x in rows:
        by_stage[x["lifecycle_stage"]].append(x)
    distribution, characteristics = {}, {}
    for s in stages:
        members = by_stage.get(s, [])
        healths = [x["health_score"] for x in members if x["health_score"] is not None]
        days_in = [(now - x["stage_entered"]).days for x in members if x["stage_entered"]]
        distribution[s] = {
            "count": len(members),
            "arr": money(sum(Decimal(x["contract_value"]) for x in members)),
        }
        characteristics[s] = {
            "avg_health_score": r(sum(healths) / len(healths), 1) if healths else None,
            "median_arr": money(statistics.median([Decimal(x["contract_value"]) for x in members]))
            if members
            else None,
            "avg_days_in_stage": r(sum(days_in) / len(days_in), 1) if days_in else None,
        }
    hist = LifecycleStageHistory.objects.all()
    if current_stage:
        hist = hist.filter(Q(from_stage=current_stage) | Q(to_stage=current_stage))
    transitions = None
    if include_transitions:
        transitions = {
            f"{x['from_stage']}->{x['to_stage']}": x["n"]
            for x in hist.filter(entered_at__gte=now - D(days=90))
            .exclude(from_stage="")
            .values("from_stage", "to_stage")
            .annotate(n=Count("id"))
            .order_by("from_stage", "to_stage")
        }
    durations: dict[str, list[float]] = defaultdict(list)
    for stage, entered, exited in hist.filter(exited_at__isnull=False).values_list(
        "to_stage", "entered_at", "exited_at"
    ):
        durations[stage].append((exited - entered).total_seconds() / 86400)
    average_duration = {
        s: (r(statistics.median(durations[s]), 1) if durations.get(s) else None) for s in stages
    }
    exits = defaultdict(Counter)
    for frm, to in hist.exclude(from_stage="").values_list("from_stage", "to_stage"):
        exits[frm][to] += 1
    success = {}
    for s in stages:
        total = sum(exits[s].values())
        success[s] = {
            "exits": total,
            "to_active_or_expansion_share": r((exits[s]["active"] + exits[s]["expansion"]) / total, 4)
            if total
            else None,
            "to_churned_share": r(exits[s]["churned"] / total, 4) if total else None,
        }
    # LC-02 candidates not yet at risk; LC-06 candidates not yet in expansion
    escalation = apps.get_model("retention", "Escalation")
    contract_overdue = Contract.objects.filter(
        client=OuterRef("pk"), status=ContractStatus.ACTIVE, payment_status="overdue"
    )
    critical_esc = escalation.objects.filter(
        client=OuterRef("pk"), severity="critical", status__in=["open", "in_progress"]
    )
    from django.db.models import Exists

    lc02 = list(
        Client.objects.filter(
            status=AccountStatus.ACTIVE, lifecycle_stage__in=["active", "expansion", "renewal"]
        )
        .annotate(overdue=Exists(contract_overdue), esc=Exists(critical_esc))
        .filter(Q(health_score__lt=60) | Q(overdue=True) | Q(esc=True))
        .values("client_id", "client_name", "lifecycle_stage", "health_score", "overdue", "esc")
        .order_by("client_id")
    )
    opp = apps.get_model("expansion", "ExpansionOpportunity")
    seats = Subquery(
        Contract.objects.filter(client=OuterRef("pk"), status=ContractStatus.ACTIVE)
        .order_by("-start_date", "-id")
        .values("included_users")[:1]
    )
    cand = annotate_filter_fields(
        Client.objects.filter(status=AccountStatus.ACTIVE, lifecycle_stage="active", health_score__gte=85),
        {"mau"},
        as_of,
    ).annotate(
        seats=seats,
        open_opp=Exists(
            opp.objects.filter(client=OuterRef("pk"), stage__in=["qualified", "proposal", "negotiation"])
        ),
    )
    lc06 = []
    for x in cand.values("client_id", "client_name", "health_score", "f_mau", "seats", "open_opp").order_by(
        "client_id"
    ):
        util = x["f_mau"] / x["seats"] if x["seats"] else None
        if x["open_opp"] or (util is not None and util >= 0.90):
            lc06.append({**x, "seat_utilisation": r(util, 4)})
    findings = []
    at_risk_out = []
    for x in lc02:
        reasons = [
            n
            for n, ok in (
                ("health_below_threshold", x["health_score"] is not None and x["health_score"] < 60),
                ("payment_overdue", x["overdue"]),
                ("critical_escalation", x["esc"]),
            )
            if ok
        ]
        at_risk_out.append(
            {
                "client_id": x["client_id"],
                "current_stage": x["lifecycle_stage"],
                "health_score": x["health_score"],
                "reasons": reasons,
            }
        )
        findings.append(
            finding(
                "LC-02",
                f"{x['client_name']} meets the at-risk rule",
                f"Transition {x['client_id']} from {x['lifecycle_stage']} to at_risk.",
                Priority.MEDIUM,
                {"client_id": x["client_id"], "reasons": reasons, "health_score": x["health_score"]},
                tool_hint="manage_lifecycle_stages",
            )
        )
    expansion_out = []
    for x in lc06:
        expansion_out.append(
            {
                "client_id": x["client_id"],
                "health_score": x["health_score"],
                "open_qualified_opportunity": x["open_opp"],
                "seat_utilisation": x["seat_utilisation"],
            }
        )
        findings.append(
            finding(
                "LC-06",
                f"{x['client_name']} meets the expansion rule",
                f"Transition {x['client_id']} from active to expansion.",
                Priority.MEDIUM,
                {
                    "client_id": x["client_id"],
                    "health_score": x["health_score"],
                    "seat_utilisation": x["seat_utilisation"],
                },
                tool_hint="manage_lifecycle_stages",
            )
        )
    workflows = None
    if automation_rules:
        wf = apps.get_model("communication", "Workflow")
        active = [
            {"workflow_id": w.workflow_id, "name": w.name, "trigger_type": w.trigger_type}
            for w in wf.objects.filter(is_active=True).order_by("workflow_id")
            if w.trigger_type == "contract_event" or "lifecycle" in json_text(w.trigger_config)
        ]
        workflows = {
            "mode": settings.CS_RULES.get("lifecycle_automation", "apply"),
            "rules": [t["rule_id"] for t in TRANSITION_TRIGGERS],
            "workflows": active,
        }
    return {
        "management_id": stable_id(
            "lcm",
            "manage_lifecycle_stages",
            {"current_stage": current_stage, "as_of": as_of.isoformat()},
        ),
        "analysis_timestamp": now.isoformat(),
        "total_customers": len(rows),
        "stage_distribution": distribution,
        "stage_characteristics": characteristics,
        "stage_transitions": transitions,
        "transition_triggers": TRANSITION_TRIGGERS,
        "average_stage_duration": average_duration,
        "stage_success_metrics": success,
        "at_risk_transitions": at_risk_out,
        "expansion_opportunities": expansion_out,
        "intervention_playbooks": PLAYBOOKS if intervention_planning else None,
        "automated_workflows": workflows,
        "recommended_actions": sort_findings(findings),
        "data_gaps": gaps,
    }


def json_text(value: Any) -> str:
    import json

    return json.dumps(value or {}, default=str).lower()


def lifecycle_history(*, client_id: str) -> dict[str, Any]:
    from customers.models import LifecycleStageHistory

    client = resolve_client(client_id)
    now = timezone.now()
    gaps: list[dict] = []
    history = []
    current = None
    for h in LifecycleStageHistory.objects.filter(client=client).order_by("-entered_at", "-id"):
        if h.exited_at is None and current is None:
            current = h
        history.append(
            {
                "from_stage": h.from_stage or None,
                "to_stage": h.to_stage,
                "entered_at": h.entered_at.isoformat(),
                "exited_at": iso(h.exited_at),
                "days_in_stage": ((h.exited_at or now) - h.entered_at).days,
                "reason": h.reason or None,
                "rule_id": h.rule_id or None,
                "actor": h.actor,
            }
        )
    if current is None:
        gaps.append(gap("days_in_current_stage", "insufficient_history", "No open lifecycle stage record."))
    return {
        "client_id": client.client_id,
        "current_stage": client.lifecycle_stage,
        "days_in_current_stage": (now - current.entered_at).days if current else None,
        "history": history,
        "data_gaps": gaps,
    }


def lifecycle_transition_run(*, actor: Actor, client_id: str, new_stage: str, reason: str) -> dict[str, Any]:
    from cs_project.core.errors import Conflict
    from customers.rules import ALLOWED_TRANSITIONS
    from customers.services import lifecycle_transition

    client = resolve_client(client_id)
    allowed = sorted(ALLOWED_TRANSITIONS.get(client.lifecycle_stage, ()))
    if new_stage == client.lifecycle_stage or new_stage not in allowed:
        what = "already in" if new_stage == client.lifecycle_stage else "cannot move to"
        raise Conflict(
            f"Client {client.client_id} {what} stage '{new_stage}' from '{client.lifecycle_stage}'; "
            f"allowed targets: {', '.join(allowed) or 'none'}.",
            field="new_stage",
        )
    res = lifecycle_transition(actor=actor, client=client.client_id, to_stage=new_stage, reason=reason)
    h = res.history
    return {
        "client_id": client.client_id,
        "previous_stage": res.from_stage,
        "new_stage": res.to_stage,
        "transitioned_at": h.entered_at.isoformat(),
        "reason": reason,
        "side_effects": jsonable(res.side_effects),
        "history_entry": {
            "from_stage": h.from_stage or None,
            "to_stage": h.to_stage,
            "entered_at": h.entered_at.isoformat(),
            "exited_at": None,
            "reason": h.reason,
            "rule_id": h.rule_id or None,
            "actor": h.actor,
        },
        "audit_event_id": str(res.audit_event.event_id),
        "data_gaps": [],
    }


# ------------------------------------------------------------------------------------------------------------
# segment_by_value_tier (TOOLS §3.7)
# ------------------------------------------------------------------------------------------------------------

SECONDARY_DIMENSIONS = {"clv", "expansion_potential", "health_score", "nps"}


def _validate_tier_definitions(defs: list[dict]) -> list[dict]:
    out = []
    for i, d in enumerate(defs):
        path = f"tier_definitions[{i}]"
        if not isinstance(d, dict) or set(d) - {"name", "min", "max", "colour", "priority"}:
            raise InvalidParameter("Each tier is {name, min, max?, colour?, priority?}.", field=path)
        if not isinstance(d.get("name"), str) or not d["name"].strip():
            raise InvalidParameter("Tier name is required.", field=f"{path}.name")
        lo, hi = d.get("min"), d.get("max")
        if not isinstance(lo, (int, float)) or isinstance(lo, bool) or lo < 0:
            raise InvalidParameter("min must be a number ≥ 0.", field=f"{path}.min")
        if hi is not None and (not isinstance(hi, (int, float)) or isinstance(hi, bool) or hi <= lo):
            raise InvalidParameter("max must be a number above min.", field=f"{path}.max")
        out.append(
            {
                "name": d["name"].strip(),
                "min": Decimal(str(lo)),
                "max": Decimal(str(hi)) if hi is not None else None,
                "colour": d.get("colour"),
                "priority": d.get("priority"),
                "index": i,
            }
        )
    ordered = sorted(out, key=lambda t: t["min"])
    if not ordered or ordered[0]["min"] != 0:
        raise InvalidParameter("Tiers must cover 0 upwards (one tier with min 0).", field="tier_definitions")
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a["max"] is None or a["max"] > b["min"]:
            raise InvalidParameter(
                f"Tiers '{a['name']}' and '{b['name']}' overlap.", field=f"tier_definitions[{b['index']}]"
            )
        if a["max"] < b["min"]:
            raise InvalidParameter(
                f"Gap between '{a['name']}' and '{b['name']}'.", field=f"tier_definitions[{b['index']}]"
            )
    if ordered[-1]["max"] is not None:
        raise InvalidParameter(
            "The highest tier must have no max.", field=f"tier_definitions[{ordered[-1]['index']}].max"
        )
    if len({t["name"] for t in out}) != len(out):
        raise InvalidParameter("Tier names must be unique.", field="tier_definitions")
    return list(reversed(ordered))


def gini(values: list[float]) -> float | None:
    xs = sorted(values)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return None
    return (2 * sum((i + 1) * x for i, x in enumerate(xs))) / (n * total) - (n + 1) / n


def value_tier_segmentation(
    *,
    segmentation_criteria: dict[str, Any],
    tier_definitions: list[dict] | None = None,
    service_level_mapping: bool = True,
    vip_identification: bool = True,
    resource_planning: bool = True,
) -> dict[str, Any]:
    from .segmentation import population_queryset
    from .selectors import value_tier_bands

    if not isinstance(segmentation_criteria, dict):
        raise InvalidParameter("segmentation_criteria must be an object.", field="segmentation_criteria")
    unknown = set(segmentation_criteria) - {"primary_dimension", "secondary_dimensions", "population_filter"}
    if unknown:
        raise InvalidParameter(
            f"Unknown key(s) {sorted(unknown)}.", field=f"segmentation_criteria.{sorted(unknown)[0]}"
        )
    primary = segmentation_criteria.get("primary_dimension", "arr")
    if primary not in ("arr", "clv"):
        raise InvalidParameter(
            "primary_dimension is 'arr' or 'clv'.", field="segmentation_criteria.primary_dimension"
        )
    secondary = segmentation_criteria.get("secondary_dimensions", []) or []
    if not isinstance(secondary, list) or any(
        not isinstance(d, str) or d not in SECONDARY_DIMENSIONS for d in secondary
    ):
        raise InvalidParameter(
            f"secondary_dimensions ⊂ {sorted(SECONDARY_DIMENSIONS)}.",
            field="segmentation_criteria.secondary_dimensions",
        )
    table = value_tier_bands()
    table_by_name = {t["name"]: t for t in table}
    tiers = _validate_tier_definitions(tier_definitions) if tier_definitions is not None else table
    gaps: list[dict] = []
    as_of = today()
    qs = population_queryset(
        segmentation_criteria.get("population_filter"),
        path="segmentation_criteria.population_filter",
        as_of=as_of,
    )
    rows = list(
        qs.values(
            "pk",
            "client_id",
            "client_name",
            "contract_value",
            "tier",
            "industry",
            "lifecycle_stage",
            "health_score",
            "risk_level",
            "csm_assigned_id",
        ).order_by("client_id")
    )
    pks = [x["pk"] for x in rows]
    year_ago = as_of - D(days=365)
    # CLV (client) = ARR × gross margin ÷ trailing-12-month logo churn rate of the product tier (RULES §14)
    margin = settings.CS_RULES.get("gross_margin")
    churn_rate: dict[str, float | None] = {}
    if margin is not None:
        from customers.models import ArrMovement

        start_cohort = dict(
            ArrMovement.objects.filter(movement_date__lt=year_ago)
            .values("client__tier")
            .annotate(n=Count("client", distinct=True))
            .values_list("client__tier", "n")
        )
        churned = dict(
            ArrMovement.objects.filter(kind="churn", movement_date__gte=year_ago, movement_date__lte=as_of)
            .values("client__tier")
            .annotate(n=Count("client", distinct=True))
            .values_list("client__tier", "n")
        )
        for t in Tier.values:
            churn_rate[t] = churned.get(t, 0) / start_cohort[t] if start_cohort.get(t) else None
    opp = apps.get_model("expansion", "ExpansionOpportunity")
    potential = defaultdict(float)
    for cid, amount, prob in opp.objects.filter(
        client_id__in=pks, stage__in=OPEN_EXPANSION_STAGES
    ).values_list("client_id", "amount", "probability"):
        potential[cid] += float(amount or 0) * float(prob or 0)
    survey = apps.get_model("feedback", "SurveyResponse")
    nps_rows = {
        x["client_id"]: x
        for x in survey.objects.filter(
            client_id__in=pks, survey_type="nps", responded_at__gte=timezone.now() - D(days=180)
        )
        .values("client_id")
        .annotate(
            n=Count("id"),
            prom=Count("id", filter=Q(score__gte=9)),
            det=Count("id", filter=Q(score__lte=6)),
            mean=Avg("score"),
        )
    }
    from customers.models import ArrMovement

    arr_rows = {
        x["client_id"]: x
        for x in ArrMovement.objects.filter(client_id__in=pks, movement_date__lte=as_of)
        .values("client_id")
        .annotate(
            start_arr=Sum("amount", filter=Q(movement_date__lt=year_ago)),
            churned=Sum("amount", filter=Q(movement_date__gte=year_ago, kind="churn")),
            expansion=Sum("amount", filter=Q(movement_date__gte=year_ago, kind="expansion")),
            contraction180=Sum(
                "amount", filter=Q(movement_date__gte=as_of - D(days=180), kind="contraction")
            ),
        )
    }
    renewal = apps.get_model("expansion", "Renewal")
    low_renewal = set(
        renewal.objects.filter(
            client_id__in=pks, status__in=["on_track", "at_risk", "high_risk"], probability__lt=0.65
        ).values_list("client_id", flat=True)
    )
    for x in rows:
        arr = float(x["contract_value"])
        rate = churn_rate.get(x["tier"]) if margin is not None else None
        x["clv"] = arr * margin / rate if margin is not None and rate else None
        x["expansion_potential"] = potential.get(x["pk"], 0.0)
        x["primary"] = arr if primary == "arr" else x["clv"]
    if margin is None and (primary == "clv" or "clv" in secondary):
        gaps.append(gap("clv", "gross_margin_not_configured", "CS_RULES['gross_margin'] is not set."))
    elif (
        margin is not None
        and any(x["clv"] is None for x in rows)
        and (primary == "clv" or "clv" in secondary)
    ):
        gaps.append(gap("clv", "no_churn_observed", "No churn (or no start cohort) for some product tiers."))

    def tier_of(v: float | None) -> str | None:
        if v is None:
            return None
        for t in tiers:  # highest first
            if Decimal(str(v)) >= t["min"] and (t["max"] is None or Decimal(str(v)) < t["max"]):
                return t["name"]
        return tiers[-1]["name"]

    members: dict[str, list[dict]] = defaultdict(list)
    for x in rows:
        x["value_tier"] = tier_of(x["primary"])
        members[x["value_tier"] or "unassigned"].append(x)
    total = len(rows)
    names = [t["name"] for t in tiers] + (["unassigned"] if members.get("unassigned") else [])
    distribution = {
        n: {
            "count": len(members.get(n, [])),
            "share": r(len(members.get(n, [])) / total, 4) if total else None,
        }
        for n in names
    }
    metrics, characteristics, performance, service, allocation = {}, {}, {}, {}, {}
    findings = []
    for t in tiers:
        n = t["name"]
        ms = members.get(n, [])
        arr = sum(float(x["contract_value"]) for x in ms)
        healths = [x["health_score"] for x in ms if x["health_score"] is not None]
        nps_n = sum(nps_rows.get(x["pk"], {}).get("n", 0) for x in ms)
        prom = sum(nps_rows.get(x["pk"], {}).get("prom", 0) for x in ms)
        det = sum(nps_rows.get(x["pk"], {}).get("det", 0) for x in ms)
        cohort = [x for x in ms if (arr_rows.get(x["pk"], {}).get("start_arr") or 0) > 0]
        churned_logos = sum(1 for x in cohort if arr_rows[x["pk"]]["churned"])
        mean_health = sum(healths) / len(healths) if healths else None
        metrics[n] = {
            "total_arr": money(arr),
            "avg_arr": money(arr / len(ms)) if ms else None,
            "avg_health": r(mean_health, 1),
            "nps": r((prom - det) / nps_n * 100, 1) if nps_n else None,
            "logo_retention_12m": r(1 - churned_logos / len(cohort), 4) if cohort else None,
            "expansion_arr_12m": money(
                sum(float(arr_rows.get(x["pk"], {}).get("expansion") or 0) for x in ms)
            ),
        }
        characteristics[n] = {
            "tier_mix": {k: r(v / len(ms), 4) for k, v in sorted(Counter(x["tier"] for x in ms).items())},
            "top_industries": [
                k
                for k, _ in sorted(
                    Counter(x["industry"] for x in ms).items(), key=lambda kv: (-kv[1], kv[0])
                )[:3]
            ],
            "lifecycle_mix": {
                k: r(v / len(ms), 4) for k, v in sorted(Counter(x["lifecycle_stage"] for x in ms).items())
            },
        }
        perf = {}
        for dim in secondary or ["health_score"]:
            if dim == "nps":
                perf[dim] = metrics[n]["nps"]
            else:
                vals = [x[dim] for x in ms if x.get(dim) is not None]
                perf[dim] = r(sum(vals) / len(vals), 2) if vals else None
        performance[n] = perf
        row = table_by_name.get(n)
        if service_level_mapping:
            service[n] = (
                {
                    "touch_cadence": row["touch_cadence"],
                    "ebr_cadence": row["ebr_cadence"],
                    "targets": row["targets"],
                }
                if row
                else None
            )
        csms = {x["csm_assigned_id"] for x in ms if x["csm_assigned_id"]}
        without = sum(1 for x in ms if not x["csm_assigned_id"])
        allocation[n] = {
            "accounts": len(ms),
            "csms": len(csms),
            "accounts_per_csm": r((len(ms) - without) / len(csms), 1) if csms else None,
            "target_accounts_per_csm": row["accounts_per_csm"] if row else None,
            "accounts_without_csm": without,
        }
        if mean_health is not None and mean_health < 65:
            findings.append(
                finding(
                    "SEG-01",
                    f"Low health in value tier {n}",
                    f"Run a targeted programme for the {n} tier.",
                    Priority.MEDIUM,
                    {"value_tier": n, "avg_health": r(mean_health, 1), "threshold": 65},
                )
            )
        if row and row["touch_cadence"] in ("weekly", "every_2_weeks") and ms and without / len(ms) > 0.20:
            findings.append(
                finding(
                    "SEG-02",
                    f"Value tier {n} lacks CSM coverage",
                    f"Assign CSMs to {without} accounts.",
                    Priority.MEDIUM,
                    {
                        "value_tier": n,
                        "accounts_without_csm": without,
                        "share": r(without / len(ms), 4),
                        "threshold": 0.20,
                    },
                )
            )
    arrs = sorted((float(x["contract_value"]) for x in rows), reverse=True)
    total_arr = sum(arrs)
    concentration = {
        "top_10pct_arr_share": r(sum(arrs[: math.ceil(total * 0.1)]) / total_arr, 4) if total_arr else None,
        "top_20pct_arr_share": r(sum(arrs[: math.ceil(total * 0.2)]) / total_arr, 4) if total_arr else None,
        "gini": r(gini(arrs), 4),
    }
    if not total_arr:
        gaps.append(gap("value_concentration", "not_enough_data", "No ARR in the population."))
    vips = None
    if vip_identification:
        ranked = sorted(
            (x for x in rows if x["primary"] is not None), key=lambda x: (-x["primary"], x["client_id"])
        )
        top = {x["client_id"] for x in ranked[: max(1, math.ceil(total * 0.1))]} if ranked else set()
        vips = [
            {
                "client_id": x["client_id"],
                "client_name": x["client_name"],
                "arr": money(x["contract_value"]),
                "value_tier": x["value_tier"],
                "reasons": [
                    w
                    for w, ok in (
                        ("strategic_tier", x["value_tier"] == "strategic"),
                        ("top_10pct", x["client_id"] in top),
                    )
                    if ok
                ],
            }
            for x in rows
            if x["value_tier"] == "strategic" or x["client_id"] in top
        ]
    upgrades, downgrades = [], []
    asc = list(reversed(tiers))
    for x in rows:
        if x["primary"] is None or x["value_tier"] is None:
            continue
        idx = next(i for i, t in enumerate(asc) if t["name"] == x["value_tier"])
        if idx + 1 < len(asc):
            nxt = asc[idx + 1]
            floor = float(nxt["min"])
            near = x["primary"] >= 0.9 * floor
            lift = x["primary"] + x["expansion_potential"] >= floor
            if near or lift:
                upgrades.append(
                    {
                        "client_id": x["client_id"],
                        "value_tier": x["value_tier"],
                        "next_tier": nxt["name"],
                        "value": r(x["primary"], 2),
                        "next_tier_min": floor,
                        "gap": r(floor - x["primary"], 2),
                        "expansion_potential": r(x["expansion_potential"], 2),
                        "reasons": [w for w, ok in (("within_10pct", near), ("pipeline_lift", lift)) if ok],
                    }
                )
        reasons = [
            w
            for w, ok in (
                ("risk_level_high", x["risk_level"] in ("high", "critical")),
                ("renewal_probability_below_0.65", x["pk"] in low_renewal),
                ("contraction_180d", bool(arr_rows.get(x["pk"], {}).get("contraction180"))),
            )
            if ok
        ]
        if reasons:
            downgrades.append(
                {"client_id": x["client_id"], "value_tier": x["value_tier"], "reasons": reasons}
            )
    out_defs = [
        {
            "name": t["name"],
            "min": money(t["min"]),
            "max": money(t["max"]),
            "colour": t.get("colour"),
            "priority": t.get("priority"),
        }
        for t in tiers
    ]
    return {
        "segmentation_id": stable_id(
            "vts",
            "segment_by_value_tier",
            {"criteria": segmentation_criteria, "tiers": tier_definitions, "as_of": as_of.isoformat()},
        ),
        "analysis_timestamp": timezone.now().isoformat(),
        "total_customers": total,
        "tier_definitions": out_defs,
        "tier_distribution": distribution,
        "tier_metrics": metrics,
        "value_concentration": concentration,
        "vip_accounts": vips,
        "tier_characteristics": characteristics,
        "service_level_recommendations": service if service_level_mapping else None,
        "csm_allocation": allocation if resource_planning else None,
        "tier_performance": performance,
        "upgrade_candidates": upgrades,
        "downgrade_risks": downgrades,
        "tier_optimization": sort_findings(findings),
        "recommended_actions": sort_findings(findings),
        "data_gaps": gaps,
    }


# ------------------------------------------------------------------------------------------------------------
# analyze_engagement_patterns (TOOLS §3.8)
# ------------------------------------------------------------------------------------------------------------

PATTERN_TYPES = ("temporal", "feature_usage", "communication", "support")


def _scope_clients(analysis_scope: str, scope_filter: dict | None, as_of: dt.date):
    from .models import Segment, SegmentMembership
    from .segmentation import population_queryset

    if analysis_scope == "individual":
        cid = (scope_filter or {}).get("client_id")
        if not cid:
            raise InvalidParameter(
                "individual scope needs scope_filter.client_id.", field="scope_filter.client_id"
            )
        return Client.objects.filter(pk=resolve_client(cid).pk)
    if analysis_scope == "segment":
        if not scope_filter:
            raise InvalidParameter(
                "segment scope needs scope_filter {segment_id} or a FILTER.", field="scope_filter"
            )
        if "segment_id" in scope_filter:
            seg = Segment.objects.filter(segment_id=scope_filter["segment_id"]).first()
            if seg is None:
                raise NotFound(
                    f"Segment '{scope_filter['segment_id']}' does not exist.", field="scope_filter.segment_id"
                )
            return Client.objects.filter(
                pk__in=SegmentMembership.objects.filter(segment=seg, exited_at__isnull=True).values(
                    "client_id"
                )
            )
        return population_queryset(scope_filter, path="scope_filter", as_of=as_of)
    return Client.objects.filter(status=AccountStatus.ACTIVE)


def engagement_patterns(
    *,
    analysis_scope: str = "all_customers",
    scope_filter: dict | None = None,
    pattern_types: list[str] | None = None,
    lookback_period_days: int = 90,
    anomaly_detection: bool = True,
    predictive_insights: bool = True,
) -> dict[str, Any]:
    from .rollups import rollup_pending

    pattern_types = list(pattern_types if pattern_types is not None else PATTERN_TYPES)
    for i, p in enumerate(pattern_types):
        if p not in PATTERN_TYPES:
            raise InvalidParameter(f"Unknown pattern type {p!r}.", field=f"pattern_types[{i}]")
    as_of = today()
    clients_qs = _scope_clients(analysis_scope, scope_filter, as_of)
    rollup_pending()
    clients = {x["pk"]: x for x in clients_qs.values("pk", "client_id", "client_name", "risk_level")}
    ids = list(clients)
    gaps: list[dict] = []
    days = lookback_period_days
    w0, w1 = as_of - D(days=days - 1), as_of
    p0 = w0 - D(days=days)
    tz = reporting_tz()
    start_at, end_at = day_bounds(w0)[0], day_bounds(w1)[1]
    raw_ok = w0 >= raw_retention_cutoff()
    identified: list[dict] = []
    findings: list[dict] = []

    temporal = None
    if "temporal" in pattern_types:
        by_weekday = [0] * 7
        for row in (
            ClientUsageDaily.objects.filter(client_id__in=ids, date__gte=w0, date__lte=w1)
            .annotate(wd=ExtractIsoWeekDay("date"))
            .values("wd")
            .annotate(n=Sum("events"))
        ):
            by_weekday[row["wd"] - 1] = row["n"] or 0
        by_hour = None
        if raw_ok:
            by_hour = [0] * 24
            for row in (
                UsageEvent.objects.filter(
                    client_id__in=ids, occurred_at__gte=start_at, occurred_at__lt=end_at
                )
                .annotate(h=ExtractHour("occurred_at", tzinfo=tz))
                .values("h")
                .annotate(n=Count("id"))
            ):
                by_hour[row["h"]] = row["n"]
        else:
            gaps.append(gap("temporal_patterns.by_hour", "raw_events_expired", "Window before retention."))
        weekly: Counter = Counter()
        for row in (
            UserActivityDaily.objects.filter(
                client_id__in=ids, date__gte=w0, date__lte=w1, counting_events__gt=0
            )
            .exclude(user_id__startswith=ANON_PREFIX)
            .annotate(b=Trunc("date", "week", output_field=DateField()))
            .values("client_id", "b")
            .annotate(n=Count("user_id", distinct=True))
        ):
            weekly[row["b"]] += row["n"]
        temporal = {
            "by_weekday": dict(zip(WEEKDAYS, by_weekday, strict=True)),
            "by_hour": by_hour,
            "weekly_active_users": [
                {"week_start": b.isoformat(), "active_users": n} for b, n in sorted(weekly.items())
            ],
            "peak_weekday": WEEKDAYS[by_weekday.index(max(by_weekday))] if any(by_weekday) else None,
            "peak_hour": by_hour.index(max(by_hour)) if by_hour and any(by_hour) else None,
        }
        if temporal["peak_weekday"]:
            identified.append({"pattern": "peak_weekday", "value": temporal["peak_weekday"]})
        if temporal["peak_hour"] is not None:
            identified.append({"pattern": "peak_hour", "value": temporal["peak_hour"]})

    feature_patterns = None
    if "feature_usage" in pattern_types:
        totals = list(
            FeatureUsageDaily.objects.filter(client_id__in=ids, date__gte=w0, date__lte=w1, events__gt=0)
            .values("feature_key")
            .annotate(events=Sum("events"), clients=Count("client", distinct=True))
            .order_by("-events", "feature_key")
        )
        sets: dict[str, set] = defaultdict(set)
        if len(ids) == 1 and raw_ok:
            for key, user in (
                UsageEvent.objects.filter(
                    client_id__in=ids, occurred_at__gte=start_at, occurred_at__lt=end_at
                )
                .exclude(user_id__startswith=ANON_PREFIX)
                .values_list("feature_key", "user_id")
                .distinct()
            ):
                sets[key].add(user)
            basis = "users"
        else:
            for cid, key in (
                FeatureUsageDaily.objects.filter(client_id__in=ids, date__gte=w0, date__lte=w1, events__gt=0)
                .values_list("client_id", "feature_key")
                .distinct()
            ):
                sets[key].add(cid)
            basis = "clients"
        feature_patterns = {
            "top_features": [
                {"feature_key": x["feature_key"], "events": x["events"], "clients": x["clients"]}
                for x in totals[:10]
            ],
            "co_usage_pairs": _jaccard_pairs(sets),
            "co_usage_basis": basis,
        }
        if feature_patterns["co_usage_pairs"]:
            identified.append(
                {"pattern": "top_co_usage_pair", "value": feature_patterns["co_usage_pairs"][0]["features"]}
            )

    email = apps.get_model("communication", "EmailMessage")
    engagement_by_client = dict(
        apps.get_model("customers", "TimelineEvent")
        .objects.filter(
            client_id__in=ids, counts_as_engagement=True, occurred_at__gte=start_at, occurred_at__lt=end_at
        )
        .values("client_id")
        .annotate(n=Count("id"))
        .values_list("client_id", "n")
    )
    communication = None
    if "communication" in pattern_types:
        agg = email.objects.filter(
            client_id__in=ids, is_internal=False, sent_at__gte=start_at, sent_at__lt=end_at, status="sent"
        ).aggregate(
            sent=Count("id"),
            tracked=Count("id", filter=Q(track_opens=True)),
            opened=Count("id", filter=Q(track_opens=True, opened_at__isnull=False)),
            tracked_clicks=Count("id", filter=Q(track_clicks=True)),
            clicked=Count("id", filter=Q(track_clicks=True, clicked_at__isnull=False)),
        )
        communication = {
            "emails_sent": agg["sent"],
            "open_rate": r(agg["opened"] / agg["tracked"], 4) if agg["tracked"] else None,
            "click_rate": r(agg["clicked"] / agg["tracked_clicks"], 4) if agg["tracked_clicks"] else None,
            "engagement_events_per_client": r(sum(engagement_by_client.values()) / len(ids), 2)
            if ids
            else None,
        }
        if not agg["tracked"]:
            gaps.append(gap("communication_patterns.open_rate", "tracking_unavailable", "No tracked e-mail."))
        if not agg["tracked_clicks"]:
            gaps.append(
                gap("communication_patterns.click_rate", "tracking_unavailable", "No tracked e-mail.")
            )

    ticket = apps.get_model("support", "Ticket")
    tickets_w = dict(
        ticket.objects.filter(client_id__in=ids, created_at__gte=start_at, created_at__lt=end_at)
        .values("client_id")
        .annotate(n=Count("id"))
        .values_list("client_id", "n")
    )
    tickets_p = dict(
        ticket.objects.filter(client_id__in=ids, created_at__gte=day_bounds(p0)[0], created_at__lt=start_at)
        .values("client_id")
        .annotate(n=Count("id"))
        .values_list("client_id", "n")
    )
    support = None
    if "support" in pattern_types:
        mix = Counter(
            dict(
                ticket.objects.filter(client_id__in=ids, created_at__gte=start_at, created_at__lt=end_at)
                .values("category")
                .annotate(n=Count("id"))
                .values_list("category", "n")
            )
        )
        total_t = sum(mix.values())
        hours = [
            (res - created).total_seconds() / 3600
            for created, res in ticket.objects.filter(
                client_id__in=ids, resolved_at__gte=start_at, resolved_at__lt=end_at
            ).values_list("created_at", "resolved_at")
        ]
        support = {
            "tickets": total_t,
            "tickets_per_client_per_30d": r(total_t / len(ids) / (days / 30), 2) if ids else None,
            "category_mix": {k: r(v / total_t, 4) for k, v in sorted(mix.items())} if total_t else {},
            "median_resolution_hours": r(statistics.median(hours), 1) if hours else None,
        }
        if not hours:
            gaps.append(
                gap("support_patterns.median_resolution_hours", "not_enough_data", "No ticket resolved.")
            )

    # personas (cohorts over W) and their transitions vs the previous window
    rows_now = _cohort_rows(ids, w0, w1, days)
    rows_prev = _cohort_rows(ids, p0, w0 - D(days=1), days)

    def dominant(rows: list[dict]) -> tuple[Counter, dict[int, str]]:
        per: dict[int, list[dict]] = defaultdict(list)
        for row in rows:
            per[row["client_id"]].append(row)
        total, dom = Counter(), {}
        for cid, rs in per.items():
            cohorts = user_cohorts(rs, days)
            counts = {k: len(v) for k, v in cohorts.items()}
            for k, v in counts.items():
                total[k] += v
            if any(counts.values()):
                dom[cid] = max(sorted(counts), key=lambda k: counts[k])
        return total, dom

    personas_now, dom_now = dominant(rows_now)
    _, dom_prev = dominant(rows_prev)
    transitions = Counter(
        f"{dom_prev[c]}->{dom_now[c]}" for c in set(dom_now) & set(dom_prev) if dom_now[c] != dom_prev[c]
    )
    # success patterns: clients in the low risk band
    low = [pk for pk, c in clients.items() if c["risk_level"] == "low"]
    success = {
        "clients": len(low),
        "median_stickiness": None,
        "median_core_breadth": None,
        "median_milestones_achieved": None,
    }
    if low:
        latest_inputs = Subquery(
            HealthSnapshot.objects.filter(client=OuterRef("pk")).order_by("-as_of").values("inputs")[:1],
            output_field=JSONField(),
        )
        stick, breadth = [], []
        for inputs in Client.objects.filter(pk__in=low).annotate(i=latest_inputs).values_list("i", flat=True):
            usage = (inputs or {}).get("usage") or {}
            if usage.get("stickiness") is not None:
                stick.append(usage["stickiness"])
            if usage.get("core_breadth") is not None:
                breadth.append(usage["core_breadth"])
        from .models import ClientMilestone

        ms = dict(
            ClientMilestone.objects.filter(client_id__in=low)
            .values("client_id")
            .annotate(n=Count("id"))
            .values_list("client_id", "n")
        )
        success.update(
            median_stickiness=r(statistics.median(stick), 4) if stick else None,
            median_core_breadth=r(statistics.median(breadth), 4) if breadth else None,
            median_milestones_achieved=statistics.median([ms.get(pk, 0) for pk in low]),
        )
    # risk patterns PAT-01..03
    aud = {
        x["client_id"]: x
        for x in ClientUsageDaily.objects.filter(client_id__in=ids, date__gte=p0, date__lte=w1)
        .values("client_id")
        .annotate(w=Sum("active_users", filter=Q(date__gte=w0)), p=Sum("active_users", filter=Q(date__lt=w0)))
    }
    user_share = defaultdict(list)
    for row in (
        UserActivityDaily.objects.filter(client_id__in=ids, date__gte=w0, date__lte=w1, counting_events__gt=0)
        .exclude(user_id__startswith=ANON_PREFIX)
        .values("client_id", "user_id")
        .annotate(n=Sum("counting_events"))
    ):
        user_share[row["client_id"]].append(row["n"])
    last30 = day_bounds(as_of - D(days=29))[0]
    sent30 = dict(
        email.objects.filter(client_id__in=ids, is_internal=False, status="sent", sent_at__gte=last30)
        .values("client_id")
        .annotate(n=Count("id"))
        .values_list("client_id", "n")
    )
    engaged30 = set(
        apps.get_model("customers", "TimelineEvent")
        .objects.filter(client_id__in=ids, counts_as_engagement=True, occurred_at__gte=last30)
        .values_list("client_id", flat=True)
    )
    risk = []
    for pk in sorted(ids, key=lambda p: clients[p]["client_id"]):
        c = clients[pk]
        a = aud.get(pk) or {}
        if (
            trend_10pct(a.get("w") or 0, a.get("p") or 0) == "decreasing"
            and tickets_w.get(pk, 0) >= tickets_p.get(pk, 0) + 2
        ):
            risk.append(
                finding(
                    "PAT-01",
                    f"Friction at {c['client_name']}",
                    "Run a friction review.",
                    Priority.HIGH,
                    {
                        "client_id": c["client_id"],
                        "aud_w": a.get("w") or 0,
                        "aud_p": a.get("p") or 0,
                        "tickets_w": tickets_w.get(pk, 0),
                        "tickets_p": tickets_p.get(pk, 0),
                    },
                )
            )
        shares = sorted(user_share.get(pk, []), reverse=True)
        if len(shares) >= 3 and shares[0] / sum(shares) >= 0.5:
            risk.append(
                finding(
                    "PAT-02",
                    f"Usage concentrated in one user at {c['client_name']}",
                    "Broaden adoption beyond one user.",
                    Priority.MEDIUM,
                    {
                        "client_id": c["client_id"],
                        "top_user_share": r(shares[0] / sum(shares), 4),
                        "active_users": len(shares),
                    },
                )
            )
        if sent30.get(pk, 0) >= 3 and pk not in engaged30:
            risk.append(
                finding(
                    "PAT-03",
                    f"No response to e-mail at {c['client_name']}",
                    "Change channel; schedule a CSM call.",
                    Priority.MEDIUM,
                    {"client_id": c["client_id"], "emails_sent_30d": sent30[pk], "engagement_events_30d": 0},
                )
            )
    findings += risk

    anomalies = None
    if anomaly_detection:
        anomalies = _anomalies(ids, clients, w0, w1)
    predictions = None
    if predictive_insights:
        predictions = _pat04(ids, clients, as_of, gaps)
        findings += predictions
    return {
        "analysis_id": stable_id(
            "ana",
            "analyze_engagement_patterns",
            {
                "scope": analysis_scope,
                "filter": scope_filter,
                "types": pattern_types,
                "days": days,
                "as_of": as_of.isoformat(),
            },
        ),
        "analysis_timestamp": timezone.now().isoformat(),
        "analysis_scope": analysis_scope,
        "customers_analyzed": len(ids),
        "identified_patterns": identified,
        "temporal_patterns": temporal,
        "feature_usage_patterns": feature_patterns,
        "communication_patterns": communication,
        "support_patterns": support,
        "user_personas": {k: personas_now.get(k, 0) for k in ("power", "regular", "at_risk", "inactive")},
        "success_patterns": success,
        "risk_patterns": sort_findings(risk),
        "anomalies": anomalies,
        "pattern_transitions": dict(sorted(transitions.items())),
        "predictive_insights": predictions,
        "engagement_optimization": sort_findings([f for f in risk if f["rule_id"] in ("PAT-02", "PAT-03")]),
        "recommended_actions": sort_findings(findings),
        "data_gaps": gaps,
    }


def _anomalies(ids: list[int], clients: dict, w0: dt.date, w1: dt.date) -> list[dict]:
    """RULES §3.4 daily anomalies on events and DAU: z vs the previous 28 days (≥ 14 prior days, std > 0)."""
    lo = w0 - D(days=28)
    first = dict(
        ClientUsageDaily.objects.filter(client_id__in=ids)
        .values("client_id")
        .annotate(f=Min("date"))
        .values_list("client_id", "f")
    )
    series: dict[int, dict[dt.date, tuple[int, int]]] = defaultdict(dict)
    for cid, day, ev, au in ClientUsageDaily.objects.filter(
        client_id__in=ids, date__gte=lo, date__lte=w1
    ).values_list("client_id", "date", "events", "active_users"):
        series[cid][day] = (ev, au)
    out = []
    for cid, values in series.items():
        start = first.get(cid)
        day = w0
        while day <= w1:
            prior_days = [day - D(days=k) for k in range(28, 0, -1) if day - D(days=k) >= start]
            if len(prior_days) >= 14:
                for idx, metric in ((0, "events"), (1, "active_users")):
                    prior = [values.get(d, (0, 0))[idx] for d in prior_days]
                    mean = sum(prior) / len(prior)
                    std = statistics.pstdev(prior)
                    if std > 0:
                        v = values.get(day, (0, 0))[idx]
                        z = (v - mean) / std
                        if abs(z) >= 3:
                            out.append(
                                {
                                    "client_id": clients[cid]["client_id"],
                                    "date": day.isoformat(),
                                    "metric": metric,
                                    "value": v,
                                    "expected": r(mean, 2),
                                    "z": r(z, 2),
                                    "kind": "spike" if z > 0 else "drop",
                                }
                            )
            day += D(days=1)
    return sorted(out, key=lambda a: (a["date"], a["client_id"], a["metric"]))


def _pat04(ids: list[int], clients: dict, as_of: dt.date, gaps: list) -> list[dict]:
    """PAT-04: weekly active users projected by OLS (≥ 8 complete weeks) ≥ 30 % below current in 4 weeks."""
    end_week = trunc_date(as_of, "weekly") - D(days=1)  # last complete week ends on Sunday
    start = trunc_date(end_week, "weekly") - D(days=7 * 11)
    weekly: dict[int, dict[dt.date, int]] = defaultdict(dict)
    for row in (
        UserActivityDaily.objects.filter(
            client_id__in=ids, date__gte=start, date__lte=end_week, counting_events__gt=0
        )
        .exclude(user_id__startswith=ANON_PREFIX)
        .annotate(b=Trunc("date", "week", output_field=DateField()))
        .values("client_id", "b")
        .annotate(n=Count("user_id", distinct=True))
    ):
        weekly[row["client_id"]][row["b"]] = row["n"]
    out = []
    enough = 0
    weeks = bucket_starts(start, end_week, "weekly")
    for cid in sorted(ids, key=lambda p: clients[p]["client_id"]):
        data = weekly.get(cid, {})
        if not data:
            continue
        first = min(data)
        pts = [(i, data.get(b, 0)) for i, b in enumerate(weeks) if b >= first]
        if len(pts) < 8:
            continue
        enough += 1
        fit = ols([float(x) for x, _ in pts], [float(y) for _, y in pts])
        current = pts[-1][1]
        if fit is None or current <= 0:
            continue
        projected = max(0.0, fit["intercept"] + fit["slope"] * (pts[-1][0] + 4))
        if projected <= 0.7 * current:
            out.append(
                finding(
                    "PAT-04",
                    f"Projected usage decline at {clients[cid]['client_name']}",
                    "Start an early usage intervention.",
                    Priority.HIGH,
                    {
                        "client_id": clients[cid]["client_id"],
                        "current_weekly_active_users": current,
                        "projected_in_4_weeks": r(projected, 1),
                        "weeks_of_data": len(pts),
                    },
                )
            )
    if not enough:
        gaps.append(gap("predictive_insights", "insufficient_history", "No client has ≥ 8 weeks of usage."))
    return out
