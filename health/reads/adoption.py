"""``track_feature_adoption`` (TOOLS §3.4): feature adoption of one account or the whole portfolio.

Numbers come from the daily roll-ups (``FeatureUsageDaily``, ``UserActivityDaily``, ``ClientUsageDaily``) and,
for distinct-user counts, from raw events while they are retained; anything missing is ``None`` plus a
``data_gaps`` entry (RULES §15.2). The rules themselves (adoption stage, user cohorts, co-usage) are pure
functions in :mod:`health.rules`. :func:`cohort_rows` is also read by :mod:`health.reads.patterns`.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from cs_project.core.errors import NotFound
from cs_project.core.formatting import iso
from cs_project.core.stats import r
from customers.choices import AccountStatus
from customers.models import Client
from customers.rules import sort_findings

from ..common import gap, resolve_client, stable_id, tier_rank, today
from ..models import ClientUsageDaily, Feature, FeatureUsageDaily, UsageEvent, UserActivityDaily
from ..rollups import ANON_PREFIX, day_bounds, ensure_fresh, raw_retention_cutoff, rollup_pending
from ..rules import (
    CORE_BREADTH_TARGET,
    adoption_stage,
    core_breadth_finding,
    jaccard_pairs,
    low_adoption_finding,
    user_cohorts,
)

D = dt.timedelta
HIGH_VALUE_MIN_GROUP = 5
HIGH_VALUE_MIN_DIFFERENCE = 10


def cohort_rows(client_ids: list[int], w0: dt.date, w1: dt.date, days: int) -> list[dict]:
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
        if len(a) >= HIGH_VALUE_MIN_GROUP and len(n) >= HIGH_VALUE_MIN_GROUP:
            ma, mn = sum(a) / len(a), sum(n) / len(n)
            if ma - mn >= HIGH_VALUE_MIN_DIFFERENCE:
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


@dataclass
class _Adoption:
    """What the steps of one ``track_feature_adoption`` call share: scope, window and the roll-up facts."""

    client: Client | None
    keys: list[str]
    catalogue: dict[str, Feature]
    ids: list[int]
    w0: dt.date
    end: dt.date
    gaps: list[dict] = field(default_factory=list)
    client_info: dict[int, dict] = field(default_factory=dict)
    fud: list[tuple] = field(default_factory=list)
    used_by: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    events_by: Counter = field(default_factory=Counter)
    dates_by: dict[tuple, list[dt.date]] = field(default_factory=lambda: defaultdict(list))
    span: dict[str, dict] = field(default_factory=dict)
    first_use: dict[tuple[int, str], dt.date] = field(default_factory=dict)

    @property
    def core_keys(self) -> list[str]:
        return [k for k, f in self.catalogue.items() if f.is_core and f.catalogued]


def _scope(client_id: str | None, feature_id: str | None, days: int) -> _Adoption:
    """Resolve the scope, the catalogue and the clients; bring their roll-ups up to date."""
    client = resolve_client(client_id) if client_id else None
    if feature_id is not None and not Feature.objects.filter(feature_key=feature_id).exists():
        raise NotFound(f"Feature '{feature_id}' is not in the catalogue.", field="feature_id")
    end = today()
    catalogue = {f.feature_key: f for f in Feature.objects.filter(active=True)}
    if feature_id is not None and feature_id not in catalogue:
        catalogue[feature_id] = Feature.objects.get(feature_key=feature_id)
    keys = [feature_id] if feature_id else sorted(catalogue)
    ids = (
        [client.pk]
        if client
        else list(Client.objects.filter(status=AccountStatus.ACTIVE).values_list("pk", flat=True))
    )
    a = _Adoption(client=client, keys=keys, catalogue=catalogue, ids=ids, w0=end - D(days=days - 1), end=end)
    if not keys:
        a.gaps.append(
            gap("feature_adoption_breakdown", "no_catalogue", "No active feature in the catalogue.")
        )
    if client:
        ensure_fresh(ids)
    else:
        rollup_pending()
    return a


def _load_usage(a: _Adoption) -> None:
    """Client attributes, per-day feature usage in the window, and first/last use (three grouped queries)."""
    a.client_info = {
        x["pk"]: x
        for x in Client.objects.filter(pk__in=a.ids).values(
            "pk", "tier", "lifecycle_stage", "contract_start_date"
        )
    }
    a.fud = list(
        FeatureUsageDaily.objects.filter(
            client_id__in=a.ids, date__gte=a.w0, date__lte=a.end, events__gt=0
        ).values_list("client_id", "feature_key", "date", "events", "active_users")
    )
    for cid, key, day, ev, _au in a.fud:
        a.used_by[key].add(cid)
        a.events_by[key] += ev
        a.dates_by[(cid, key)].append(day)
    used = FeatureUsageDaily.objects.filter(client_id__in=a.ids, events__gt=0, date__lte=a.end)
    a.span = {
        x["feature_key"]: x for x in used.values("feature_key").annotate(first=Min("date"), last=Max("date"))
    }
    a.first_use = {
        (x["client_id"], x["feature_key"]): x["first"]
        for x in used.values("client_id", "feature_key").annotate(first=Min("date"))
    }


def _client_usage(a: _Adoption) -> tuple[int, int, dict[str, int] | None]:
    """One client's active users and active days in W, and distinct users per feature (raw events)."""
    client = a.client
    active_users = (
        UserActivityDaily.objects.filter(
            client=client, counting_events__gt=0, date__gte=a.w0, date__lte=a.end
        )
        .exclude(user_id__startswith=ANON_PREFIX)
        .values("user_id")
        .distinct()
        .count()
    )
    active_days = ClientUsageDaily.objects.filter(
        client=client, date__gte=a.w0, date__lte=a.end, active_users__gt=0
    ).count()
    users_by_feature = None
    if a.w0 >= raw_retention_cutoff():
        start_at, end_at = day_bounds(a.w0)[0], day_bounds(a.end)[1]
        users_by_feature = dict(
            UsageEvent.objects.filter(client=client, occurred_at__gte=start_at, occurred_at__lt=end_at)
            .exclude(user_id__startswith=ANON_PREFIX)
            .values("feature_key")
            .annotate(n=Count("user_id", distinct=True))
            .values_list("feature_key", "n")
        )
    else:
        a.gaps += [
            gap(f"feature_adoption_breakdown[].{field}", "raw_events_expired", "Window too old.")
            for field in ("adoption_rate", "users_or_clients")
        ]
    if not active_users:
        a.gaps.append(gap("feature_adoption_breakdown[].adoption_rate", "no_usage_events", "No active user."))
    return active_users, active_days, users_by_feature


