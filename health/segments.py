"""The ``segment_customers`` service (TOOLS §3.3, RULES §6.2): segment the population, persist the segments and
their membership changes. Set-based: a fixed number of queries whatever the portfolio size.

Membership persistence: a segment is upserted by (segmentation type, key); a re-run opens memberships only for
clients that entered and closes them only for clients that left (``entered_at`` / ``exited_at``), so unchanged
members are untouched. Segments below ``min_segment_size`` are not persisted. The FILTER grammar the custom
segments and the population use is :mod:`health.segmentation`.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from cs_project.core.context import Actor
from cs_project.core.errors import InvalidParameter
from cs_project.core.stats import r
from customers.audit import audit_record
from customers.choices import AlertStatus, Impact, Priority, Severity, TimelineEventType
from customers.models import Alert, ArrMovement, TimelineEvent
from customers.rules import finding, sort_findings

from .common import gap, money, stable_id, today
from .models import Segment, SegmentMembership
from .rules import SEG01_HEALTH, SEG02_SHARE, seg01_holds, seg02_holds
from .segmentation import population_queryset, segment_expression, value_tier_case
from .selectors import value_tier_bands

CRITERIA_KEYS = {"segments", "population_filter"}


# ------------------------------------------------------------------------------------------------------------
# The service
# ------------------------------------------------------------------------------------------------------------


def _share(n: float, total: float) -> float | None:
    return r(n / total, 4) if total else None


def _mix(values: list[str]) -> dict[str, float]:
    counts = Counter(values)
    total = sum(counts.values())
    return {k: r(v / total, 4) for k, v in sorted(counts.items())} if total else {}


def _validate_criteria(segmentation_type: str, criteria: Any) -> None:
    if not isinstance(criteria, dict):
        raise InvalidParameter("criteria must be an object.", field="criteria")
    unknown = set(criteria) - CRITERIA_KEYS
    if unknown:
        raise InvalidParameter(
            f"Unknown criteria key(s) {sorted(unknown)}.", field=f"criteria.{sorted(unknown)[0]}"
        )
    if segmentation_type == "custom" and "segments" not in criteria:
        raise InvalidParameter("custom segmentation needs criteria.segments.", field="criteria.segments")
    if segmentation_type != "custom" and "segments" in criteria:
        raise InvalidParameter(
            "criteria.segments applies to custom segmentation only.", field="criteria.segments"
        )


def _performance_sources(qs, as_of: dt.date, benchmark_analysis: bool) -> dict[str, dict]:
    """Per client of the population: open alerts; with benchmarks, NPS counts (180 days) and ARR movements
    (12 months). One GROUP BY per source."""
    out: dict[str, dict] = {"alerts": {}, "nps": {}, "arr": {}}
    population = qs.values("pk")
    out["alerts"] = dict(
        Alert.objects.filter(client__in=population, status=AlertStatus.OPEN)
        .values("client_id")
        .annotate(n=Count("id"))
        .values_list("client_id", "n")
    )
    if not benchmark_analysis:
        return out
    survey = apps.get_model("feedback", "SurveyResponse")
    since = timezone.now() - dt.timedelta(days=180)
    out["nps"] = {
        x["client_id"]: x
        for x in survey.objects.filter(client__in=population, survey_type="nps", responded_at__gte=since)
        .values("client_id")
        .annotate(
            n=Count("id"),
            promoters=Count("id", filter=Q(score__gte=9)),
            detractors=Count("id", filter=Q(score__lte=6)),
        )
    }
    start = as_of - dt.timedelta(days=365)
    out["arr"] = {
        x["client_id"]: x
        for x in ArrMovement.objects.filter(client__in=population, movement_date__lte=as_of)
        .values("client_id")
        .annotate(
            start_arr=Sum("amount", filter=Q(movement_date__lt=start)),
            churned=Sum("amount", filter=Q(movement_date__gte=start, kind="churn")),
            contraction=Sum("amount", filter=Q(movement_date__gte=start, kind="contraction")),
        )
    }
    return out


def _strategy(
    segmentation_type: str, key: str, members: list[dict], tier_by_name: dict
) -> tuple[dict, dict | None]:
    """Engagement strategy of a segment: its own value tier (value-based) or its members' most common one."""
    if segmentation_type == "value_based":
        vt = tier_by_name.get(key)
        source = f"value_tier:{key}"
    else:
        common = Counter(x["seg_vt"] for x in members).most_common()
        top = sorted(common, key=lambda kv: (-kv[1], tier_by_name.get(kv[0], {}).get("priority", 99)))
        vt = tier_by_name.get(top[0][0]) if top else None
        source = f"most_common_value_tier:{vt['name']}" if vt else None
    cadence = (
        {"touch_cadence": vt["touch_cadence"], "ebr_cadence": vt["ebr_cadence"]}
        if vt
        else {"touch_cadence": None, "ebr_cadence": None}
    )
    return {**cadence, "source": source}, vt


