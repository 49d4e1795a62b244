"""Adoption milestones (RULES §8): live evaluation of milestone criteria, set-based over a set of clients, and the
nightly write of newly achieved milestones. The read side of ``track_adoption_milestones`` is
:mod:`health.reads.milestones`; the status of a milestone not yet achieved is :func:`health.rules.milestone_status`.

The criterion catalogue is implemented here once: ``criterion_dates(criterion, client_ids, as_of)`` returns, per
client, the first day the criterion held (a fixed number of queries per criterion, independent of the number of
clients). Stored ``ClientMilestone`` rows take precedence: once achieved, a milestone stays achieved.
``milestones_record_chunk`` is the write side used by the nightly job (:mod:`health.lifecycle_automation`):
it stores the newly achieved milestones of a chunk of clients in one bulk insert.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict, deque
from typing import Any

from django.db.models import Count, Max, Min, Q

from cs_project.core.errors import InvalidParameter
from customers.choices import Tier

from .models import AdoptionFramework, ClientMilestone, Feature, FeatureUsageDaily, UserActivityDaily
from .rollups import ANON_PREFIX, day_bounds, local_date
from .selectors import optional_model

D = dt.timedelta

# criterion type → required parameters (name → type); the catalogue of RULES §8 plus the standard-only ones
CUSTOM_CRITERIA: dict[str, dict[str, type | tuple]] = {
    "feature_used": {"feature_key": str},
    "active_users_at_least": {"n": int, "window_days": int},
    "core_breadth_at_least": {"ratio": (int, float)},
    "training_passed_at_least": {"n": int},
    "onboarding_milestone_completed": {"key": str},
    "nps_promoter": {},
    "ebr_completed": {},
    "event_count_at_least": {"feature_key": str, "n": int},
}
STANDARD_ONLY = {
    "first_counting_event": {},
    "value_event_used": {},
    "feature_category_used": {"category": str},
    "onboarding_success_criteria_met": {},
    "advocate_enrolled": {},
}
OPTIONAL = {
    "nps_promoter": {"roles"},
    "ebr_completed": {"min_rating"},
    "core_breadth_at_least": {"window_days"},
}


def validate_criterion(criterion: Any, path: str, *, allow_standard: bool = False) -> None:
    if not isinstance(criterion, dict):
        raise InvalidParameter("criterion must be an object.", field=path)
    if "any" in criterion or "all" in criterion:
        kind = "any" if "any" in criterion else "all"
        items = criterion[kind]
        if len(criterion) != 1 or not isinstance(items, list) or not items:
            raise InvalidParameter(f"'{kind}' must be the only key and a non-empty list.", field=path)
        for item in items:
            validate_criterion(item, path, allow_standard=allow_standard)
        return
    catalogue = {**CUSTOM_CRITERIA, **(STANDARD_ONLY if allow_standard else {})}
    ctype = criterion.get("type")
    if ctype not in catalogue:
        raise InvalidParameter(f"Unknown criterion type {ctype!r}; allowed: {sorted(catalogue)}.", field=path)
    params = catalogue[ctype]
    extra = set(criterion) - {"type"} - set(params) - OPTIONAL.get(ctype, set())
    if extra:
        raise InvalidParameter(f"Unknown criterion parameter(s) {sorted(extra)}.", field=path)
    for name, typ in params.items():
        v = criterion.get(name)
        if v is None or isinstance(v, bool) or not isinstance(v, typ):
            raise InvalidParameter(f"Criterion {ctype} needs '{name}'.", field=path)
        if isinstance(v, (int, float)) and v <= 0:
            raise InvalidParameter(f"'{name}' must be positive.", field=path)
    if ctype == "core_breadth_at_least" and not (0 < criterion["ratio"] <= 1):
        raise InvalidParameter("ratio must be in (0, 1].", field=path)
    roles = criterion.get("roles")
    if roles is not None and (not isinstance(roles, list) or not all(isinstance(x, str) for x in roles)):
        raise InvalidParameter("roles must be a list of contact roles.", field=path)


def _min_dates(pairs) -> dict[int, dt.date]:
    out: dict[int, dt.date] = {}
    for cid, moment in pairs:
        if moment is None:
            continue
        day = local_date(moment) if isinstance(moment, dt.datetime) else moment
        if cid not in out or day < out[cid]:
            out[cid] = day
    return out


def _sliding_first(rows, window: int, reached) -> dict[int, dt.date]:
    """First date per client where the set of items seen over the last ``window`` days satisfies ``reached``."""
    per: dict[int, list[tuple[dt.date, str]]] = defaultdict(list)
    for cid, day, item in rows:
        per[cid].append((day, item))
    out = {}
    for cid, items in per.items():
        items.sort()
        counts: Counter = Counter()
        q: deque = deque()
        for day, item in items:
            q.append((day, item))
            counts[item] += 1
            while q and q[0][0] <= day - D(days=window):
                old = q.popleft()[1]
                counts[old] -= 1
                if not counts[old]:
                    del counts[old]
            if reached(cid, len(counts)):
                out[cid] = day
                break
    return out


# Relative cost of evaluating a criterion type: the sliding-window ones read every (client, day, item) row of the
# clients' history; the others are one grouped query. ``all`` evaluates its parts cheapest first and only for the
# clients that met the previous parts (same result: the intersection does not depend on the order).
_CRITERION_COST = {"active_users_at_least": 3, "core_breadth_at_least": 3, "event_count_at_least": 2}


def _criterion_cost(criterion: dict) -> int:
    for kind in ("any", "all"):
        if kind in criterion:
            return max(_criterion_cost(sub) for sub in criterion[kind])
    return _CRITERION_COST.get(criterion.get("type"), 1)


def _combined_dates(
    criterion: dict, ids: list[int], as_of: dt.date, tiers: dict[int, str]
) -> dict[int, dt.date]:
    """``any``: the earliest day any part held; ``all``: the day the last part held (parts cheapest first, each
    evaluated only for the clients that met the previous ones)."""
    if "any" in criterion:
        out: dict[int, dt.date] = {}
        for sub in criterion["any"]:
            for cid, day in criterion_dates(sub, ids, as_of, tiers).items():
                if cid not in out or day < out[cid]:
                    out[cid] = day
        return out
    remaining = list(ids)
    parts = []
    for sub in sorted(criterion["all"], key=_criterion_cost):
        part = criterion_dates(sub, remaining, as_of, tiers)
        remaining = [cid for cid in remaining if cid in part]
        parts.append(part)
        if not remaining:
            return {}
    return {cid: max(p[cid] for p in parts) for cid in remaining}


def _usage_dates(criterion: dict, ids: list[int], as_of: dt.date) -> dict[int, dt.date]:
    """Criteria on the usage roll-ups: first counting event, feature / value event / category used, event count."""
    t = criterion["type"]
    # ``order_by()``: the roll-ups' Meta.ordering (client name first) would join the client table for nothing
    fud = FeatureUsageDaily.objects.filter(client_id__any=ids, events__gt=0, date__lte=as_of).order_by()
    if t == "first_counting_event":
        return dict(
            UserActivityDaily.objects.filter(client_id__any=ids, counting_events__gt=0, date__lte=as_of)
            .order_by()
            .values("client_id")
            .annotate(d=Min("date"))
            .values_list("client_id", "d")
        )
    if t == "event_count_at_least":
        out, totals = {}, Counter()
        for cid, day, ev in (
            fud.filter(feature_key=criterion["feature_key"])
            .order_by("client_id", "date")
            .values_list("client_id", "date", "events")
        ):
            totals[cid] += ev
            if cid not in out and totals[cid] >= criterion["n"]:
                out[cid] = day
        return out
    if t == "value_event_used":
        keys = Feature.objects.filter(is_value_event=True).values("feature_key")
    elif t == "feature_category_used":
        keys = Feature.objects.filter(category=criterion["category"]).values("feature_key")
    else:
        keys = [criterion["feature_key"]]
    return dict(
        fud.filter(feature_key__in=keys)
        .values("client_id")
        .annotate(d=Min("date"))
        .values_list("client_id", "d")
    )


def _active_users_dates(criterion: dict, ids: list[int], as_of: dt.date) -> dict[int, dt.date]:
    """First day ≥ n distinct known users were active within a sliding window."""
    n = criterion["n"]
    known = (
        UserActivityDaily.objects.filter(client_id__any=ids, counting_events__gt=0, date__lte=as_of)
        .exclude(user_id__startswith=ANON_PREFIX)
        .order_by()
    )
    # necessary condition first, in SQL: ≥ n distinct users over the whole history
    candidates = list(
        known.values("client_id")
        .annotate(users=Count("user_id", distinct=True))
        .filter(users__gte=n)
        .values_list("client_id", flat=True)
    )
    if not candidates:
        return {}
    rows = known.filter(client_id__any=candidates).values_list("client_id", "date", "user_id")
    return _sliding_first(rows, criterion["window_days"], lambda cid, k: k >= n)


def _core_breadth_dates(
    criterion: dict, ids: list[int], as_of: dt.date, tiers: dict[int, str]
) -> dict[int, dt.date]:
    """First day the share of the tier's core features used within a sliding window reached the ratio."""
    core = list(Feature.objects.filter(is_core=True, active=True).values_list("feature_key", "min_tier"))
    rank = {tier: Tier.rank(tier) for tier in Tier.values}
    available = {
        cid: {k for k, mt in core if rank.get(mt, 0) <= rank.get(tier, 0)} for cid, tier in tiers.items()
    }
    ratio = criterion["ratio"]

    def reached(cid: int, k: int) -> bool:
        return bool(available.get(cid)) and k / len(available[cid]) >= ratio - 1e-12

    core_keys = [k for k, _ in core]
    fud = FeatureUsageDaily.objects.filter(
        client_id__any=ids, events__gt=0, date__lte=as_of, feature_key__in=core_keys
    ).order_by()
    # necessary condition first: enough distinct available core features over the whole history
    ever: dict[int, set[str]] = defaultdict(set)
    for cid, key in fud.values_list("client_id", "feature_key").distinct():
        if key in available.get(cid, set()):
            ever[cid].add(key)
    candidates = [cid for cid, keys in ever.items() if reached(cid, len(keys))]
    if not candidates:
        return {}
    rows = [
        (cid, day, key)
        for cid, day, key in FeatureUsageDaily.objects.filter(
            client_id__any=candidates, events__gt=0, date__lte=as_of, feature_key__in=core_keys
        )
        .order_by()
        .values_list("client_id", "date", "feature_key")
        if key in available.get(cid, set())
    ]
    return _sliding_first(rows, criterion.get("window_days", 30), reached)