def _breakdown(a: _Adoption) -> tuple[list[dict], dict[str, float | None]]:
    """Per feature: adoption rate (users of one client, or eligible clients of the portfolio) and stage."""
    if a.client:
        active_users, active_days, users_by_feature = _client_usage(a)
    tier_counts = Counter(info["tier"] for info in a.client_info.values())
    breakdown, rates = [], {}
    for key in a.keys:
        f = a.catalogue[key]
        if a.client:
            count = users_by_feature.get(key, 0) if users_by_feature is not None else None
            rate = count / active_users if count is not None and active_users else None
            stage = adoption_stage(a.dates_by.get((a.client.pk, key), []), active_days)
        else:
            eligible = sum(n for t, n in tier_counts.items() if tier_rank(t) >= tier_rank(f.min_tier))
            count = len(a.used_by[key])
            rate = count / eligible if eligible else None
            stage = None
            if not eligible:
                a.gaps.append(
                    gap(
                        f"feature_adoption_breakdown[{len(breakdown)}].adoption_rate",
                        "not_applicable",
                        f"No client of the population has a tier that includes '{key}' ({f.min_tier}+).",
                    )
                )
        rates[key] = rate
        breakdown.append(
            {
                "feature_key": key,
                "name": f.name or key,
                "is_core": f.is_core,
                "adoption_rate": r(rate, 4),
                "users_or_clients": count,
                "events": a.events_by[key],
                "stage": stage,
                "first_used_at": iso(a.span.get(key, {}).get("first")),
                "last_used_at": iso(a.span.get(key, {}).get("last")),
            }
        )
    if not a.client and a.keys:
        a.gaps.append(gap("feature_adoption_breakdown[].stage", "not_applicable", "Stages are per client."))
    return breakdown, rates


def _core_breadths(a: _Adoption) -> dict[int, float | None]:
    """Per client: share of the core features of its tier it used in W (None: no core feature for the tier)."""
    core_keys = a.core_keys
    out: dict[int, float | None] = {}
    for cid in a.ids:
        rank = tier_rank(a.client_info[cid]["tier"])
        avail = [k for k in core_keys if tier_rank(a.catalogue[k].min_tier) <= rank]
        out[cid] = sum(1 for k in avail if cid in a.used_by[k]) / len(avail) if avail else None
    return out


def _grouped(a: _Adoption, breadths: dict[int, float | None], attr: str) -> dict[str, float | None]:
    groups: dict[str, list[float]] = defaultdict(list)
    for cid, v in breadths.items():
        if v is not None:
            groups[a.client_info[cid][attr]].append(v)
    return {k: r(sum(v) / len(v), 4) for k, v in sorted(groups.items())}


def _velocity(a: _Adoption) -> dict[str, float | None]:
    """Median days from eligibility (contract start or release, whichever is later) to first use."""
    velocity: dict[str, float | None] = {}
    for key in a.keys:
        f = a.catalogue[key]
        delays = []
        for cid in a.ids:
            first = a.first_use.get((cid, key))
            start = a.client_info[cid]["contract_start_date"]
            if (
                first is None
                or start is None
                or tier_rank(a.client_info[cid]["tier"]) < tier_rank(f.min_tier)
            ):
                continue
            eligible_on = max(start, f.released_on) if f.released_on else start
            delays.append(max(0, (first - eligible_on).days))
        velocity[key] = statistics.median(delays) if delays else None
    if any(v is None for v in velocity.values()):
        a.gaps.append(
            gap("adoption_velocity", "not_enough_data", "Some features have no first use after eligibility.")
        )
    return velocity


