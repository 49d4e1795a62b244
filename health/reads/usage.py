"""track_usage_engagement (TOOLS §3.1): usage and engagement of one account over a period, from the daily
roll-ups (RULES §3.3) and, inside raw-event retention, the raw events (sessions, hours, users per feature).

The computation is a sequence of named steps over one :class:`Window`; each step appends its own data gaps.
Peer benchmarks run a fixed number of GROUP BY queries whatever the number of peers.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, DateField, FloatField, Min, Q, QuerySet, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, ExtractHour, ExtractIsoWeekDay, Trunc, TruncHour

from cs_project.core.errors import InvalidParameter
from cs_project.core.stats import r, rate_change
from customers.choices import AccountStatus, AlertStatus, ContractStatus, Priority
from customers.models import Alert, Client, Contract
from customers.rules import finding, sort_findings

from ..common import benchmark, counting_exclusions, gap, resolve_client, seats_of, tier_rank
from ..models import ClientUsageDaily, Feature, FeatureUsageDaily, UsageEvent, UserActivityDaily
from ..rollups import ANON_PREFIX, day_bounds, ensure_fresh, raw_retention_cutoff, reporting_tz
from ..rules import (
    WEEKDAYS,
    adoption_stage,
    bucket_starts,
    core_breadth_finding,
    low_adoption_finding,
    top_user_share,
    trend_10pct,
    usage_drop_finding,
    user_cohorts,
)

D = dt.timedelta
ADOPTION_THRESHOLD = 0.2  # ADP-03 for this tool (track_feature_adoption takes it as a parameter)


@dataclass
class Window:
    """The analysis window W = [w0, w1] of one client, the previous window P = [p0, p1] of equal length, and
    the querysets every step reads."""

    client: Client
    w0: dt.date
    w1: dt.date
    gaps: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.days = (self.w1 - self.w0).days + 1
        self.p0, self.p1 = self.w0 - D(days=self.days), self.w0 - D(days=1)
        self.raw_ok = self.w0 >= raw_retention_cutoff()
        self.tz = reporting_tz()
        start_at, end_at = day_bounds(self.w0)[0], day_bounds(self.w1)[1]
        self.raw_w = UsageEvent.objects.filter(
            client=self.client, occurred_at__gte=start_at, occurred_at__lt=end_at
        )
        self.uad = UserActivityDaily.objects.filter(client=self.client).exclude(
            user_id__startswith=ANON_PREFIX
        )
        self.active_q = self.uad.filter(counting_events__gt=0)
        self.cud = ClientUsageDaily.objects.filter(client=self.client)

    def distinct_active(self, a: dt.date, b: dt.date) -> int:
        return self.active_q.filter(date__gte=a, date__lte=b).values("user_id").distinct().count()

    def cud_agg(self, a: dt.date, b: dt.date) -> dict[str, Any]:
        agg = self.cud.filter(date__gte=a, date__lte=b).aggregate(
            events=Sum("events"), qty=Sum("quantity"), aud=Sum("active_users"), actions=Sum("counting_events")
        )
        return {k: (v or 0) for k, v in agg.items()}

    def add_gap(self, path: str, reason: str, detail: str) -> None:
        self.gaps.append(gap(path, reason, detail))


def _validate(period_start: dt.date, period_end: dt.date, granularity: str) -> None:
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
    """The track_usage_engagement payload: engagement, usage, series, patterns, cohorts, adoption timeline,
    heatmap, peer benchmarks, findings (RSK-01, ADP-02, ADP-03, PAT-02) and the open usage alerts."""
    _validate(period_start, period_end, granularity)
    client = resolve_client(client_id)
    ensure_fresh([client.pk])
    win = Window(client=client, w0=period_start, w1=period_end)
    engagement, cohorts, activity = _engagement_metrics(win)
    features = _features(win)
    usage = _usage_analytics(win, features, activity)
    patterns, heatmap = _patterns(win)
    return {
        "client_id": client.client_id,
        "analysis_period": {
            "start": win.w0.isoformat(),
            "end": win.w1.isoformat(),
            "days": win.days,
            "granularity": granularity,
        },
        "engagement_metrics": engagement,
        "usage_analytics": usage,
        "usage_trends": usage_series(client, win.w0, win.w1, granularity, win.raw_w, win.tz),
        "engagement_patterns": patterns,
        "user_cohorts": (
            {k: {"count": len(v), "user_ids": v[:50]} for k, v in cohorts.items()}
            if include_user_segmentation
            else None
        ),
        "feature_adoption_timeline": _adoption_timeline(win, features) if include_feature_breakdown else None,
        "activity_heatmap": heatmap,
        "benchmark_insights": _benchmarks(win) if benchmark_comparison else None,
        "recommendations": sort_findings(_findings(win, features)),
        "alerts": _usage_alerts(client),
        "data_gaps": win.gaps,
    }


def _engagement_metrics(win: Window) -> tuple[dict[str, Any], dict[str, list[str]], dict[str, Any]]:
    """engagement_metrics, the user cohorts (RULES §3.4), and the W / P aggregates later steps reuse."""
    w0, w1, p0, p1 = win.w0, win.w1, win.p0, win.p1
    known = win.uad.filter(date__lte=w1).values("user_id").distinct().count()
    ever_active = win.active_q.filter(date__lte=w1).values("user_id").distinct().count()
    active_users, active_prev = win.distinct_active(w0, w1), win.distinct_active(p0, p1)
    wau, mau = win.distinct_active(w1 - D(days=6), w1), win.distinct_active(w1 - D(days=29), w1)
    aw, ap = win.cud_agg(w0, w1), win.cud_agg(p0, p1)
    aud30 = win.cud_agg(w1 - D(days=29), w1)["aud"]
    if not win.cud.filter(events__gt=0, date__lte=w1).exists():
        win.add_gap("engagement_metrics", "no_usage_events", "No usage event recorded for this client.")
    seats = seats_of(win.client)
    stickiness = (aud30 / 30) / mau if mau else None
    if stickiness is None:
        win.add_gap("engagement_metrics.stickiness", "not_enough_data", "No monthly active user.")
    if seats is None:
        win.add_gap("engagement_metrics.activation_rate", "no_seat_data", "No seat count on the contract.")
    if not known:
        win.add_gap("engagement_metrics.engagement_rate", "no_usage_events", "No known user.")
    session_minutes = _session_minutes(win)
    login_keys = list(settings.CS_RULES.get("login_feature_keys", ["login"]))
    logins = (
        FeatureUsageDaily.objects.filter(
            client=win.client, date__gte=w0, date__lte=w1, feature_key__in=login_keys
        ).aggregate(n=Sum("events"))["n"]
        or 0
    )
    lo = min(p0, w0 - D(days=90))
    user_rows = list(
        win.active_q.filter(date__gte=lo, date__lte=w1)
        .values("user_id")
        .annotate(
            w=Count("id", filter=Q(date__gte=w0)),
            p=Count("id", filter=Q(date__gte=p0, date__lte=p1)),
            before=Count("id", filter=Q(date__gte=w0 - D(days=90), date__lt=w0)),
        )
    )
    cohorts = user_cohorts(user_rows, win.days)
    prefix = "engagement_metrics.vs_previous_period"
    if not active_prev:
        win.add_gap(f"{prefix}.active_users_change_rate", "insufficient_history", "P empty.")
    if not ap["events"]:
        win.add_gap(f"{prefix}.events_change_rate", "insufficient_history", "P empty.")
    engagement_trend = trend_10pct(active_users, active_prev)
    if engagement_trend is None:
        win.add_gap("engagement_metrics.engagement_trend", "insufficient_history", "No active users in P.")
    metrics = {
        "total_known_users": known,
        "active_users": active_users,
        "dau_avg": r(aw["aud"] / win.days, 1),
        "wau": wau,
        "mau": mau,
        "stickiness": r(stickiness, 4),
        "activation_rate": r(ever_active / seats if seats else None, 4),
        "engagement_rate": r(active_users / known if known else None, 4),
        "logins": logins,
        "session_minutes": session_minutes,
        "actions": aw["actions"],
        "power_users": len(cohorts["power"]),
        "regular_users": len(cohorts["regular"]),
        "at_risk_users": len(cohorts["at_risk"]),
        "inactive_users": len(cohorts["inactive"]),
        "engagement_trend": engagement_trend,
        "vs_previous_period": {
            "active_users_change_rate": r(rate_change(active_users, active_prev), 4),
            "events_change_rate": r(rate_change(aw["events"], ap["events"]), 4),
        },
    }
    return metrics, cohorts, {"active_users": active_users, "aw": aw, "ap": ap}


def _session_minutes(win: Window) -> float | None:
    path = "engagement_metrics.session_minutes"
    if not win.raw_ok:
        win.add_gap(path, "raw_events_expired", "Period before retention.")
        return None
    secs = win.raw_w.filter(properties__has_key="session_seconds").aggregate(
        n=Count("id"), s=Sum(Cast(KT("properties__session_seconds"), FloatField()))
    )
    if not secs["n"]:
        win.add_gap(path, "no_session_ids", "No event carries session_seconds.")
        return None
    return r((secs["s"] or 0) / 60, 1)


@dataclass
class Features:
    """What the feature steps share: the catalogue, the features available to the client's tier, the usage in
    W per feature, users per feature (raw events; None outside retention) and first use dates."""

    catalogue: dict[str, Feature]
    available: set[str]
    used: dict[str, dict[str, Any]]
    dates: dict[str, list[dt.date]]
    users: dict[str, int] | None
    first_use: dict[str, dt.date]
    rates: dict[str, float | None]


def _features(win: Window) -> Features:
    client, w0, w1 = win.client, win.w0, win.w1
    catalogue = {f.feature_key: f for f in Feature.objects.filter(active=True)}
    rank = tier_rank(client.tier)
    available = {k for k, f in catalogue.items() if f.catalogued and tier_rank(f.min_tier) <= rank}
    in_w = FeatureUsageDaily.objects.filter(client=client, date__gte=w0, date__lte=w1, events__gt=0)
    used = {
        x["feature_key"]: x
        for x in in_w.values("feature_key").annotate(events=Sum("events"), qty=Sum("quantity"))
    }
    dates: dict[str, list[dt.date]] = defaultdict(list)
    for key, day in in_w.values_list("feature_key", "date"):
        dates[key].append(day)
    users: dict[str, int] | None = None
    if win.raw_ok:
        users = dict(
            win.raw_w.exclude(user_id__startswith=ANON_PREFIX)
            .values("feature_key")
            .annotate(n=Count("user_id", distinct=True))
            .values_list("feature_key", "n")
        )
    else:
        win.add_gap("usage_analytics.top_features[].users", "raw_events_expired", "Users need raw events.")
    first_use = dict(
        FeatureUsageDaily.objects.filter(client=client, events__gt=0, date__lte=w1)
        .values("feature_key")
        .annotate(first=Min("date"))
        .values_list("feature_key", "first")
    )
    return Features(catalogue, available, used, dates, users, first_use, rates={})


def _usage_analytics(win: Window, f: Features, activity: dict[str, Any]) -> dict[str, Any]:
    """usage_analytics; fills ``f.rates`` (adoption rate per available feature) for the findings."""
    active_users, aw, ap = activity["active_users"], activity["aw"], activity["ap"]
    for key in sorted(f.available):
        if f.users is not None and active_users:
            f.rates[key] = f.users.get(key, 0) / active_users
        else:
            f.rates[key] = None if key in f.used else 0.0
    integration_keys = [k for k, x in f.catalogue.items() if x.category == "integration"]
    api_usage = None
    if not UsageEvent.objects.filter(client=win.client, properties__has_key="channel").exists():
        win.add_gap("usage_analytics.api_usage", "not_applicable", "No event carries properties.channel.")
    elif not win.raw_ok:
        win.add_gap("usage_analytics.api_usage", "raw_events_expired", "Period before retention.")
    else:
        api_usage = win.raw_w.filter(properties__channel="api").count()
    growth = rate_change(aw["aud"], ap["aud"])
    if growth is None:
        win.add_gap("usage_analytics.usage_growth_rate", "insufficient_history", "No active user-days in P.")
    usage_trend = trend_10pct(aw["aud"], ap["aud"])
    if usage_trend is None:
        win.add_gap("usage_analytics.usage_trend", "insufficient_history", "No active user-days in P.")
    if not f.available:
        win.add_gap("usage_analytics.feature_utilization_rate", "no_catalogue", "No catalogued feature.")
    top = sorted(f.used.values(), key=lambda x: (-x["events"], x["feature_key"]))[:10]
    return {
        "total_usage_events": aw["events"],
        "total_quantity": float(aw["qty"]),
        "unique_features_used": len(f.used),
        "total_features_available": len(f.available),
        "feature_utilization_rate": (
            r(len(set(f.used) & f.available) / len(f.available), 4) if f.available else None
        ),
        "top_features": [
            {
                "feature_key": x["feature_key"],
                "events": x["events"],
                "users": f.users.get(x["feature_key"], 0) if f.users is not None else None,
            }
            for x in top
        ],
        "underutilized_features": _underutilized(f),
        "new_feature_adoption": [
            {"feature_key": k, "first_used_at": d.isoformat()}
            for k, d in sorted(f.first_use.items(), key=lambda kv: (kv[1], kv[0]))
            if d >= win.w0
        ],
        "integration_usage": sum(x["events"] for k, x in f.used.items() if k in integration_keys),
        "api_usage": api_usage,
        "usage_trend": usage_trend,
        "usage_growth_rate": r(growth, 4),
    }


def _underutilized(f: Features) -> list[str]:
    return sorted(k for k, v in f.rates.items() if v is not None and v < ADOPTION_THRESHOLD)


def _patterns(win: Window) -> tuple[dict[str, Any], dict[str, list[int]] | None]:
    """engagement_patterns (weekday from roll-ups; hour from raw events) and the weekday × hour heatmap."""
    by_weekday = [0] * 7
    for day, events in win.cud.filter(date__gte=win.w0, date__lte=win.w1).values_list("date", "events"):
        by_weekday[day.weekday()] += events
    by_hour: list[int] | None = None
    heatmap: dict[str, list[int]] | None = None
    if win.raw_ok:
        by_hour = [0] * 24
        heatmap = {d: [0] * 24 for d in WEEKDAYS}
        for row in (
            win.raw_w.annotate(
                h=ExtractHour("occurred_at", tzinfo=win.tz),
                wd=ExtractIsoWeekDay("occurred_at", tzinfo=win.tz),
            )
            .values("h", "wd")
            .annotate(n=Count("id"))
        ):
            by_hour[row["h"]] += row["n"]
            heatmap[WEEKDAYS[row["wd"] - 1]][row["h"]] += row["n"]
    else:
        win.add_gap("engagement_patterns.by_hour", "raw_events_expired", "Period before retention.")
        win.add_gap("engagement_patterns.peak_hour", "raw_events_expired", "Period before retention.")
        win.add_gap("activity_heatmap", "raw_events_expired", "Period before retention.")
    peak_weekday = WEEKDAYS[by_weekday.index(max(by_weekday))] if any(by_weekday) else None
    peak_hour = by_hour.index(max(by_hour)) if by_hour and any(by_hour) else None
    if peak_weekday is None:
        win.add_gap("engagement_patterns.peak_weekday", "no_usage_events", "No events in the period.")
    if peak_hour is None and by_hour is not None:
        win.add_gap("engagement_patterns.peak_hour", "no_usage_events", "No events in the period.")
    patterns = {
        "by_weekday": by_weekday,
        "by_hour": by_hour,
        "peak_weekday": peak_weekday,
        "peak_hour": peak_hour,
    }
    return patterns, heatmap


def _adoption_timeline(win: Window, f: Features) -> list[dict[str, Any]]:
    """Each feature ever used, by first use, with its RULES §3.4 adoption stage over W."""
    client_active_days = win.cud.filter(date__gte=win.w0, date__lte=win.w1, active_users__gt=0).count()
    if f.users is None and f.first_use:
        win.add_gap("feature_adoption_timeline[].users", "raw_events_expired", "Users need raw events.")
    return [
        {
            "feature_key": key,
            "first_used_at": first.isoformat(),
            "users": f.users.get(key, 0) if f.users is not None else None,
            "stage": adoption_stage(f.dates.get(key, []), client_active_days),
        }
        for key, first in sorted(f.first_use.items(), key=lambda kv: (kv[1], kv[0]))
    ]


def _benchmarks(win: Window) -> list[dict[str, Any]]:
    """Stickiness, events per active user and licence utilisation vs the active peers of the same tier."""
    client = win.client
    peers = list(
        Client.objects.filter(status=AccountStatus.ACTIVE, tier=client.tier)
        .exclude(pk=client.pk)
        .values_list("pk", flat=True)
    )
    metrics = usage_metrics_by_client([client.pk, *peers], win.w0, win.w1)
    out = []
    for i, name in enumerate(("stickiness", "events_per_active_user", "utilisation")):
        vals = [metrics[p][name] for p in peers if metrics[p][name] is not None]
        own = metrics[client.pk][name]
        out.append(
            benchmark(name, r(own, 4), vals, "tier", client.tier, win.gaps, f"benchmark_insights[{i}]")
        )
    return out


def usage_metrics_by_client(ids: list[int], w0: dt.date, w1: dt.date) -> dict[int, dict[str, Any]]:
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
    mau = _distinct_users_by_client(base.filter(date__gte=m0))
    active = _distinct_users_by_client(base.filter(date__gte=w0))
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


def _distinct_users_by_client(qs: QuerySet) -> dict[int, int]:
    return dict(
        qs.values("client_id").annotate(n=Count("user_id", distinct=True)).values_list("client_id", "n")
    )


def _findings(win: Window, f: Features) -> list[dict[str, Any]]:
    """RSK-01 usage drop, ADP-02 core breadth, ADP-03 low adoption, PAT-02 usage concentrated in one user."""
    out: list[dict] = []
    last7 = win.cud_agg(win.w1 - D(days=6), win.w1)["aud"]
    prev7 = win.cud_agg(win.w1 - D(days=13), win.w1 - D(days=7))["aud"]
    if drop := usage_drop_finding(last7, prev7):
        out.append(drop)
    core_available = sorted(k for k in f.available if f.catalogue[k].is_core)
    if core_available:
        used = [k for k in core_available if k in f.used]
        unused = [k for k in core_available if k not in f.used]
        if breadth := core_breadth_finding(len(used) / len(core_available), unused):
            out.append(breadth)
    out += [low_adoption_finding(k, f.rates[k], ADOPTION_THRESHOLD) for k in _underutilized(f)]
    per_user = list(
        win.active_q.filter(date__gte=win.w0, date__lte=win.w1)
        .values("user_id")
        .annotate(n=Sum("counting_events"))
        .order_by("-n", "user_id")
    )
    share = top_user_share([x["n"] for x in per_user])
    if share is not None:
        out.append(
            finding(
                "PAT-02",
                "Usage concentrated in one user",
                "Broaden adoption beyond one user.",
                Priority.MEDIUM,
                {
                    "user_id": per_user[0]["user_id"],
                    "share_of_counting_events": r(share, 4),
                    "active_users": len(per_user),
                },
            )
        )
    return out


def _usage_alerts(client: Client) -> list[dict[str, Any]]:
    """The client's open usage-drop and adoption-overdue alerts, oldest first."""
    return [
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


def usage_series(client: Client, w0: dt.date, w1: dt.date, granularity: str, raw_w, tz) -> list[dict]:
    """usage_trends: hourly buckets from raw events, otherwise daily / weekly / monthly from the roll-ups (every
    bucket listed, empty ones with zeros; the first starts at ``w0``)."""
    if granularity == "hourly":
        return _hourly_series(raw_w, tz)
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


def _hourly_series(raw_w, tz) -> list[dict]:
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