def _success_criteria_dates(ids: list[int], end: dt.datetime) -> dict[int, dt.date]:
    """The day every measured success criterion of an onboarding plan was last evaluated as met."""
    model = optional_model("onboarding.PlanSuccessCriterion", "plan", "measured", "status", "evaluated_at")
    if model is None:
        return {}
    out: dict[int, dt.date] = {}
    for row in (
        model.objects.filter(plan__client_id__any=ids, measured=True)
        .values("plan_id", "plan__client_id")
        .annotate(n=Count("id"), met=Count("id", filter=Q(status="met")), last=Max("evaluated_at"))
    ):
        if row["n"] and row["n"] == row["met"] and row["last"] and row["last"] < end:
            day = local_date(row["last"])
            cid = row["plan__client_id"]
            if cid not in out or day < out[cid]:
                out[cid] = day
    return out


def _training_dates(criterion: dict, ids: list[int], end: dt.datetime) -> dict[int, dt.date]:
    """The day the n-th passed training completion happened."""
    model = optional_model("onboarding.TrainingCompletion", "client", "passed", "completed_at")
    if model is None:
        return {}
    out, seen = {}, Counter()
    for cid, at in (
        model.objects.filter(client_id__any=ids, passed=True, completed_at__lt=end)
        .order_by("client_id", "completed_at")
        .values_list("client_id", "completed_at")
    ):
        seen[cid] += 1
        if cid not in out and seen[cid] >= criterion["n"]:
            out[cid] = local_date(at)
    return out


