"""Segmentation rules (RULES §6.2) as SQL: the FILTER grammar compiled to Django ``Q`` objects, the computed
FILTER fields, the population queryset every FILTER-taking tool starts from (``segment_customers``,
``segment_by_value_tier``, ``analyze_engagement_patterns``, ``manage_lifecycle_stages``), and the segment
definitions of each segmentation type. The ``segment_customers`` service itself is :mod:`health.segments`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.apps import apps
from django.db.models import Case, CharField, Count, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Lower

from cs_project.core.errors import InvalidParameter
from cs_project.core.types import DATE_MAX, DATE_MIN, PG_INT_MAX, PG_INT_MIN, number_problem, printable_path
from customers.choices import AccountStatus, LifecycleStage
from customers.models import Client

from .common import money, today
from .models import HealthSnapshot, UserActivityDaily
from .rollups import ANON_PREFIX, rollup_pending

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
# Segment definitions per segmentation type (RULES §6.2), as SQL expressions
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


def slug_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")[:200] or "segment"


def value_tier_case(tiers: list[dict]) -> Case:
    """The value tier of ``contract_value`` in SQL (lower bound inclusive, upper exclusive; below every band →
    the lowest tier), as :func:`health.selectors.value_tier_for_arr` in Python."""
    whens = []
    for t in tiers:
        cond = Q(contract_value__gte=t["min"])
        if t["max"] is not None:
            cond &= Q(contract_value__lt=t["max"])
        whens.append(When(cond, then=Value(t["name"])))
    lowest = tiers[-1]["name"] if tiers else "starter"
    return Case(*whens, default=Value(lowest), output_field=CharField())


def _custom_expression(criteria: dict, as_of: dt.date, qs):
    """Custom segments: the first FILTER a client matches names its segment (none: no segment)."""
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


def segment_expression(segmentation_type: str, criteria: dict, tiers: list[dict], as_of: dt.date, qs):
    """(queryset annotated with ``seg_key``, ordered definitions [{key, name, rule}])."""
    if segmentation_type == "value_based":
        defs = [
            {
                "key": t["name"],
                "name": t["name"].replace("_", " ").title(),
                "rule": {"field": "contract_value", "min": money(t["min"]), "max": money(t["max"])},
            }
            for t in tiers
        ]
        return qs.annotate(seg_key=value_tier_case(tiers)), defs
    if segmentation_type == "usage_based":
        latest_usage = HealthSnapshot.objects.filter(client=OuterRef("pk")).order_by("-as_of")
        qs = qs.annotate(seg_usage=Subquery(latest_usage.values("usage_score")[:1]))
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
    return _custom_expression(criteria, as_of, qs)