def _performance(key: str, members: list[dict], mean_health: float | None, src: dict, gaps: list) -> dict:
    """Segment performance: mean health, NPS (180 days), 12-month logo retention and GRR, open alerts."""
    perf_nps, arr_rows = src["nps"], src["arr"]
    nps_n = sum(perf_nps.get(x["pk"], {}).get("n", 0) for x in members)
    prom = sum(perf_nps.get(x["pk"], {}).get("promoters", 0) for x in members)
    det = sum(perf_nps.get(x["pk"], {}).get("detractors", 0) for x in members)
    cohort = [x for x in members if (arr_rows.get(x["pk"], {}).get("start_arr") or 0) > 0]
    start_arr = sum(Decimal(arr_rows[x["pk"]]["start_arr"]) for x in cohort)
    lost = sum(
        -Decimal(arr_rows[x["pk"]]["churned"] or 0) - Decimal(arr_rows[x["pk"]]["contraction"] or 0)
        for x in cohort
    )
    churned_logos = sum(1 for x in cohort if arr_rows[x["pk"]]["churned"])
    if not nps_n:
        gaps.append(
            gap(f"segment_performance.{key}.nps", "no_survey_responses", "No NPS response in 180 days.")
        )
    if mean_health is None:
        gaps.append(gap(f"segment_performance.{key}.avg_health_score", "no_score", "No member is scored."))
    if not cohort:
        gaps.extend(
            gap(
                f"segment_performance.{key}.{field}",
                "insufficient_history",
                "No member had ARR 12 months ago.",
            )
            for field in ("logo_retention_12m", "grr_12m")
        )
    return {
        "avg_health_score": r(mean_health, 1),
        "nps": r((prom - det) / nps_n * 100, 1) if nps_n else None,
        "logo_retention_12m": r(1 - churned_logos / len(cohort), 4) if cohort else None,
        "grr_12m": r(min(1, (start_arr - lost) / start_arr), 4) if start_arr else None,
        "open_alerts": sum(src["alerts"].get(x["pk"], 0) for x in members),
    }


def _findings(d: dict, n: int, mean_health: float | None, without_csm: int, strategy: dict) -> list[dict]:
    """SEG-01 (segment mean health < 65) and SEG-02 (high-touch segment with > 20 % of members without a CSM)."""
    key, out = d["key"], []
    if seg01_holds(mean_health):
        out.append(
            finding(
                "SEG-01",
                f"Low health in segment {d['name']}",
                f"Run a targeted programme for segment {d['name']} (mean health {r(mean_health, 1)}).",
                Priority.MEDIUM,
                {"segment": key, "avg_health_score": r(mean_health, 1), "threshold": SEG01_HEALTH},
            )
        )
    share_without = without_csm / n
    if seg02_holds(touch_cadence=strategy.get("touch_cadence"), without_csm=without_csm, members=n):
        out.append(
            finding(
                "SEG-02",
                f"Segment {d['name']} lacks CSM coverage",
                f"Assign CSMs: {without_csm} of {n} members have none.",
                Priority.MEDIUM,
                {
                    "segment": key,
                    "clients_without_csm": without_csm,
                    "share_without_csm": r(share_without, 4),
                    "threshold": SEG02_SHARE,
                    "touch_cadence": strategy["touch_cadence"],
                },
            )
        )
    return out