def _patterns(a: _Adoption) -> list[dict]:
    """One client: the order in which it first used each feature; portfolio: the top co-used feature pairs."""
    if not a.client:
        return jaccard_pairs({k: a.used_by[k] for k in a.keys})
    pk = a.client.pk
    order = sorted((d, k) for (cid, k), d in a.first_use.items() if cid == pk and k in a.keys)
    return [
        {"order": i + 1, "feature_key": k, "first_used_at": d.isoformat()} for i, (d, k) in enumerate(order)
    ]


def _stickiness(a: _Adoption) -> dict[str, float | None]:
    """Feature DAU (mean daily users over the last ≤ 30 days) ÷ feature MAU (distinct users, raw events)."""
    m0 = max(a.w0, a.end - D(days=29))
    m_days = (a.end - m0).days + 1
    if m0 < raw_retention_cutoff():
        a.gaps.append(gap("feature_stickiness", "raw_events_expired", "Distinct users need raw events."))
        return {}
    dau: Counter = Counter()
    for _cid, key, day, _ev, au in a.fud:
        if day >= m0:
            dau[key] += au
    mau: Counter = Counter()
    for row in (
        UsageEvent.objects.filter(
            client_id__in=a.ids, occurred_at__gte=day_bounds(m0)[0], occurred_at__lt=day_bounds(a.end)[1]
        )
        .exclude(user_id__startswith=ANON_PREFIX)
        .values("feature_key", "client_id")
        .annotate(n=Count("user_id", distinct=True))
    ):
        mau[row["feature_key"]] += row["n"]
    return {key: r((dau[key] / m_days) / mau[key], 4) if mau[key] else None for key in a.keys}


def _findings(
    a: _Adoption,
    overall: float | None,
    rates: dict[str, float | None],
    underutilized: list[str],
    threshold: float,
) -> tuple[list[dict], list[dict]]:
    """ADP-02 (one client's core breadth below 70 %) and ADP-03 (each underutilised feature)."""
    findings: list[dict] = []
    if a.client and overall is not None and overall < CORE_BREADTH_TARGET:
        rank = tier_rank(a.client.tier)
        unused = sorted(
            k
            for k in a.core_keys
            if tier_rank(a.catalogue[k].min_tier) <= rank and a.client.pk not in a.used_by[k]
        )
        findings.append(core_breadth_finding(overall, unused))
    adp03 = [low_adoption_finding(k, rates[k], threshold) for k in underutilized]
    return findings + adp03, adp03


def _personas(a: _Adoption, days: int) -> dict[str, dict]:
    """User cohorts (RULES §3.4) per client, summed over the scope."""
    by_client: dict[int, list[dict]] = defaultdict(list)
    for row in cohort_rows(a.ids, a.w0, a.end, days):
        by_client[row["client_id"]].append(row)
    counts: Counter = Counter()
    for rows in by_client.values():
        for k, v in user_cohorts(rows, days).items():
            counts[k] += len(v)
    total = sum(counts.values())
    return {
        k: {"count": counts[k], "share": r(counts[k] / total, 4) if total else None}
        for k in ("power", "regular", "at_risk", "inactive")
    }


def feature_adoption(
    *,
    client_id: str | None = None,
    feature_id: str | None = None,
    time_period_days: int = 90,
    adoption_threshold: float = 0.2,
    include_user_personas: bool = True,
    optimization_recommendations: bool = True,
) -> dict[str, Any]:
    """The ``track_feature_adoption`` result for one client (``client_id``) or the active portfolio."""
    a = _scope(client_id, feature_id, time_period_days)
    _load_usage(a)
    breakdown, rates = _breakdown(a)
    breadths = _core_breadths(a)
    if a.client:
        overall = breadths[a.client.pk]
    else:
        vals = [v for v in breadths.values() if v is not None]
        overall = sum(vals) / len(vals) if vals else None
    if overall is None:
        a.gaps.append(gap("overall_adoption_rate", "no_catalogue", "No core feature for the tier(s)."))
    velocity = _velocity(a)
    patterns = _patterns(a)
    stickiness = _stickiness(a)
    underutilized = sorted(k for k in a.keys if rates[k] is not None and rates[k] < adoption_threshold)
    findings, adp03 = _findings(a, overall, rates, underutilized, adoption_threshold)
    personas = _personas(a, time_period_days) if include_user_personas else None
    hv = _high_value_features(a.keys, a.catalogue, a.w0, a.end)
    scope_payload = {"client_id": client_id, "feature_id": feature_id, "window_days": time_period_days}
    return {
        "analysis_id": stable_id(
            "ana",
            "track_feature_adoption",
            {**scope_payload, "threshold": adoption_threshold, "as_of": a.end.isoformat()},
        ),
        "analysis_timestamp": timezone.now().isoformat(),
        "scope": scope_payload,
        "overall_adoption_rate": r(overall, 4),
        "feature_adoption_breakdown": breakdown,
        "adoption_by_tier": _grouped(a, breadths, "tier") if not a.client else None,
        "adoption_by_lifecycle": _grouped(a, breadths, "lifecycle_stage") if not a.client else None,
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
        "data_gaps": a.gaps,
    }
