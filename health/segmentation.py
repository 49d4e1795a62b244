"""Customer segmentation (RULES §6.2): the FILTER grammar compiled to Django ``Q`` objects and the
``segment_customers`` service (set-based: a fixed number of queries whatever the portfolio size).

Membership persistence: a segment is upserted by (segmentation type, key); a re-run opens memberships only for
clients that entered and closes them only for clients that left (``entered_at`` / ``exited_at``), so unchanged
members are untouched. Segments below ``min_segment_size`` are not persisted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import statistics
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import Case, CharField, Count, F, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from cs_project.core.context import Actor
from cs_project.core.errors import InvalidParameter
from cs_project.core.types import DATE_MAX, DATE_MIN, PG_INT_MAX, PG_INT_MIN, number_problem, printable_path
from customers.audit import audit_record
from customers.choices import (
    AccountStatus,
    AlertStatus,
    Impact,
    LifecycleStage,
    Priority,
    Severity,
    TimelineEventType,
)
from customers.models import Alert, ArrMovement, Client, TimelineEvent
from customers.rules import finding, sort_findings

from .models import HealthSnapshot, Segment, SegmentMembership, UserActivityDaily
from .rollups import ANON_PREFIX, local_date, rollup_pending
from .scoring import round_half_up
from .selectors import value_tier_bands

# ------------------------------------------------------------------------------------------------------------
# Small shared helpers
# ------------------------------------------------------------------------------------------------------------


def today() -> dt.date:
    return local_date(timezone.now())


def gap(field: str, reason: str, detail: str) -> dict[str, str]:
    return {"field": field, "reason": reason, "detail": detail}


def r(value: float | None, places: int) -> float | None:
    return None if value is None else round_half_up(float(value), places)


def money(value: Any) -> float | None:
    return None if value is None else float(Decimal(value).quantize(Decimal("0.01")))


def stable_id(prefix: str, tool: str, payload: Any) -> str:
    """Deterministic id of (tool, arguments[, as-of]) (TOOLS §0.3)."""
    text = json.dumps([tool, payload], sort_keys=True, default=str)
    return f"{prefix}_{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def slug_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")[:200] or "segment"


# ------------------------------------------------------------------------------------------------------------
# FILTER grammar (RULES §6.2)
# ------------------------------------------------------------------------------------------------------------

STRING_FIELDS = {"tier", "value_tier", "industry", "lifecycle_stage", "status", "risk_level", "csm_assigned"}
NUMBER_FIELDS = {"contract_value", "health_score", "days_until_renewal", "mau", "nps_latest", "open_tickets"}
FILTER_FIELDS = STRING_FIELDS | NUMBER_FIELDS
FILTER_OPS = {"=", "!=", ">", ">=", "<", "<=", "in", "not_in", "contains"}
ANNOTATED_FIELDS = {"mau", "nps_latest", "open_tickets"}
_LOOKUP = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
_PATH = {
    "csm_assigned": "csm_assigned__username",
    "mau": "f_mau",
    "nps_latest": "f_nps_latest",
    "open_tickets": "f_open_tickets",
}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _shown(value: Any) -> str:
    """A rejected FILTER name as the error message shows it: short, and only when it is text."""
    return repr(printable_path(value)[:50]) if isinstance(value, str) else f"of type {type(value).__name__}"


def _number_out_of_range(fld: str, value: float, as_of: dt.date) -> str | None:
    """Why a FILTER number cannot be compared in SQL: not finite, beyond the column (±2^31 for the counts and
    scores, numeric(14, 2) for money), or a renewal day outside the dates the platform stores."""
    problem = number_problem(value)
    if problem:
        return problem
    if fld == "days_until_renewal":
        lo, hi = (DATE_MIN - as_of).days, (DATE_MAX - as_of).days
        return None if lo <= value <= hi else f"must be between {lo} and {hi} days"
    if fld != "contract_value" and not PG_INT_MIN <= value <= PG_INT_MAX:
        return f"must be between {PG_INT_MIN} and {PG_INT_MAX}"
    return None


def _cond_q(cond: Any, path: str, as_of: dt.date, used: set[str]) -> Q:
    if not isinstance(cond, dict):
        raise InvalidParameter("A condition must be an object {field, op, value}.", field=path)
    if "all" in cond or "any" in cond:
        return compile_filter(cond, path=path, as_of=as_of, used=used)
    extra = set(cond) - {"field", "op", "value"}
    if extra:
        raise InvalidParameter(f"Unknown condition key(s) {sorted(extra)}.", field=path)
    fld, op, value = cond.get("field"), cond.get("op"), cond.get("value")
    if not isinstance(fld, str) or fld not in FILTER_FIELDS:  # a list or object is no field name
        raise InvalidParameter(
            f"Unknown FILTER field {_shown(fld)}; allowed: {sorted(FILTER_FIELDS)}.", field=f"{path}.field"
        )
    if not isinstance(op, str) or op not in FILTER_OPS:
        raise InvalidParameter(
            f"Unknown FILTER op {_shown(op)}; allowed: {sorted(FILTER_OPS)}.", field=f"{path}.op"
        )
    used.add(fld)
    vpath = f"{path}.value"
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise InvalidParameter(f"'{op}' needs a non-empty list.", field=vpath)
        values = value
    else:
        values = [value]
    numeric = fld in NUMBER_FIELDS
    for v in values:
        if v is None and op in ("=", "!="):
            continue
        if numeric and not _is_number(v):
            raise InvalidParameter(f"{fld} compares with numbers.", field=vpath)
        if numeric and (problem := _number_out_of_range(fld, v, as_of)):
            raise InvalidParameter(f"{fld}: the value {problem}.", field=vpath)
        if not numeric and not isinstance(v, str):
            raise InvalidParameter(f"{fld} compares with strings.", field=vpath)
    if numeric and op == "contains":
        raise InvalidParameter(f"'contains' does not apply to the numeric field {fld}.", field=f"{path}.op")
    if not numeric and op in _LOOKUP:
        raise InvalidParameter(f"'{op}' does not apply to the text field {fld}.", field=f"{path}.op")

    if fld == "days_until_renewal":  # renewal_date compared with today + n (no annotation needed)

        def target(n):
            return as_of + dt.timedelta(days=n)

        col = "renewal_date"
        if op == "=":
            return Q(renewal_date__isnull=True) if value is None else Q(**{col: target(value)})
        if op == "!=":
            return ~Q(renewal_date__isnull=True) if value is None else ~Q(**{col: target(value)})
        if op in _LOOKUP:
            return Q(**{f"{col}__{_LOOKUP[op]}": as_of + dt.timedelta(days=value)})
        q = Q(**{f"{col}__in": [target(v) for v in values]})
        return q if op == "in" else ~q & Q(renewal_date__isnull=False)

    col = _PATH.get(fld, fld)
    ci = fld == "industry"
    if op == "=":
        if value is None:
            return Q(**{f"{col}__isnull": True})
        return Q(**{f"{col}__iexact" if ci else col: value})
    if op == "!=":
        if value is None:
            return Q(**{f"{col}__isnull": False})
        return ~Q(**{f"{col}__iexact" if ci else col: value})
    if op in _LOOKUP:
        return Q(**{f"{col}__{_LOOKUP[op]}": value})
    if op == "contains":
        return Q(**{f"{col}__icontains": value})
    if ci:
        q = Q()
        for v in values:
            q |= Q(**{f"{col}__iexact": v})
    else:
        q = Q(**{f"{col}__in": values})
    return q if op == "in" else ~q


def compile_filter(spec: Any, *, path: str, as_of: dt.date, used: set[str] | None = None) -> Q:
    """``{"all": [...]}`` / ``{"any": [...]}`` (nestable) → ``Q``. Unknown field/op → INVALID_PARAMETER."""
    used = used if used is not None else set()
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in ("all", "any"):
        if isinstance(spec, dict) and "field" in spec:
            return _cond_q(spec, path, as_of, used)
        raise InvalidParameter('A FILTER is {"all": [...]} or {"any": [...]}.', field=path)
    kind, items = next(iter(spec.items()))
    if not isinstance(items, list):
        raise InvalidParameter(f"'{kind}' must be a list of conditions.", field=f"{path}.{kind}")
    q = Q()
    for i, cond in enumerate(items):
        cq = _cond_q(cond, f"{path}.{kind}[{i}]", as_of, used)
        q = (q & cq) if kind == "all" else (q | cq)
    if kind == "any" and not items:
        return Q(pk__in=[])
    return q


def filter_fields_used(spec: Any) -> set[str]:
    used: set[str] = set()
    if spec is not None:
        compile_filter(spec, path="filter", as_of=today(), used=used)
    return used


def annotate_filter_fields(qs, used: set[str], as_of: dt.date):
    """Add the computed FILTER fields (mau, nps_latest, open_tickets) as correlated subqueries."""
    if "mau" in used:
        rollup_pending()
        sq = (
            UserActivityDaily.objects.filter(
                client=OuterRef("pk"),
                date__gte=as_of - dt.timedelta(days=29),
                date__lte=as_of,
                counting_events__gt=0,
            )
            .exclude(user_id__startswith=ANON_PREFIX)
            .order_by()
            .values("client")
            .annotate(n=Count("user_id", distinct=True))
            .values("n")
        )
        qs = qs.annotate(f_mau=Coalesce(Subquery(sq, output_field=IntegerField()), 0))
    if "nps_latest" in used:
        survey = apps.get_model("feedback", "SurveyResponse")
        sq = (
            survey.objects.filter(client=OuterRef("pk"), survey_type="nps")
            .order_by("-responded_at", "-id")
            .values("score")[:1]
        )
        qs = qs.annotate(f_nps_latest=Subquery(sq))
    if "open_tickets" in used:
        ticket = apps.get_model("support", "Ticket")
        sq = (
            ticket.objects.filter(client=OuterRef("pk"))
            .exclude(status__in=["resolved", "closed"])
            .order_by()
            .values("client")
            .annotate(n=Count("id"))
            .values("n")
        )
        qs = qs.annotate(f_open_tickets=Coalesce(Subquery(sq, output_field=IntegerField()), 0))
    return qs


def population_queryset(population_filter: Any, *, path: str, as_of: dt.date):
    """Clients matching the FILTER (default: every ``active`` client)."""
    qs = Client.objects.all()
    if population_filter is None:
        return qs.filter(status=AccountStatus.ACTIVE)
    used: set[str] = set()
    q = compile_filter(population_filter, path=path, as_of=as_of, used=used)
    return annotate_filter_fields(qs, used, as_of).filter(q)


# ------------------------------------------------------------------------------------------------------------
# Segment definitions per type
# ------------------------------------------------------------------------------------------------------------

USAGE_SEGMENTS = [
    ("power_users", "Power users", "usage component ≥ 85"),
    ("active_regular", "Active regular", "usage component 70–84.9"),
    ("casual", "Casual", "usage component < 70"),
    ("no_usage_data", "No usage data", "usage component missing"),
]
HEALTH_SEGMENTS = [
    ("healthy", "Healthy", "health ≥ 80"),
    ("moderate", "Moderate", "health 65–79"),
    ("at_risk", "At risk", "health 50–64"),
    ("critical", "Critical", "health < 50"),
    ("not_scored", "Not scored", "no health score"),
]
CRITERIA_KEYS = {"segments", "population_filter"}


def _latest_usage_subquery():
    return Subquery(
        HealthSnapshot.objects.filter(client=OuterRef("pk")).order_by("-as_of").values("usage_score")[:1]
    )


def _segment_expression(segmentation_type: str, criteria: dict, tiers: list[dict], as_of: dt.date, qs):
    """(queryset annotated with ``seg_key``, ordered definitions [{key, name, rule}])."""
    if segmentation_type == "value_based":
        whens = []
        for t in tiers:
            cond = Q(contract_value__gte=t["min"])
            if t["max"] is not None:
                cond &= Q(contract_value__lt=t["max"])
            whens.append(When(cond, then=Value(t["name"])))
        lowest = tiers[-1]["name"] if tiers else "starter"
        expr = Case(*whens, default=Value(lowest), output_field=CharField())
        defs = [
            {
                "key": t["name"],
                "name": t["name"].replace("_", " ").title(),
                "rule": {"field": "contract_value", "min": money(t["min"]), "max": money(t["max"])},
            }
            for t in tiers
        ]
        return qs.annotate(seg_key=expr), defs
    if segmentation_type == "usage_based":
        qs = qs.annotate(seg_usage=_latest_usage_subquery())
        expr = Case(
            When(seg_usage__isnull=True, then=Value("no_usage_data")),
            When(seg_usage__gte=85, then=Value("power_users")),
            When(seg_usage__gte=70, then=Value("active_regular")),
            default=Value("casual"),
            output_field=CharField(),
        )
        defs = [{"key": k, "name": n, "rule": {"description": d}} for k, n, d in USAGE_SEGMENTS]
        return qs.annotate(seg_key=expr), defs
    if segmentation_type == "health_based":
        expr = Case(
            When(health_score__isnull=True, then=Value("not_scored")),
            When(health_score__gte=80, then=Value("healthy")),
            When(health_score__gte=65, then=Value("moderate")),
            When(health_score__gte=50, then=Value("at_risk")),
            default=Value("critical"),
            output_field=CharField(),
        )
        defs = [{"key": k, "name": n, "rule": {"description": d}} for k, n, d in HEALTH_SEGMENTS]
        return qs.annotate(seg_key=expr), defs
    if segmentation_type == "lifecycle":
        defs = [
            {"key": s, "name": label, "rule": {"field": "lifecycle_stage", "op": "=", "value": s}}
            for s, label in LifecycleStage.choices
        ]
        return qs.annotate(seg_key=F("lifecycle_stage")), defs
    if segmentation_type == "industry":
        return qs.annotate(seg_key=Lower("industry")), None  # keys discovered from the data
    # custom
    segments = criteria.get("segments")
    if not isinstance(segments, list) or not segments:
        raise InvalidParameter(
            "custom segmentation needs criteria.segments = [{name, filter}, …].", field="criteria.segments"
        )
    whens, defs, seen, used = [], [], set(), set()
    for i, seg in enumerate(segments):
        path = f"criteria.segments[{i}]"
        if not isinstance(seg, dict) or set(seg) - {"name", "filter"}:
            raise InvalidParameter("Each segment is {name, filter}.", field=path)
        name = seg.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidParameter("Segment name must be 1–200 characters.", field=f"{path}.name")
        key = slug_key(name)
        if key in seen:
            raise InvalidParameter(f"Duplicate segment name {name!r}.", field=f"{path}.name")
        seen.add(key)
        q = compile_filter(seg.get("filter"), path=f"{path}.filter", as_of=as_of, used=used)
        whens.append(When(q, then=Value(key)))
        defs.append({"key": key, "name": name.strip(), "rule": seg.get("filter")})
    qs = annotate_filter_fields(qs, used, as_of)
    return qs.annotate(seg_key=Case(*whens, default=Value(None), output_field=CharField())), defs


# ------------------------------------------------------------------------------------------------------------
# The service
# ------------------------------------------------------------------------------------------------------------


def _strategy_for(tier: dict | None) -> dict[str, Any] | None:
    if tier is None:
        return None
    return {"touch_cadence": tier["touch_cadence"], "ebr_cadence": tier["ebr_cadence"]}


def _share(n: float, total: float) -> float | None:
    return r(n / total, 4) if total else None


def _mix(values: list[str]) -> dict[str, float]:
    counts = Counter(values)
    total = sum(counts.values())
    return {k: r(v / total, 4) for k, v in sorted(counts.items())} if total else {}


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

    gaps: list[dict] = []
    tiers = value_tier_bands()  # highest first
    tier_by_name = {t["name"]: t for t in tiers}
    qs = population_queryset(
        criteria.get("population_filter"), path="criteria.population_filter", as_of=as_of
    )
    qs, defs = _segment_expression(segmentation_type, criteria, tiers, as_of, qs)
    segmentation_id = stable_id(
        "segset", "segment_customers", {"type": segmentation_type, "criteria": criteria}
    )

    # value tier per member (for strategies and SEG-02), computed in SQL like the value-based segments
    vt_whens = []
    for t in tiers:
        cond = Q(contract_value__gte=t["min"])
        if t["max"] is not None:
            cond &= Q(contract_value__lt=t["max"])
        vt_whens.append(When(cond, then=Value(t["name"])))
    qs = qs.annotate(
        seg_vt=Case(
            *vt_whens, default=Value(tiers[-1]["name"] if tiers else "starter"), output_field=CharField()
        )
    )
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
    total = len(rows)
    total_arr = sum(Decimal(x["contract_value"]) for x in rows)
    by_key: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["seg_key"] is not None:
            by_key[row["seg_key"]].append(row)
    if defs is None:  # industry: one segment per distinct industry (case-insensitive)
        defs = [
            {"key": k, "name": k.title(), "rule": {"field": "industry", "op": "=", "value": k}}
            for k in sorted(by_key)
        ]
    def_by_key = {d["key"]: d for d in defs}

    # ---- per-segment performance (one GROUP BY per source, members of the whole population)
    pks = [x["pk"] for x in rows]
    perf_nps: dict[int, dict] = {}
    arr_rows: dict[int, dict] = {}
    alerts: dict[int, int] = {}
    if pks:
        alerts = dict(
            Alert.objects.filter(client__in=qs.values("pk"), status=AlertStatus.OPEN)
            .values("client_id")
            .annotate(n=Count("id"))
            .values_list("client_id", "n")
        )
        if benchmark_analysis:
            survey = apps.get_model("feedback", "SurveyResponse")
            since = timezone.now() - dt.timedelta(days=180)
            perf_nps = {
                x["client_id"]: x
                for x in survey.objects.filter(
                    client__in=qs.values("pk"), survey_type="nps", responded_at__gte=since
                )
                .values("client_id")
                .annotate(
                    n=Count("id"),
                    promoters=Count("id", filter=Q(score__gte=9)),
                    detractors=Count("id", filter=Q(score__lte=6)),
                )
            }
            start = as_of - dt.timedelta(days=365)
            arr_rows = {
                x["client_id"]: x
                for x in ArrMovement.objects.filter(client__in=qs.values("pk"), movement_date__lte=as_of)
                .values("client_id")
                .annotate(
                    start_arr=Sum("amount", filter=Q(movement_date__lt=start)),
                    churned=Sum("amount", filter=Q(movement_date__gte=start, kind="churn")),
                    contraction=Sum("amount", filter=Q(movement_date__gte=start, kind="contraction")),
                )
            }

    segments_out, below_min, distribution, characteristics = [], [], {}, {}
    performance: dict[str, Any] = {}
    strategies: dict[str, Any] = {}
    allocation: dict[str, Any] = {}
    findings: list[dict] = []
    persisted_keys: list[str] = []
    seg_means: dict[str, float] = {}
    for d in defs:
        key = d["key"]
        members = by_key.get(key, [])
        n = len(members)
        distribution[key] = _share(n, total) if total else None
        if n < min_segment_size:
            below_min.append({"key": key, "customer_count": n})
            continue
        persisted_keys.append(key)
        seg_arr = sum(Decimal(x["contract_value"]) for x in members)
        healths = [x["health_score"] for x in members if x["health_score"] is not None]
        mean_health = sum(healths) / len(healths) if healths else None
        if mean_health is not None:
            seg_means[key] = mean_health
        if segmentation_type == "value_based":
            vt = tier_by_name.get(key)
            source = f"value_tier:{key}"
        else:
            common = Counter(x["seg_vt"] for x in members).most_common()
            top = sorted(common, key=lambda kv: (-kv[1], tier_by_name.get(kv[0], {}).get("priority", 99)))
            vt = tier_by_name.get(top[0][0]) if top else None
            source = f"most_common_value_tier:{vt['name']}" if vt else None
        strategy = {**(_strategy_for(vt) or {"touch_cadence": None, "ebr_cadence": None}), "source": source}
        strategies[key] = strategy
        targets = vt["targets"] if vt else {"health": None, "nps": None, "grr": None}
        segments_out.append(
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
                "targets": targets,
            }
        )
        if mean_health is None:
            gaps.append(gap(f"segments.{key}.avg_health_score", "no_score", "No member has a health score."))
        tenures = [(as_of - x["contract_start_date"]).days for x in members if x["contract_start_date"]]
        characteristics[key] = {
            "median_arr": money(statistics.median([Decimal(x["contract_value"]) for x in members])),
            "tier_mix": _mix([x["tier"] for x in members]),
            "lifecycle_mix": _mix([x["lifecycle_stage"] for x in members]),
            "median_tenure_days": statistics.median(tenures) if tenures else None,
        }
        csms = {x["csm_assigned_id"] for x in members if x["csm_assigned_id"]}
        without_csm = sum(1 for x in members if not x["csm_assigned_id"])
        allocation[key] = {
            "clients": n,
            "arr_share": _share(float(seg_arr), float(total_arr)),
            "csms": len(csms),
            "accounts_per_csm": r((n - without_csm) / len(csms), 1) if csms else None,
            "clients_without_csm": without_csm,
        }
        if benchmark_analysis:
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
            performance[key] = {
                "avg_health_score": r(mean_health, 1),
                "nps": r((prom - det) / nps_n * 100, 1) if nps_n else None,
                "logo_retention_12m": r(1 - churned_logos / len(cohort), 4) if cohort else None,
                "grr_12m": r(min(1, (start_arr - lost) / start_arr), 4) if start_arr else None,
                "open_alerts": sum(alerts.get(x["pk"], 0) for x in members),
            }
            if not nps_n:
                gaps.append(
                    gap(
                        f"segment_performance.{key}.nps",
                        "no_survey_responses",
                        "No NPS response in 180 days.",
                    )
                )
            if not cohort:
                gaps.append(
                    gap(
                        f"segment_performance.{key}.grr_12m",
                        "insufficient_history",
                        "No member had ARR 12 months ago.",
                    )
                )
        if include_recommendations:
            if mean_health is not None and mean_health < 65:
                findings.append(
                    finding(
                        "SEG-01",
                        f"Low health in segment {d['name']}",
                        f"Run a targeted programme for segment {d['name']} (mean health {r(mean_health, 1)}).",
                        Priority.MEDIUM,
                        {"segment": key, "avg_health_score": r(mean_health, 1), "threshold": 65},
                    )
                )
            share_without = without_csm / n
            if strategy.get("touch_cadence") in ("weekly", "every_2_weeks") and share_without > 0.20:
                findings.append(
                    finding(
                        "SEG-02",
                        f"Segment {d['name']} lacks CSM coverage",
                        f"Assign CSMs: {without_csm} of {n} members have none.",
                        Priority.MEDIUM,
                        {
                            "segment": key,
                            "clients_without_csm": without_csm,
                            "share_without_csm": r(share_without, 4),
                            "threshold": 0.20,
                            "touch_cadence": strategy["touch_cadence"],
                        },
                    )
                )

    # cross-segment analysis
    arrs = sorted((Decimal(x["contract_value"]) for x in rows), reverse=True)
    top_n = math.ceil(total * 0.2) if total else 0
    cross = {
        "top_20pct_arr_share": _share(float(sum(arrs[:top_n])), float(total_arr)) if total_arr else None,
        "health_gap": r(max(seg_means.values()) - min(seg_means.values()), 1)
        if len(seg_means) >= 2
        else None,
        "best_segment": max(seg_means, key=seg_means.get) if len(seg_means) >= 2 else None,
        "worst_segment": min(seg_means, key=seg_means.get) if len(seg_means) >= 2 else None,
    }
    if not total_arr:
        gaps.append(
            gap("cross_segment_analysis.top_20pct_arr_share", "not_enough_data", "No ARR in population.")
        )
    if len(seg_means) < 2:
        gaps.append(
            gap("cross_segment_analysis.health_gap", "not_enough_data", "Fewer than 2 segments with a score.")
        )

    migration, audit_event = _persist(
        actor=actor,
        segmentation_type=segmentation_type,
        segmentation_id=segmentation_id,
        defs=[def_by_key[k] for k in persisted_keys],
        members={k: [x["pk"] for x in by_key.get(k, [])] for k in persisted_keys},
        client_ids={x["pk"]: x["client_id"] for x in rows},
        all_keys=[d["key"] for d in defs],
    )
    for seg in segments_out:
        seg["segment_id"] = migration["segment_ids"].get(seg["key"])
    return {
        "segmentation_id": segmentation_id,
        "segmentation_type": segmentation_type,
        "execution_timestamp": timezone.now().isoformat(),
        "total_customers_analyzed": total,
        "segments_created": len(segments_out),
        "segments": segments_out,
        "segments_below_min_size": below_min,
        "segment_distribution": distribution,
        "segment_characteristics": characteristics,
        "segment_performance": performance if benchmark_analysis else None,
        "cross_segment_analysis": cross,
        "engagement_strategies": strategies,
        "resource_allocation": allocation,
        "segment_migration": {
            "entered": migration["entered"],
            "exited": migration["exited"],
            "by_segment": migration["by_segment"],
        },
        "recommendations": sort_findings(findings) if include_recommendations else None,
        "audit_event_id": str(audit_event.event_id) if audit_event else None,
        "data_gaps": gaps,
    }


@transaction.atomic
def _persist(
    *,
    actor: Actor,
    segmentation_type: str,
    segmentation_id: str,
    defs: list[dict],
    members: dict[str, list[int]],
    client_ids: dict[int, str],
    all_keys: list[str],
) -> tuple[dict[str, Any], Any]:
    """Upsert segments and record membership changes only; constant number of queries."""
    now = timezone.now()
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
    seg_pk_key = {v["pk"]: k for k, v in seg_rows.items()}
    open_rows = list(
        SegmentMembership.objects.filter(segment_id__in=list(seg_pk_key), exited_at__isnull=True).values_list(
            "id", "segment_id", "client_id"
        )
    )
    current: dict[str, dict[int, int]] = defaultdict(dict)
    for mid, seg_pk, client_pk in open_rows:
        current[seg_pk_key[seg_pk]][client_pk] = mid
    entered_rows, close_ids = [], []
    by_segment: dict[str, dict[str, int]] = {}
    entered_clients: dict[int, list[str]] = defaultdict(list)
    exited_clients: dict[int, list[str]] = defaultdict(list)
    for key in set(seg_rows):
        want = set(members.get(key, [])) if key in wanted else set()
        have = current.get(key, {})
        ins = want - set(have)
        outs = set(have) - want
        for pk in sorted(ins):
            entered_rows.append(
                SegmentMembership(segment_id=seg_rows[key]["pk"], client_id=pk, entered_at=now)
            )
            entered_clients[pk].append(key)
        for pk in sorted(outs):
            close_ids.append(have[pk])
            exited_clients[pk].append(key)
        if ins or outs:
            by_segment[key] = {"entered": len(ins), "exited": len(outs)}
    if close_ids:
        SegmentMembership.objects.filter(id__in=close_ids).update(exited_at=now)
    if entered_rows:
        SegmentMembership.objects.bulk_create(entered_rows)
    n_entered = sum(len(v) for v in entered_clients.values())
    n_exited = sum(len(v) for v in exited_clients.values())
    audit_event = None
    if to_upsert or retire or n_entered or n_exited:
        audit_event = audit_record(
            actor=actor,
            action="health.segmentation.run",
            object_type="segmentation",
            object_id=segmentation_id,
            data={
                "segmentation_type": segmentation_type,
                "segments": sorted(wanted),
                "entered": n_entered,
                "exited": n_exited,
                "by_segment": by_segment,
            },
        )
        timeline = []
        for pk in sorted(set(entered_clients) | set(exited_clients)):
            parts = []
            if entered_clients.get(pk):
                parts.append("entered " + ", ".join(sorted(entered_clients[pk])))
            if exited_clients.get(pk):
                parts.append("left " + ", ".join(sorted(exited_clients[pk])))
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
    return (
        {
            "entered": n_entered,
            "exited": n_exited,
            "by_segment": by_segment,
            "segment_ids": {k: v["segment_id"] for k, v in seg_rows.items() if k in wanted},
        },
        audit_event,
    )