def _segment_blocks(
    defs: list[dict], by_key: dict, rows: list[dict], *, ctx: dict[str, Any], gaps: list
) -> dict[str, Any]:
    """Per segment at or above the minimum size: the ``segments`` entry, characteristics, strategy, resource
    allocation, performance and findings; the smaller ones in ``below_min``."""
    total = len(rows)
    total_arr = sum(Decimal(x["contract_value"]) for x in rows)
    out: dict[str, Any] = {"segments": [], "below_min": [], "persisted_keys": [], "findings": [], "means": {}}
    for name in ("distribution", "characteristics", "performance", "strategies", "allocation"):
        out[name] = {}
    for d in defs:
        key = d["key"]
        members = by_key.get(key, [])
        n = len(members)
        out["distribution"][key] = _share(n, total) if total else None
        if not total:
            gaps.append(gap(f"segment_distribution.{key}", "not_enough_data", "The population is empty."))
        if n < ctx["min_segment_size"]:
            out["below_min"].append({"key": key, "customer_count": n})
            continue
        out["persisted_keys"].append(key)
        seg_arr = sum(Decimal(x["contract_value"]) for x in members)
        healths = [x["health_score"] for x in members if x["health_score"] is not None]
        mean_health = sum(healths) / len(healths) if healths else None
        if mean_health is not None:
            out["means"][key] = mean_health
        strategy, vt = _strategy(ctx["segmentation_type"], key, members, ctx["tier_by_name"])
        out["strategies"][key] = strategy
        if mean_health is None:
            index = len(out["segments"])
            gaps.append(
                gap(f"segments[{index}].avg_health_score", "no_score", "No member has a health score.")
            )
        out["segments"].append(
            {
                "segment_id": None,  # filled after persistence
                "key": key,
                "name": d["name"],
                "rule": d["rule"],
                "customer_count": n,
                "client_ids": [x["client_id"] for x in members][:1000],
                "total_arr": money(seg_arr),
                "avg_health_score": r(mean_health, 1),
                "engagement_strategy": strategy,
                "targets": vt["targets"] if vt else {"health": None, "nps": None, "grr": None},
            }
        )
        tenures = [
            (ctx["as_of"] - x["contract_start_date"]).days for x in members if x["contract_start_date"]
        ]
        out["characteristics"][key] = {
            "median_arr": money(statistics.median([Decimal(x["contract_value"]) for x in members])),
            "tier_mix": _mix([x["tier"] for x in members]),
            "lifecycle_mix": _mix([x["lifecycle_stage"] for x in members]),
            "median_tenure_days": statistics.median(tenures) if tenures else None,
        }
        if not tenures:
            gaps.append(
                gap(
                    f"segment_characteristics.{key}.median_tenure_days",
                    "no_contract",
                    "No contract start date.",
                )
            )
        csms = {x["csm_assigned_id"] for x in members if x["csm_assigned_id"]}
        without_csm = sum(1 for x in members if not x["csm_assigned_id"])
        out["allocation"][key] = {
            "clients": n,
            "arr_share": _share(float(seg_arr), float(total_arr)),
            "csms": len(csms),
            "accounts_per_csm": r((n - without_csm) / len(csms), 1) if csms else None,
            "clients_without_csm": without_csm,
        }
        if not csms:
            gaps.append(gap(f"resource_allocation.{key}.accounts_per_csm", "no_csm", "No member has a CSM."))
        if ctx["benchmark_analysis"]:
            out["performance"][key] = _performance(key, members, mean_health, ctx["sources"], gaps)
        if ctx["include_recommendations"]:
            out["findings"] += _findings(d, n, mean_health, without_csm, strategy)
    return out