def _other_app_dates(criterion: dict, ids: list[int], as_of: dt.date) -> dict[int, dt.date]:
    """Criteria on other apps' rows (onboarding, communication, feedback); an app not built yet → not met."""
    t = criterion["type"]
    end = day_bounds(as_of)[1]
    if t == "training_passed_at_least":
        return _training_dates(criterion, ids, end)
    if t == "onboarding_success_criteria_met":
        return _success_criteria_dates(ids, end)
    if t == "onboarding_milestone_completed":
        model = optional_model("onboarding.OnboardingMilestone", "plan", "key", "status", "completed_at")
        if model is None:
            return {}
        return _min_dates(
            model.objects.filter(
                plan__client_id__any=ids, key=criterion["key"], status="completed", completed_at__lt=end
            ).values_list("plan__client_id", "completed_at")
        )
    if t == "ebr_completed":
        model = optional_model("communication.ExecutiveReview", "client", "status", "completed_at")
        if model is None:
            return {}
        qs = model.objects.filter(client_id__any=ids, status="completed", completed_at__lt=end)
        if criterion.get("min_rating") is not None:
            qs = qs.filter(satisfaction_rating__gte=criterion["min_rating"])
        return _min_dates(qs.values_list("client_id", "completed_at"))
    if t == "advocate_enrolled":
        model = optional_model("communication.Advocate", "client", "enrolled_at")
        if model is None:
            return {}
        return _min_dates(
            model.objects.filter(client_id__any=ids, enrolled_at__lt=end).values_list(
                "client_id", "enrolled_at"
            )
        )
    model = optional_model("feedback.SurveyResponse", "client", "survey_type", "score", "responded_at")
    if model is None:
        return {}
    qs = model.objects.filter(client_id__any=ids, survey_type="nps", score__gte=9, responded_at__lt=end)
    if criterion.get("roles"):
        qs = qs.filter(contact__role__in=criterion["roles"])
    return _min_dates(qs.values_list("client_id", "responded_at"))


