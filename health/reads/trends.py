"""analyze_health_trends (TOOLS §3.9): health score series of one account or the portfolio from the official
snapshots, with component trends, band migration, movers, segments and an OLS forecast.

One window query takes, per client and bucket, the latest snapshot of the bucket; everything else is computed in
memory from those rows, so the query count does not grow with the number of clients.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import DateField, F
from django.db.models.expressions import Window
from django.db.models.functions import Trunc
from django.db.models.functions.window import RowNumber

from cs_project.core.errors import InvalidParameter
from cs_project.core.stats import ols, r
from customers.choices import AccountStatus
from customers.models import Client

from ..choices import COMPONENTS
from ..common import gap, resolve_client, today
from ..models import HealthSnapshot
from ..rules import bucket_starts, next_bucket, portfolio_bucket, projected_point
from ..scoring import risk_band, trend_label

D = dt.timedelta
SEGMENT_BY_PATH = {
    "tier": "client__tier",
    "value_tier": "client__value_tier",
    "lifecycle_stage": "client__lifecycle_stage",
    "csm": "client__csm_assigned__username",
}
FORECAST_MIN_BUCKETS = 6


@dataclass
class Buckets:
    """The snapshot rows grouped by bucket: ``starts`` every bucket of the window, ``present`` those with a
    row, ``values`` the (bucket index, score) points of the series (the client's score or the portfolio mean)."""

    start: dt.date
    starts: list[dt.date]
    by_bucket: dict[dt.date, list[dict]]
    present: list[dt.date]
    values: list[tuple[int, float]]


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
    """The analyze_health_trends payload (client or portfolio)."""
    if segment_by and client_id:
        raise InvalidParameter("segment_by applies to the portfolio only (no client_id).", field="segment_by")
    client = resolve_client(client_id) if client_id else None
    gaps: list[dict] = []
    end = today()
    start = end - D(days=lookback_days - 1)
    rows = _bucket_rows(client, start, end, granularity, segment_by)
    buckets = _group(rows, start, end, granularity, client)
    if client:
        series = _client_series(buckets, include_components, gaps)
        segments = None
    else:
        series = [
            {"bucket_start": max(b, start).isoformat(), **_bucket_summary(buckets.by_bucket[b])}
            for b in buckets.present
        ]
        segments = _segments(rows, buckets, segment_by) if segment_by else None
    if not buckets.present:
        gaps.append(gap("series", "no_score", "No official snapshot in the lookback window."))
    component_trends = _component_trends(buckets, gaps) if include_components and buckets.present else None
    band_migrations, pairs = _band_migrations(buckets)
    return {
        "scope": {"client_id": client.client_id if client else None, "segment_by": segment_by},
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "granularity": granularity,
        "series": series,
        "segments": segments,
        "component_trends": component_trends,
        "band_migrations": band_migrations,
        "movers": None if client else _movers(pairs),
        "forecast": _forecast(buckets, granularity, forecast_periods, gaps) if include_forecast else None,
        "summary": _summary(buckets.values, gaps),
        "data_gaps": gaps,
    }


def _bucket_rows(
    client: Client | None, start: dt.date, end: dt.date, granularity: str, segment_by: str | None
) -> list[dict]:
    """Per client and bucket, the latest official snapshot of the bucket (one query)."""
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
    return list(
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


def _group(
    rows: list[dict], start: dt.date, end: dt.date, granularity: str, client: Client | None
) -> Buckets:
    starts = bucket_starts(start, end, granularity)
    index = {b: i for i, b in enumerate(starts)}
    by_bucket: dict[dt.date, list[dict]] = defaultdict(list)
    for row in rows:
        by_bucket[row["b"]].append(row)
    present = [b for b in starts if by_bucket.get(b)]
    if client:
        values = [
            (index[b], by_bucket[b][0]["health_score"])
            for b in present
            if by_bucket[b][0]["health_score"] is not None
        ]
    else:
        values = [
            (index[b], sum(s) / len(s))
            for b in present
            if (s := [v["health_score"] for v in by_bucket[b] if v["health_score"] is not None])
        ]
    return Buckets(start, starts, by_bucket, present, values)


def _bucket_summary(values: list[dict]) -> dict[str, Any]:
    return portfolio_bucket([v["health_score"] for v in values])


def _client_series(buckets: Buckets, include_components: bool, gaps: list) -> list[dict]:
    """One point per bucket with a snapshot: score, band and (optionally) the five components."""
    series = []
    for b in buckets.present:
        v = buckets.by_bucket[b][0]
        item = {
            "bucket_start": max(b, buckets.start).isoformat(),
            "score": v["health_score"],
            "risk_level": v["risk_level"] or None,
        }
        # not requested: null, never omitted (TOOLS §0.6)
        item["components"] = {c: r(v[f"{c}_score"], 1) for c in COMPONENTS} if include_components else None
        series.append(item)
    if any(x["score"] is None for x in series):
        gaps.append(gap("series[].score", "not_enough_data", "A snapshot without a health score."))
        gaps.append(gap("series[].risk_level", "not_enough_data", "A snapshot without a health score."))
    missing = sorted({c for x in series for c, v in (x["components"] or {}).items() if v is None})
    for c in missing:
        gaps.append(gap(f"series[].components.{c}", "not_enough_data", f"{c} missing in a snapshot."))
    return series


def _segments(rows: list[dict], buckets: Buckets, segment_by: str) -> dict[str, list[dict]]:
    """The portfolio series per segment value (``unassigned`` when the client has none)."""
    path = SEGMENT_BY_PATH[segment_by]
    segments = {}
    for key in sorted({(row[path] or "unassigned") for row in rows}):
        segments[key] = [
            {"bucket_start": max(b, buckets.start).isoformat(), **_bucket_summary(sel)}
            for b in buckets.present
            if (sel := [v for v in buckets.by_bucket[b] if (v[path] or "unassigned") == key])
        ]
    return segments


def _component_trends(buckets: Buckets, gaps: list) -> dict[str, dict[str, Any]]:
    """Each component's mean at the first and the last bucket with a snapshot, and its direction (±3)."""
    first_b, last_b = buckets.present[0], buckets.present[-1]

    def mean_of(b: dt.date, c: str) -> float | None:
        vals = [v[f"{c}_score"] for v in buckets.by_bucket[b] if v[f"{c}_score"] is not None]
        return sum(vals) / len(vals) if vals else None

    out = {}
    for c in COMPONENTS:
        s0, s1 = mean_of(first_b, c), mean_of(last_b, c)
        change = s1 - s0 if s0 is not None and s1 is not None else None
        out[c] = {
            "start": r(s0, 1),
            "end": r(s1, 1),
            "change": r(change, 1),
            "direction": trend_label(round(change, 6)) if change is not None else None,
        }
        if change is None:
            gaps.append(
                gap(f"component_trends.{c}", "not_enough_data", f"{c} missing at the first or last bucket.")
            )
    return out


def _band_migrations(buckets: Buckets) -> tuple[dict[str, int], list[dict]]:
    """Band moves ``from->to`` of the clients scored at both the first and the last bucket, and their changes."""
    migrations: dict[str, int] = {}
    pairs: list[dict] = []
    if not buckets.present or buckets.present[0] == buckets.present[-1]:
        return migrations, pairs
    first = {
        v["client_id"]: v for v in buckets.by_bucket[buckets.present[0]] if v["health_score"] is not None
    }
    last = {
        v["client_id"]: v for v in buckets.by_bucket[buckets.present[-1]] if v["health_score"] is not None
    }
    for cid in sorted(set(first) & set(last)):
        a, z = first[cid], last[cid]
        key = f"{risk_band(a['health_score'])}->{risk_band(z['health_score'])}"
        migrations[key] = migrations.get(key, 0) + 1
        pairs.append(
            {
                "client_id": z["client__client_id"],
                "client_name": z["client__client_name"],
                "start_score": a["health_score"],
                "end_score": z["health_score"],
                "change": z["health_score"] - a["health_score"],
            }
        )
    return migrations, pairs


def _movers(pairs: list[dict]) -> dict[str, list[dict]]:
    return {
        "improving": sorted(
            (p for p in pairs if p["change"] > 0), key=lambda p: (-p["change"], p["client_id"])
        )[:10],
        "declining": sorted(
            (p for p in pairs if p["change"] < 0), key=lambda p: (p["change"], p["client_id"])
        )[:10],
    }


def _forecast(buckets: Buckets, granularity: str, periods: int, gaps: list) -> dict[str, Any] | None:
    """OLS over the series' points (x = bucket index), ``periods`` buckets ahead; needs ≥ 6 scored buckets."""
    values = buckets.values
    fit = (
        ols([float(x) for x, _ in values], [float(y) for _, y in values])
        if len(values) >= FORECAST_MIN_BUCKETS
        else None
    )
    if fit is None:
        gaps.append(gap("forecast", "insufficient_history", "The forecast needs ≥ 6 buckets with a score."))
        return None
    points, b, x = [], buckets.starts[-1], len(buckets.starts) - 1
    for _ in range(periods):
        b, x = next_bucket(b, granularity), x + 1
        points.append({"bucket_start": b.isoformat(), **projected_point(fit, x)})
    return {"method": "ols_linear", "points": points, "r2": r(fit["r2"], 4), "n_points": fit["n"]}


def _summary(values: list[tuple[int, float]], gaps: list) -> dict[str, Any]:
    if not values:
        gaps.append(gap("summary", "no_score", "No scored bucket."))
        return {"start_value": None, "end_value": None, "change": None, "direction": None}
    v0, v1 = values[0][1], values[-1][1]
    change = v1 - v0
    if len(values) < 2:
        gaps.append(gap("summary.direction", "insufficient_history", "Only one bucket with a score."))
    return {
        "start_value": r(v0, 1),
        "end_value": r(v1, 1),
        "change": r(change, 1),
        "direction": trend_label(round(change, 6)) if len(values) > 1 else None,
    }