def _cross_segment(rows: list[dict], seg_means: dict[str, float], gaps: list) -> dict[str, Any]:
    """ARR concentration of the population and the health gap between the best and worst scored segments."""
    total = len(rows)
    arrs = sorted((Decimal(x["contract_value"]) for x in rows), reverse=True)
    total_arr = sum(arrs)
    top_n = math.ceil(total * 0.2) if total else 0
    two = len(seg_means) >= 2
    cross = {
        "top_20pct_arr_share": _share(float(sum(arrs[:top_n])), float(total_arr)) if total_arr else None,
        "health_gap": r(max(seg_means.values()) - min(seg_means.values()), 1) if two else None,
        "best_segment": max(seg_means, key=seg_means.get) if two else None,
        "worst_segment": min(seg_means, key=seg_means.get) if two else None,
    }
    if not total_arr:
        gaps.append(
            gap("cross_segment_analysis.top_20pct_arr_share", "not_enough_data", "No ARR in population.")
        )
    if not two:
        gaps.extend(
            gap(f"cross_segment_analysis.{field}", "not_enough_data", "Fewer than 2 segments with a score.")
            for field in ("health_gap", "best_segment", "worst_segment")
        )
    return cross


def segment_customers_run(
    *,
    actor: Actor,
    segmentation_type: str,
    criteria: dict[str, Any],
    min_segment_size: int = 5,
    include_recommendations: bool = True,
    benchmark_analysis: bool = True,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """Segment the population (RULES §6.2), persist segments ≥ min size and record membership changes."""
    as_of = as_of or today()
    _validate_criteria(segmentation_type, criteria)
    gaps: list[dict] = []
    tiers = value_tier_bands()  # highest first
    qs = population_queryset(
        criteria.get("population_filter"), path="criteria.population_filter", as_of=as_of
    )
    qs, defs = segment_expression(segmentation_type, criteria, tiers, as_of, qs)
    segmentation_id = stable_id(
        "segset", "segment_customers", {"type": segmentation_type, "criteria": criteria}
    )
    # value tier per member (for strategies and SEG-02), computed in SQL like the value-based segments
    qs = qs.annotate(seg_vt=value_tier_case(tiers))
    rows = list(
        qs.values(
            "pk",
            "client_id",
            "seg_key",
            "seg_vt",
            "contract_value",
            "tier",
            "lifecycle_stage",
            "contract_start_date",
            "health_score",
            "csm_assigned_id",
        ).order_by("client_id")
    )
    by_key: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["seg_key"] is not None:
            by_key[row["seg_key"]].append(row)
    if defs is None:  # industry: one segment per distinct industry (case-insensitive)
        defs = [
            {"key": k, "name": k.title(), "rule": {"field": "industry", "op": "=", "value": k}}
            for k in sorted(by_key)
        ]
    ctx = {
        "segmentation_type": segmentation_type,
        "tier_by_name": {t["name"]: t for t in tiers},
        "min_segment_size": min_segment_size,
        "as_of": as_of,
        "benchmark_analysis": benchmark_analysis,
        "include_recommendations": include_recommendations,
        "sources": _performance_sources(qs, as_of, benchmark_analysis)
        if rows
        else {"alerts": {}, "nps": {}, "arr": {}},
    }
    blocks = _segment_blocks(defs, by_key, rows, ctx=ctx, gaps=gaps)
    cross = _cross_segment(rows, blocks["means"], gaps)
    def_by_key = {d["key"]: d for d in defs}
    persisted = blocks["persisted_keys"]
    migration, audit_event = _persist(
        actor=actor,
        segmentation_type=segmentation_type,
        segmentation_id=segmentation_id,
        defs=[def_by_key[k] for k in persisted],
        members={k: [x["pk"] for x in by_key.get(k, [])] for k in persisted},
        all_keys=[d["key"] for d in defs],
    )
    for seg in blocks["segments"]:
        seg["segment_id"] = migration["segment_ids"].get(seg["key"])
    return {
        "segmentation_id": segmentation_id,
        "segmentation_type": segmentation_type,
        "execution_timestamp": timezone.now().isoformat(),
        "total_customers_analyzed": len(rows),
        "segments_created": len(blocks["segments"]),
        "segments": blocks["segments"],
        "segments_below_min_size": blocks["below_min"],
        "segment_distribution": blocks["distribution"],
        "segment_characteristics": blocks["characteristics"],
        "segment_performance": blocks["performance"] if benchmark_analysis else None,
        "cross_segment_analysis": cross,
        "engagement_strategies": blocks["strategies"],
        "resource_allocation": blocks["allocation"],
        "segment_migration": {
            "entered": migration["entered"],
            "exited": migration["exited"],
            "by_segment": migration["by_segment"],
        },
        "recommendations": sort_findings(blocks["findings"]) if include_recommendations else None,
        "audit_event_id": str(audit_event.event_id) if audit_event else None,
        "data_gaps": gaps,
    }


# ------------------------------------------------------------------------------------------------------------
# Persistence
# ------------------------------------------------------------------------------------------------------------


def _upsert_segments(
    *, segmentation_type: str, segmentation_id: str, defs: list[dict], all_keys: list[str], now: dt.datetime
) -> tuple[dict[str, dict], set[str], bool]:
    """Create / update the wanted segments, deactivate this set's segments no longer wanted; returns
    ({key: {pk, key, segment_id}} of the set's segments, wanted keys, whether any segment row changed)."""
    existing = {
        s.key: s
        for s in Segment.objects.filter(segmentation_type=segmentation_type).filter(
            Q(key__in=all_keys + [d["key"] for d in defs]) | Q(segmentation_id=segmentation_id)
        )
    }
    wanted = {d["key"] for d in defs}
    to_upsert = []
    for d in defs:
        s = existing.get(d["key"])
        if (
            s is None
            or s.name != d["name"]
            or s.rule != (d["rule"] or {})
            or s.segmentation_id != segmentation_id
            or not s.is_active
        ):
            to_upsert.append(
                Segment(
                    segmentation_type=segmentation_type,
                    key=d["key"],
                    name=d["name"],
                    rule=d["rule"] or {},
                    segmentation_id=segmentation_id,
                    is_active=True,
                )
            )
    # segments of this set no longer wanted (below min size, or a key that vanished): deactivate, members leave
    owned = {k for k, s in existing.items() if k in all_keys or s.segmentation_id == segmentation_id}
    retire = [existing[k].pk for k in owned if k not in wanted and existing[k].is_active]
    if to_upsert:
        Segment.objects.bulk_create(
            to_upsert,
            update_conflicts=True,
            unique_fields=["segmentation_type", "key"],
            update_fields=["name", "rule", "segmentation_id", "is_active", "updated_at"],
        )
    if retire:
        Segment.objects.filter(pk__in=retire).update(is_active=False, updated_at=now)
    seg_rows = {
        s["key"]: s
        for s in Segment.objects.filter(
            segmentation_type=segmentation_type, key__in=list(wanted | owned)
        ).values("pk", "key", "segment_id")
    }
    return seg_rows, wanted, bool(to_upsert or retire)


def _record_changes(
    *,
    actor: Actor,
    segmentation_type: str,
    segmentation_id: str,
    wanted: set[str],
    entered: dict[int, list[str]],
    exited: dict[int, list[str]],
    by_segment: dict[str, dict[str, int]],
    now: dt.datetime,
):
    """One audit event for the run and one timeline entry per client that entered or left a segment."""
    audit_event = audit_record(
        actor=actor,
        action="health.segmentation.run",
        object_type="segmentation",
        object_id=segmentation_id,
        data={
            "segmentation_type": segmentation_type,
            "segments": sorted(wanted),
            "entered": sum(len(v) for v in entered.values()),
            "exited": sum(len(v) for v in exited.values()),
            "by_segment": by_segment,
        },
    )
    timeline = []
    for pk in sorted(set(entered) | set(exited)):
        parts = []
        if entered.get(pk):
            parts.append("entered " + ", ".join(sorted(entered[pk])))
        if exited.get(pk):
            parts.append("left " + ", ".join(sorted(exited[pk])))
        timeline.append(
            TimelineEvent(
                client_id=pk,
                occurred_at=now,
                event_type=TimelineEventType.ACCOUNT,
                title=f"Segments ({segmentation_type}): {'; '.join(parts)}"[:300],
                impact=Impact.NEUTRAL,
                severity=Severity.INFO,
                source_type="segmentation",
                source_id=segmentation_id,
                actor=actor.label,
                audit_event=audit_event,
            )
        )
    TimelineEvent.objects.bulk_create(timeline)
    return audit_event


@transaction.atomic
def _persist(
    *,
    actor: Actor,
    segmentation_type: str,
    segmentation_id: str,
    defs: list[dict],
    members: dict[str, list[int]],
    all_keys: list[str],
) -> tuple[dict[str, Any], Any]:
    """Upsert segments and record membership changes only; constant number of queries."""
    now = timezone.now()
    seg_rows, wanted, segments_changed = _upsert_segments(
        segmentation_type=segmentation_type,
        segmentation_id=segmentation_id,
        defs=defs,
        all_keys=all_keys,
        now=now,
    )
    seg_pk_key = {v["pk"]: k for k, v in seg_rows.items()}
    current: dict[str, dict[int, int]] = defaultdict(dict)
    for mid, seg_pk, client_pk in SegmentMembership.objects.filter(
        segment_id__in=list(seg_pk_key), exited_at__isnull=True
    ).values_list("id", "segment_id", "client_id"):
        current[seg_pk_key[seg_pk]][client_pk] = mid
    entered_rows, close_ids = [], []
    by_segment: dict[str, dict[str, int]] = {}
    entered: dict[int, list[str]] = defaultdict(list)
    exited: dict[int, list[str]] = defaultdict(list)
    for key in set(seg_rows):
        want = set(members.get(key, [])) if key in wanted else set()
        have = current.get(key, {})
        ins, outs = want - set(have), set(have) - want
        for pk in sorted(ins):
            entered_rows.append(
                SegmentMembership(segment_id=seg_rows[key]["pk"], client_id=pk, entered_at=now)
            )
            entered[pk].append(key)
        for pk in sorted(outs):
            close_ids.append(have[pk])
            exited[pk].append(key)
        if ins or outs:
            by_segment[key] = {"entered": len(ins), "exited": len(outs)}
    if close_ids:
        SegmentMembership.objects.filter(id__in=close_ids).update(exited_at=now)
    if entered_rows:
        SegmentMembership.objects.bulk_create(entered_rows)
    audit_event = None
    if segments_changed or entered or exited:
        audit_event = _record_changes(
            actor=actor,
            segmentation_type=segmentation_type,
            segmentation_id=segmentation_id,
            wanted=wanted,
            entered=entered,
            exited=exited,
            by_segment=by_segment,
            now=now,
        )
    return (
        {
            "entered": sum(len(v) for v in entered.values()),
            "exited": sum(len(v) for v in exited.values()),
            "by_segment": by_segment,
            "segment_ids": {k: v["segment_id"] for k, v in seg_rows.items() if k in wanted},
        },
        audit_event,
    )
