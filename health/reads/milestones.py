"""``track_adoption_milestones`` (TOOLS §3.6): progress of accounts against an adoption milestone framework
(RULES §8) — standard, per industry, or a caller-defined custom one.

Milestones are evaluated live with :func:`health.milestones.criterion_dates` (a fixed number of queries per
milestone whatever the number of clients); stored ``ClientMilestone`` rows take precedence (once achieved, a
milestone stays achieved). The status of a milestone not yet achieved is :func:`health.rules.milestone_status`.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any

from django.db.models import Min, Q
from django.utils import timezone

from cs_project.core.errors import InvalidParameter
from cs_project.core.stats import r
from customers.choices import AccountStatus, Priority
from customers.models import Client, Contract
from customers.rules import finding, sort_findings

from ..choices import MilestoneCategory, MilestoneImportance
from ..common import benchmark, gap, resolve_client, stable_id, today
from ..milestones import criterion_dates, validate_criterion
from ..models import AdoptionFramework, ClientMilestone
from ..rollups import rollup_pending
from ..rules import milestone_status

MIN_CORRELATION_GROUP = 5
SUCCESS_FACTOR_DIFFERENCE = 10
CELEBRATION_DAYS = 14  # ADP-04
FAST_TRACK_SHARE = 0.5  # ADP-05: achieved in < half the typical days


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


def _population(client: Client | None) -> tuple[dict[int, dict], list[int]]:
    """Active clients (plus the requested one) with their first contract start; the scope in client-id order."""
    info = {
        x["pk"]: x
        for x in Client.objects.filter(
            Q(status=AccountStatus.ACTIVE) | Q(pk=client.pk if client else None)
        ).values("pk", "client_id", "client_name", "tier", "industry", "health_score", "contract_start_date")
    }
    scope = [client.pk] if client else sorted(info, key=lambda p: info[p]["client_id"])
    starts = {
        x["client_id"]: x["d"]
        for x in Contract.objects.filter(client_id__in=list(info))
        .values("client_id")
        .annotate(d=Min("start_date"))
    }
    for pk, x in info.items():
        firsts = [d for d in (starts.get(pk), x["contract_start_date"]) if d]
        x["start"] = min(firsts) if firsts else None
    return info, scope


def _groups(
    milestone_framework: str, custom: list[dict] | None, info: dict, scope: list[int], gaps: list
) -> tuple[dict[str, tuple], dict[int, AdoptionFramework | None]]:
    """Clients grouped by the framework that applies to them: ``{key: (framework, milestones, pks)}``."""
    if milestone_framework == "custom":
        return {"custom": (None, custom, list(info))}, {}
    standard = AdoptionFramework.objects.filter(key="standard").first()
    by_industry = {}
    if milestone_framework == "industry_specific":
        by_industry = {
            (f.industry or "").lower(): f
            for f in AdoptionFramework.objects.filter(industry__isnull=False, is_active=True)
        }
    groups: dict[str, tuple] = {}
    frameworks: dict[int, AdoptionFramework | None] = {}
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
        groups.setdefault(fw.key if fw else "none", (fw, fw.milestones if fw else [], []))[2].append(pk)
    if missing_industry:
        gaps.append(
            gap(
                "milestone_framework",
                "no_industry_framework",
                f"{missing_industry} client(s) without an industry framework use the standard one.",
            )
        )
    return groups, frameworks


def _achieved(
    groups: dict[str, tuple], info: dict, as_of: dt.date
) -> tuple[dict[int, dict[str, dt.date]], dict[str, dict]]:
    """Per client the achieved milestones (stored rows first, else evaluated live), and every definition."""
    tiers = {pk: x["tier"] for pk, x in info.items()}
    achieved: dict[int, dict[str, dt.date]] = defaultdict(dict)
    definitions: dict[str, dict] = {}
    for fw, milestones, pks in groups.values():
        stored: dict[int, dict] = defaultdict(dict)
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
    return achieved, definitions


def _progress(
    x: dict, defs: list[dict], fw_ids: set[str], achieved: dict[str, dt.date], as_of: dt.date
) -> dict[str, Any]:
    """One client's ``customer_progress`` entry: status of each milestone of its framework, completion."""
    start = x["start"]
    elapsed = (as_of - start).days if start else None
    ms = {}
    for m in defs:
        if m["id"] not in fw_ids:
            continue
        day = achieved.get(m["id"])
        if day is not None:
            status, days_to = "achieved", (day - start).days if start else None
        else:
            status, days_to = milestone_status(elapsed, m["typical_days"]), None
        ms[m["id"]] = {
            "status": status,
            "achieved_at": day.isoformat() if day else None,
            "days_to_achieve": days_to,
        }
    done = sum(1 for v in ms.values() if v["status"] == "achieved")
    return {
        "client_id": x["client_id"],
        "client_name": x["client_name"],
        "days_since_start": elapsed,
        "completion_pct": r(100 * done / len(ms), 1) if ms else None,
        "next_milestone": next((mid for mid, v in ms.items() if v["status"] != "achieved"), None),
        "milestones": ms,
    }