_USAGE_TYPES = {
    "first_counting_event",
    "value_event_used",
    "feature_category_used",
    "feature_used",
    "event_count_at_least",
}
_OTHER_APP_TYPES = {
    "training_passed_at_least",
    "onboarding_milestone_completed",
    "ebr_completed",
    "onboarding_success_criteria_met",
    "advocate_enrolled",
    "nps_promoter",
}


def criterion_dates(
    criterion: dict, ids: list[int], as_of: dt.date, tiers: dict[int, str]
) -> dict[int, dt.date]:
    """First day (≤ as_of) each client met the criterion."""
    if not ids:
        return {}
    if "any" in criterion or "all" in criterion:
        return _combined_dates(criterion, ids, as_of, tiers)
    t = criterion["type"]
    if t in _USAGE_TYPES:
        return _usage_dates(criterion, ids, as_of)
    if t == "active_users_at_least":
        return _active_users_dates(criterion, ids, as_of)
    if t == "core_breadth_at_least":
        return _core_breadth_dates(criterion, ids, as_of, tiers)
    if t in _OTHER_APP_TYPES:
        return _other_app_dates(criterion, ids, as_of)
    raise InvalidParameter(f"Unknown criterion type {t!r}.", field="criterion")


def milestones_record_chunk(
    *,
    framework: AdoptionFramework,
    clients: dict[int, dict[str, Any]],
    as_of: dt.date,
    now: dt.datetime,
    evidence: dict[str, Any] | None = None,
) -> tuple[dict[int, dict[str, dt.date]], list[ClientMilestone]]:
    """Store the milestones of ``framework`` newly achieved (≤ as_of) by a chunk of clients (RULES §8).

    ``clients``: ``{pk: {"tier", "start"}}`` (``start`` = first contract start or None). Returns the achieved
    dates per client (stored + new) and the new rows. Idempotent per (client, framework, milestone): stored rows
    are never re-evaluated, and the insert ignores a row written meanwhile. Queries: stored rows (1), the
    criteria of the milestones some client still lacks (a fixed number each), one bulk insert."""
    ids = sorted(clients)
    achieved: dict[int, dict[str, dt.date]] = defaultdict(dict)
    if not ids:
        return achieved, []
    for cid, mid, day in ClientMilestone.objects.filter(framework=framework, client_id__any=ids).values_list(
        "client_id", "milestone_id", "achieved_on"
    ):
        achieved[cid][mid] = day
    tiers = {pk: c["tier"] for pk, c in clients.items()}
    new: list[ClientMilestone] = []
    for m in framework.milestones:
        todo = [pk for pk in ids if m["id"] not in achieved[pk]]
        if not todo:
            continue
        for pk, day in sorted(criterion_dates(m["criterion"], todo, as_of, tiers).items()):
            if day is None or day > as_of:
                continue
            achieved[pk][m["id"]] = day
            start = clients[pk].get("start")
            new.append(
                ClientMilestone(
                    client_id=pk,
                    framework=framework,
                    milestone_id=m["id"],
                    importance=m.get("importance") or "",
                    category=m.get("category") or "",
                    achieved_on=day,
                    days_to_achieve=(day - start).days if start else None,
                    evidence={
                        "criterion": m["criterion"],
                        "evaluated_as_of": as_of.isoformat(),
                        **(evidence or {}),
                    },
                    recorded_at=now,
                )
            )
    if new:
        ClientMilestone.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    return achieved, new
