"""Adoption milestones (RULES §8): live evaluation of milestone criteria, set-based over a set of clients, and the
read side of ``track_adoption_milestones``.

The criterion catalogue is implemented here once: ``criterion_dates(criterion, client_ids, as_of)`` returns, per
client, the first day the criterion held (a fixed number of queries per criterion, independent of the number of
clients). Stored ``ClientMilestone`` rows take precedence: once achieved, a milestone stays achieved.
``milestones_record_chunk`` is the write side used by the nightly job (:mod:`health.lifecycle_automation`):
it stores the newly achieved milestones of a chunk of clients in one bulk insert.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict, deque
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from cs_project.core.errors import InvalidParameter
from cs_project.core.stats import r
from customers.choices import AccountStatus, Priority, Tier
from customers.models import Client, Contract
from customers.rules import finding, sort_findings

from .choices import MilestoneCategory, MilestoneImportance
from .common import gap, stable_id, today
from .models import AdoptionFramework, ClientMilestone, Feature, FeatureUsageDaily, UserActivityDaily
from .rollups import ANON_PREFIX, day_bounds, local_date, rollup_pending
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


def criterion_dates(
    criterion: dict, ids: list[int], as_of: dt.date, tiers: dict[int, str]
) -> dict[int, dt.date]:
    """First day (≤ as_of) each client met the criterion."""
    if not ids:
        return {}
    if "any" in criterion:
        out: dict[int, dt.date] = {}
        for sub in criterion["any"]:
            for cid, day in criterion_dates(sub, ids, as_of, tiers).items():
                if cid not in out or day < out[cid]:
                    out[cid] = day
        return out
    if "all" in criterion:
        remaining = list(ids)
        parts = []
        for sub in sorted(criterion["all"], key=_criterion_cost):
            part = criterion_dates(sub, remaining, as_of, tiers)
            remaining = [cid for cid in remaining if cid in part]
            parts.append(part)
            if not remaining:
                return {}
        return {cid: max(p[cid] for p in parts) for cid in remaining}
    t = criterion["type"]
    end = day_bounds(as_of)[1]
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
    if t in ("value_event_used", "feature_category_used", "feature_used"):
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
    if t == "active_users_at_least":
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
    if t == "core_breadth_at_least":
        core = list(Feature.objects.filter(is_core=True, active=True).values_list("feature_key", "min_tier"))
        rank = {tier: Tier.rank(tier) for tier in Tier.values}
        available = {
            cid: {k for k, mt in core if rank.get(mt, 0) <= rank.get(tier, 0)} for cid, tier in tiers.items()
        }
        ratio = criterion["ratio"]

        def reached(cid: int, k: int) -> bool:
            return bool(available.get(cid)) and k / len(available[cid]) >= ratio - 1e-12

        core_keys = [k for k, _ in core]
        # necessary condition first: enough distinct available core features over the whole history
        ever: dict[int, set[str]] = defaultdict(set)
        for cid, key in (
            fud.filter(feature_key__in=core_keys).values_list("client_id", "feature_key").distinct()
        ):
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
    if t == "training_passed_at_least":
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
    if t == "onboarding_success_criteria_met":
        model = optional_model(
            "onboarding.PlanSuccessCriterion", "plan", "measured", "status", "evaluated_at"
        )
        if model is None:
            return {}
        out = {}
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
    if t == "advocate_enrolled":
        model = optional_model("communication.Advocate", "client", "enrolled_at")
        if model is None:
            return {}
        return _min_dates(
            model.objects.filter(client_id__any=ids, enrolled_at__lt=end).values_list(
                "client_id", "enrolled_at"
            )
        )
    if t == "nps_promoter":
        model = optional_model("feedback.SurveyResponse", "client", "survey_type", "score", "responded_at")
        if model is None:
            return {}
        qs = model.objects.filter(client_id__any=ids, survey_type="nps", score__gte=9, responded_at__lt=end)
        if criterion.get("roles"):
            qs = qs.filter(contact__role__in=criterion["roles"])
        return _min_dates(qs.values_list("client_id", "responded_at"))
    raise InvalidParameter(f"Unknown criterion type {t!r}.", field="criterion")


def milestone_status(elapsed_days: int | None, typical_days: int) -> str | None:
    """RULES §8 status of a milestone not (yet) achieved: on_track / overdue (> typical) / stuck (> 1.5 ×);
    None without a contract start."""
    if elapsed_days is None:
        return None
    if elapsed_days > 1.5 * typical_days:
        return "stuck"
    if elapsed_days > typical_days:
        return "overdue"
    return "on_track"


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


def _validate_custom(custom: Any) -> list[dict]:
    if not isinstance(custom, list) or not custom:
        raise InvalidParameter(
            "custom framework needs a non-empty custom_milestones list.", field="custom_milestones"
        )
    out, ids = [], set()
    for i, m in enumerate(custom):
        path = f"custom_milestones[{i}]"
        if not isinstance(m, dict):
            raise InvalidParameter("Each milestone is an object.", field=path)
        extra = set(m) - {"id", "name", "typical_days", "importance", "category", "criterion"}
        if extra:
            raise InvalidParameter(f"Unknown key(s) {sorted(extra)}.", field=f"{path}.{sorted(extra)[0]}")
        if not isinstance(m.get("id"), str) or not m["id"] or m["id"] in ids:
            raise InvalidParameter("id must be a unique non-empty string.", field=f"{path}.id")
        ids.add(m["id"])
        if not isinstance(m.get("name"), str) or not m["name"]:
            raise InvalidParameter("name is required.", field=f"{path}.name")
        td = m.get("typical_days")
        if not isinstance(td, int) or isinstance(td, bool) or td < 1:
            raise InvalidParameter("typical_days must be a positive integer.", field=f"{path}.typical_days")
        if m.get("importance") not in MilestoneImportance.values:
            raise InvalidParameter(f"importance ∈ {MilestoneImportance.values}.", field=f"{path}.importance")
        if m.get("category") not in MilestoneCategory.values:
            raise InvalidParameter(f"category ∈ {MilestoneCategory.values}.", field=f"{path}.category")
        validate_criterion(m.get("criterion"), f"{path}.criterion")
        out.append(dict(m))
    return out


def adoption_milestones(
    *,
    client_id: str | None = None,
    milestone_framework: str = "standard",
    custom_milestones: list[dict] | None = None,
    include_benchmarks: bool = True,
    celebration_recommendations: bool = True,
) -> dict[str, Any]:
    from .common import benchmark, resolve_client

    custom = None
    if milestone_framework == "custom":
        custom = _validate_custom(custom_milestones)
    elif custom_milestones is not None:
        raise InvalidParameter(
            "custom_milestones applies to the custom framework only.", field="custom_milestones"
        )
    client = resolve_client(client_id) if client_id else None
    as_of = today()
    gaps: list[dict] = []
    rollup_pending()
    population = list(
        Client.objects.filter(Q(status=AccountStatus.ACTIVE) | Q(pk=client.pk if client else None)).values(
            "pk", "client_id", "client_name", "tier", "industry", "health_score", "contract_start_date"
        )
    )
    info = {x["pk"]: x for x in population}
    scope = [client.pk] if client else sorted(info, key=lambda p: info[p]["client_id"])
    starts = {
        x["client_id"]: x["d"]
        for x in Contract.objects.filter(client_id__in=list(info))
        .values("client_id")
        .annotate(d=Min("start_date"))
    }
    for pk, x in info.items():
        s = starts.get(pk)
        x["start"] = (
            min(d for d in (s, x["contract_start_date"]) if d) if (s or x["contract_start_date"]) else None
        )

    standard = AdoptionFramework.objects.filter(key="standard").first()
    frameworks: dict[int, AdoptionFramework | None] = {}
    if milestone_framework == "custom":
        groups = {"custom": (None, custom, list(info))}
    else:
        by_industry = {}
        if milestone_framework == "industry_specific":
            by_industry = {
                (f.industry or "").lower(): f
                for f in AdoptionFramework.objects.filter(industry__isnull=False, is_active=True)
            }
        groups = {}
        missing_industry = 0
        for pk, x in info.items():
            fw = (
                by_industry.get((x["industry"] or "").lower())
                if milestone_framework == "industry_specific"
                else None
            )
            if milestone_framework == "industry_specific" and fw is None:
                missing_industry += pk in scope
            fw = fw or standard
            frameworks[pk] = fw
            key = fw.key if fw else "none"
            groups.setdefault(key, (fw, fw.milestones if fw else [], []))[2].append(pk)
        if missing_industry:
            gaps.append(
                gap(
                    "milestone_framework",
                    "no_industry_framework",
                    f"{missing_industry} client(s) without an industry framework use the standard one.",
                )
            )
    tiers = {pk: x["tier"] for pk, x in info.items()}
    achieved: dict[int, dict[str, dt.date]] = defaultdict(dict)
    definitions: dict[str, dict] = {}
    for _key, (fw, milestones, pks) in groups.items():
        stored = defaultdict(dict)
        if fw is not None:
            for cid, mid, day in ClientMilestone.objects.filter(framework=fw, client_id__in=pks).values_list(
                "client_id", "milestone_id", "achieved_on"
            ):
                stored[cid][mid] = day
        for m in milestones:
            definitions.setdefault(m["id"], m)
            todo = [pk for pk in pks if m["id"] not in stored[pk]]
            live = criterion_dates(m["criterion"], todo, as_of, tiers) if todo else {}
            for pk in pks:
                day = stored[pk].get(m["id"]) or live.get(pk)
                if day is not None and day <= as_of:
                    achieved[pk][m["id"]] = day
    defs = sorted(definitions.values(), key=lambda m: (m["typical_days"], m["id"]))
    progress_all: dict[int, dict] = {}
    for pk, x in info.items():
        start = x["start"]
        elapsed = (as_of - start).days if start else None
        fw_ids = (
            {m["id"] for m in (frameworks[pk].milestones if frameworks.get(pk) else [])}
            if milestone_framework != "custom"
            else set(definitions)
        )
        ms = {}
        for m in defs:
            if m["id"] not in fw_ids:
                continue
            day = achieved[pk].get(m["id"])
            if day is not None:
                status = "achieved"
                days_to = (day - start).days if start else None
            else:
                status, days_to = milestone_status(elapsed, m["typical_days"]), None
            ms[m["id"]] = {
                "status": status,
                "achieved_at": day.isoformat() if day else None,
                "days_to_achieve": days_to,
            }
        done = sum(1 for v in ms.values() if v["status"] == "achieved")
        nxt = next((mid for mid, v in ms.items() if v["status"] != "achieved"), None)
        progress_all[pk] = {
            "client_id": x["client_id"],
            "client_name": x["client_name"],
            "days_since_start": elapsed,
            "completion_pct": r(100 * done / len(ms), 1) if ms else None,
            "next_milestone": nxt,
            "milestones": ms,
        }
    if any(info[pk]["start"] is None for pk in scope):
        gaps.append(gap("customer_progress[].days_since_start", "no_contract", "No contract start date."))

    completion, ttm, corr, blockers, factors = {}, {}, {}, {}, []
    for m in defs:
        mid, typical = m["id"], m["typical_days"]
        rows = [(pk, p["milestones"][mid]) for pk, p in progress_all.items() if mid in p["milestones"]]
        older = [
            (pk, v)
            for pk, v in rows
            if progress_all[pk]["days_since_start"] is not None
            and progress_all[pk]["days_since_start"] > typical
        ]
        completion[mid] = (
            r(sum(1 for _, v in older if v["status"] == "achieved") / len(older), 4) if older else None
        )
        if not older:
            gaps.append(
                gap(f"completion_rates.{mid}", "not_enough_data", "No client older than the typical days.")
            )
        days = sorted(v["days_to_achieve"] for _, v in rows if v["days_to_achieve"] is not None)
        if days:
            q1, q2, q3 = (
                (days[0], days[0], days[0])
                if len(days) == 1
                else statistics.quantiles(days, n=4, method="inclusive")
            )
            ttm[mid] = {
                "median": r(statistics.median(days), 1),
                "p25": r(q1, 1),
                "p75": r(q3, 1),
                "n": len(days),
            }
            _ = q2
        else:
            ttm[mid] = {"median": None, "p25": None, "p75": None, "n": 0}
            gaps.append(gap(f"time_to_milestone.{mid}", "not_enough_data", "No achiever."))
        ach = [
            info[pk]["health_score"]
            for pk, v in rows
            if v["status"] == "achieved" and info[pk]["health_score"] is not None
        ]
        non = [
            info[pk]["health_score"]
            for pk, v in rows
            if v["status"] != "achieved" and info[pk]["health_score"] is not None
        ]
        if len(ach) >= 5 and len(non) >= 5:
            a, n = sum(ach) / len(ach), sum(non) / len(non)
            corr[mid] = {
                "achievers_avg_health": r(a, 1),
                "non_achievers_avg_health": r(n, 1),
                "difference": r(a - n, 1),
                "n_achievers": len(ach),
                "n_non_achievers": len(non),
            }
            if a - n >= 10:
                factors.append({"milestone_id": mid, "health_difference": r(a - n, 1)})
        else:
            corr[mid] = {
                "achievers_avg_health": None,
                "non_achievers_avg_health": None,
                "difference": None,
                "n_achievers": len(ach),
                "n_non_achievers": len(non),
            }
            gaps.append(
                gap(f"milestone_correlation.{mid}", "not_enough_data", "Needs ≥ 5 scored clients per group.")
            )
        scoped = [progress_all[pk]["milestones"].get(mid, {}).get("status") for pk in scope]
        blockers[mid] = {"overdue": scoped.count("overdue"), "stuck": scoped.count("stuck")}

    stuck, fast, interventions, celebrations, actions = [], [], [], [], []
    by_id = {m["id"]: m for m in defs}
    for pk in scope:
        p = progress_all[pk]
        for mid, v in p["milestones"].items():
            m = by_id[mid]
            ev = {"client_id": p["client_id"], "milestone_id": mid, "typical_days": m["typical_days"]}
            if v["status"] in ("overdue", "stuck"):
                if v["status"] == "stuck":
                    stuck.append({**ev, "days_elapsed": p["days_since_start"]})
                interventions.append(
                    finding(
                        "ADP-01",
                        f"{m['name']} {v['status']} for {p['client_name']}",
                        f"Run milestone-specific enablement for {m['name']}.",
                        Priority.HIGH if v["status"] == "stuck" else Priority.MEDIUM,
                        {**ev, "status": v["status"], "days_elapsed": p["days_since_start"]},
                    )
                )
            if (
                v["status"] == "achieved"
                and v["days_to_achieve"] is not None
                and v["days_to_achieve"] < 0.5 * m["typical_days"]
            ):
                fast.append({**ev, "days_to_achieve": v["days_to_achieve"]})
                if p["next_milestone"]:
                    actions.append(
                        finding(
                            "ADP-05",
                            f"Fast track: {m['name']} for {p['client_name']}",
                            f"Offer the next milestone ({p['next_milestone']}).",
                            Priority.LOW,
                            {
                                **ev,
                                "days_to_achieve": v["days_to_achieve"],
                                "next_milestone": p["next_milestone"],
                            },
                        )
                    )
            if v["status"] == "achieved" and (as_of - dt.date.fromisoformat(v["achieved_at"])).days <= 14:
                celebrations.append(
                    finding(
                        "ADP-04",
                        f"{p['client_name']} achieved {m['name']}",
                        "Celebrate and share the success.",
                        Priority.LOW,
                        {**ev, "achieved_at": v["achieved_at"]},
                    )
                )
    bench = None
    if client and include_benchmarks:
        bench = {}
        for mid, v in progress_all[client.pk]["milestones"].items():
            if v["days_to_achieve"] is None:
                continue
            peers = [
                progress_all[pk]["milestones"][mid]["days_to_achieve"]
                for pk in progress_all
                if pk != client.pk
                and mid in progress_all[pk]["milestones"]
                and progress_all[pk]["milestones"][mid]["days_to_achieve"] is not None
            ]
            bench[mid] = benchmark(
                "days_to_achieve",
                v["days_to_achieve"],
                peers,
                "portfolio",
                "active_clients",
                gaps,
                f"benchmark_comparison.{mid}",
            )
    recommended = sort_findings(
        interventions + actions + (celebrations if celebration_recommendations else [])
    )
    return {
        "tracking_id": stable_id(
            "trk",
            "track_adoption_milestones",
            {
                "client_id": client_id,
                "framework": milestone_framework,
                "custom": custom,
                "as_of": as_of.isoformat(),
            },
        ),
        "analysis_timestamp": timezone.now().isoformat(),
        "milestone_framework": milestone_framework,
        "total_milestones": len(defs),
        "milestone_definitions": defs,
        "customer_progress": [progress_all[pk] for pk in scope][:1000],
        "completion_rates": completion,
        "time_to_milestone": ttm,
        "milestone_correlation": corr,
        "stuck_customers": stuck,
        "fast_track_customers": fast,
        "milestone_blockers": blockers,
        "success_factors": factors,
        "benchmark_comparison": bench,
        "celebration_opportunities": sort_findings(celebrations) if celebration_recommendations else None,
        "intervention_recommendations": sort_findings(interventions),
        "recommended_actions": recommended,
        "data_gaps": gaps,
    }