def _time_to_milestone(days: list[int]) -> dict[str, Any]:
    if not days:
        return {"median": None, "p25": None, "p75": None, "n": 0}
    q1, _, q3 = (days[0],) * 3 if len(days) == 1 else statistics.quantiles(days, n=4, method="inclusive")
    return {"median": r(statistics.median(days), 1), "p25": r(q1, 1), "p75": r(q3, 1), "n": len(days)}


def _correlation(ach: list[float], non: list[float]) -> tuple[dict[str, Any], float | None]:
    """Mean health of achievers vs non-achievers (≥ 5 scored clients per group, else nulls), and the
    unrounded difference."""
    out = {
        "achievers_avg_health": None,
        "non_achievers_avg_health": None,
        "difference": None,
        "n_achievers": len(ach),
        "n_non_achievers": len(non),
    }
    if len(ach) < MIN_CORRELATION_GROUP or len(non) < MIN_CORRELATION_GROUP:
        return out, None
    a, n = sum(ach) / len(ach), sum(non) / len(non)
    out.update(achievers_avg_health=r(a, 1), non_achievers_avg_health=r(n, 1), difference=r(a - n, 1))
    return out, a - n


def _milestone_stats(
    defs: list[dict], progress: dict[int, dict], info: dict, scope: list[int], gaps: list
) -> dict[str, Any]:
    """Per milestone: completion rate (clients older than the typical days), time to milestone, correlation
    with health, blockers in scope; the success factors (≥ 10 health points)."""
    out: dict[str, Any] = {"completion": {}, "ttm": {}, "corr": {}, "blockers": {}, "factors": []}
    for m in defs:
        mid, typical = m["id"], m["typical_days"]
        rows = [(pk, p["milestones"][mid]) for pk, p in progress.items() if mid in p["milestones"]]
        older = [
            v
            for pk, v in rows
            if progress[pk]["days_since_start"] is not None and progress[pk]["days_since_start"] > typical
        ]
        out["completion"][mid] = (
            r(sum(1 for v in older if v["status"] == "achieved") / len(older), 4) if older else None
        )
        if not older:
            gaps.append(
                gap(f"completion_rates.{mid}", "not_enough_data", "No client older than the typical days.")
            )
        out["ttm"][mid] = _time_to_milestone(
            sorted(v["days_to_achieve"] for _, v in rows if v["days_to_achieve"] is not None)
        )
        if not out["ttm"][mid]["n"]:
            gaps.append(gap(f"time_to_milestone.{mid}", "not_enough_data", "No achiever."))
        scored = [(v["status"] == "achieved", info[pk]["health_score"]) for pk, v in rows]
        out["corr"][mid], diff = _correlation(
            [h for a, h in scored if a and h is not None], [h for a, h in scored if not a and h is not None]
        )
        if diff is None:
            gaps.append(
                gap(f"milestone_correlation.{mid}", "not_enough_data", "Needs ≥ 5 scored clients per group.")
            )
        elif diff >= SUCCESS_FACTOR_DIFFERENCE:
            out["factors"].append({"milestone_id": mid, "health_difference": r(diff, 1)})
        scoped = [progress[pk]["milestones"].get(mid, {}).get("status") for pk in scope]
        out["blockers"][mid] = {"overdue": scoped.count("overdue"), "stuck": scoped.count("stuck")}
    return out


