"""Read-side computations behind the health tools (TOOLS §3) not yet moved to :mod:`health.reads`: feature
adoption, lifecycle, value tiers and engagement patterns. Usage, trends and reports live in ``health.reads``; the
``calculate_health_score`` orchestration in :mod:`health.services_score`.

Numbers come from stored rows only; anything missing is ``None`` with a ``data_gaps`` entry (RULES §15.2).
Portfolio-wide functions run a fixed number of aggregate queries whatever the number of clients.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    DateField,
    JSONField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import (
    ExtractHour,
    ExtractIsoWeekDay,
    Trunc,
)
from django.utils import timezone

from cs_project.core.context import Actor
from cs_project.core.errors import InvalidParameter, NotFound
from cs_project.core.formatting import iso, json_text, jsonable
from cs_project.core.stats import gini, ols, r
from customers.choices import (
    AccountStatus,
    ContractStatus,
    Priority,
    Tier,
)
from customers.models import Client, Contract
from customers.rules import finding, sort_findings

from .common import (
    gap,
    money,
    resolve_client,
    stable_id,
    tier_rank,
    today,
)
from .models import (
    ClientUsageDaily,
    Feature,
    FeatureUsageDaily,
    HealthSnapshot,
    UsageEvent,
    UserActivityDaily,
)
from .rollups import ANON_PREFIX, day_bounds, ensure_fresh, raw_retention_cutoff, reporting_tz
from .rules import WEEKDAYS, adoption_stage, bucket_starts, trend_10pct, trunc_date, user_cohorts

D = dt.timedelta


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
    if not isinstance(secondary, list) or any(d not in SECONDARY_DIMENSIONS for d in secondary):
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