def _client_findings(
    scope: list[int], progress: dict[int, dict], defs: list[dict], as_of: dt.date
) -> dict[str, list]:
    """Stuck and fast-track clients, ADP-01 interventions, ADP-05 fast-track actions, ADP-04 celebrations."""
    out: dict[str, list] = {k: [] for k in ("stuck", "fast", "interventions", "celebrations", "actions")}
    by_id = {m["id"]: m for m in defs}
    for pk in scope:
        p = progress[pk]
        for mid, v in p["milestones"].items():
            m = by_id[mid]
            ev = {"client_id": p["client_id"], "milestone_id": mid, "typical_days": m["typical_days"]}
            if v["status"] in ("overdue", "stuck"):
                if v["status"] == "stuck":
                    out["stuck"].append({**ev, "days_elapsed": p["days_since_start"]})
                out["interventions"].append(
                    finding(
                        "ADP-01",
                        f"{m['name']} {v['status']} for {p['client_name']}",
                        f"Run milestone-specific enablement for {m['name']}.",
                        Priority.HIGH if v["status"] == "stuck" else Priority.MEDIUM,
                        {**ev, "status": v["status"], "days_elapsed": p["days_since_start"]},
                    )
                )
            if v["status"] != "achieved":
                continue
            if (
                v["days_to_achieve"] is not None
                and v["days_to_achieve"] < FAST_TRACK_SHARE * m["typical_days"]
            ):
                out["fast"].append({**ev, "days_to_achieve": v["days_to_achieve"]})
                if p["next_milestone"]:
                    out["actions"].append(
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
            if (as_of - dt.date.fromisoformat(v["achieved_at"])).days <= CELEBRATION_DAYS:
                out["celebrations"].append(
                    finding(
                        "ADP-04",
                        f"{p['client_name']} achieved {m['name']}",
                        "Celebrate and share the success.",
                        Priority.LOW,
                        {**ev, "achieved_at": v["achieved_at"]},
                    )
                )
    return out


def _benchmarks(client: Client, progress: dict[int, dict], gaps: list) -> dict[str, Any]:
    """Days to each achieved milestone vs the other active clients (RULES §15.1)."""
    out = {}
    for mid, v in progress[client.pk]["milestones"].items():
        if v["days_to_achieve"] is None:
            continue
        peers = [
            p["milestones"][mid]["days_to_achieve"]
            for pk, p in progress.items()
            if pk != client.pk
            and mid in p["milestones"]
            and p["milestones"][mid]["days_to_achieve"] is not None
        ]
        out[mid] = benchmark(
            "days_to_achieve",
            v["days_to_achieve"],
            peers,
            "portfolio",
            "active_clients",
            gaps,
            f"benchmark_comparison.{mid}",
        )
    return out


def adoption_milestones(
    *,
    client_id: str | None = None,
    milestone_framework: str = "standard",
    custom_milestones: list[dict] | None = None,
    include_benchmarks: bool = True,
    celebration_recommendations: bool = True,
) -> dict[str, Any]:
    """The ``track_adoption_milestones`` result for one client or every active client."""
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
    info, scope = _population(client)
    groups, frameworks = _groups(milestone_framework, custom, info, scope, gaps)
    achieved, definitions = _achieved(groups, info, as_of)
    defs = sorted(definitions.values(), key=lambda m: (m["typical_days"], m["id"]))
    progress = {}
    for pk, x in info.items():
        if milestone_framework == "custom":
            fw_ids = set(definitions)
        else:
            fw_ids = {m["id"] for m in (frameworks[pk].milestones if frameworks.get(pk) else [])}
        progress[pk] = _progress(x, defs, fw_ids, achieved[pk], as_of)
    if any(info[pk]["start"] is None for pk in scope):
        gaps.append(gap("customer_progress[].days_since_start", "no_contract", "No contract start date."))
    stats = _milestone_stats(defs, progress, info, scope, gaps)
    f = _client_findings(scope, progress, defs, as_of)
    bench = _benchmarks(client, progress, gaps) if client and include_benchmarks else None
    celebrations = f["celebrations"] if celebration_recommendations else []
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
        "customer_progress": [progress[pk] for pk in scope][:1000],
        "completion_rates": stats["completion"],
        "time_to_milestone": stats["ttm"],
        "milestone_correlation": stats["corr"],
        "stuck_customers": f["stuck"],
        "fast_track_customers": f["fast"],
        "milestone_blockers": stats["blockers"],
        "success_factors": stats["factors"],
        "benchmark_comparison": bench,
        "celebration_opportunities": sort_findings(f["celebrations"])
        if celebration_recommendations
        else None,
        "intervention_recommendations": sort_findings(f["interventions"]),
        "recommended_actions": sort_findings(f["interventions"] + f["actions"] + celebrations),
        "data_gaps": gaps,
    }
