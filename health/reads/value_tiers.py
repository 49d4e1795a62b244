"""``segment_by_value_tier`` (TOOLS §3.7): value tiers by ARR (or CLV), VIP accounts, service levels and CSM
coverage over a population (RULES §6.1, §14).

The tier table is ``health.ValueTier`` (:func:`health.selectors.value_tier_bands`) unless the caller passes its
own ``tier_definitions``; the population is a FILTER (:func:`health.segmentation.population_queryset`).
A fixed number of grouped queries whatever the population size.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from cs_project.core.errors import InvalidParameter
from cs_project.core.stats import gini, r
from customers.choices import Priority, Tier
from customers.models import ArrMovement
from customers.rules import finding, sort_findings

from ..common import gap, money, stable_id, today
from ..rules import OPEN_RENEWAL_STATUSES, SEG01_HEALTH, SEG02_SHARE, seg01_holds, seg02_holds
from ..segmentation import population_queryset
from ..selectors import value_tier_bands

D = dt.timedelta
SECONDARY_DIMENSIONS = {"clv", "expansion_potential", "health_score", "nps"}
OPEN_EXPANSION_STAGES = ("identified", "qualified", "proposal", "negotiation")
LOW_RENEWAL_PROBABILITY = 0.65


def _validate_tier_definitions(defs: list[dict]) -> list[dict]:
    """Caller-defined tiers: contiguous from 0 upwards, no overlap or gap, unique names; highest first."""
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


def _criteria(segmentation_criteria: Any) -> tuple[str, list[str]]:
    """(primary dimension, secondary dimensions) of ``segmentation_criteria``, validated."""
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
    if not isinstance(secondary, list) or any(
        not isinstance(d, str) or d not in SECONDARY_DIMENSIONS for d in secondary
    ):
        raise InvalidParameter(
            f"secondary_dimensions ⊂ {sorted(SECONDARY_DIMENSIONS)}.",
            field="segmentation_criteria.secondary_dimensions",
        )
    return primary, secondary


def _tier_churn_rates(as_of: dt.date) -> dict[str, float | None]:
    """Trailing-12-month logo churn rate per product tier (churned logos ÷ logos with ARR a year ago)."""
    year_ago = as_of - D(days=365)
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
    return {t: churned.get(t, 0) / start_cohort[t] if start_cohort.get(t) else None for t in Tier.values}


def _client_values(rows: list[dict], primary: str, secondary: list[str], as_of: dt.date, gaps: list) -> None:
    """Adds ``clv`` (ARR × gross margin ÷ the tier's churn rate, RULES §14), ``expansion_potential`` (open
    pipeline × probability) and ``primary`` to each row."""
    margin = settings.CS_RULES.get("gross_margin")
    churn_rate = _tier_churn_rates(as_of) if margin is not None else {}
    opp = apps.get_model("expansion", "ExpansionOpportunity")
    potential: dict[int, float] = defaultdict(float)
    for cid, amount, prob in opp.objects.filter(
        client_id__in=[x["pk"] for x in rows], stage__in=OPEN_EXPANSION_STAGES
    ).values_list("client_id", "amount", "probability"):
        potential[cid] += float(amount or 0) * float(prob or 0)
    for x in rows:
        arr = float(x["contract_value"])
        rate = churn_rate.get(x["tier"]) if margin is not None else None
        x["clv"] = arr * margin / rate if margin is not None and rate else None
        x["expansion_potential"] = potential.get(x["pk"], 0.0)
        x["primary"] = arr if primary == "arr" else x["clv"]
    wants_clv = primary == "clv" or "clv" in secondary
    if margin is None and wants_clv:
        gaps.append(gap("clv", "gross_margin_not_configured", "CS_RULES['gross_margin'] is not set."))
    elif margin is not None and any(x["clv"] is None for x in rows) and wants_clv:
        gaps.append(gap("clv", "no_churn_observed", "No churn (or no start cohort) for some product tiers."))


def _client_facts(pks: list[int], as_of: dt.date) -> tuple[dict, dict, set]:
    """Per client: NPS counts (180 days), ARR movements (12 months; contraction 180 days), low renewals."""
    year_ago = as_of - D(days=365)
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
            client_id__in=pks,
            status__in=OPEN_RENEWAL_STATUSES,
            probability__lt=LOW_RENEWAL_PROBABILITY,
        ).values_list("client_id", flat=True)
    )
    return nps_rows, arr_rows, low_renewal


def _assign(rows: list[dict], tiers: list[dict]) -> dict[str, list[dict]]:
    """Sets ``value_tier`` on each row (lower bound inclusive, upper exclusive); members per tier name."""

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
    return members


#: Why a tier's figure is null when the tier has members (RULES §15.2); an empty tier has ``not_enough_data``.
NULL_REASONS = {
    "avg_health": ("no_score", "No account of the tier has a health score."),
    "health_score": ("no_score", "No account of the tier has a health score."),
    "nps": ("no_survey_responses", "No NPS response from the tier in 180 days."),
    "logo_retention_12m": ("insufficient_history", "No account of the tier had ARR 12 months ago."),
    "accounts_per_csm": ("no_csm", "No account of the tier has a CSM."),
}


def _null_gaps(path: str, values: dict[str, Any], members: int, reasons: dict[str, tuple[str, str]]) -> list:
    """One data gap per null figure of a tier block: ``not_enough_data`` for an empty tier, else its reason."""
    out = []
    for key, value in values.items():
        if value is not None or key not in reasons:
            continue
        reason, detail = reasons[key] if members else ("not_enough_data", "No account in the tier.")
        out.append(gap(f"{path}.{key}", reason, detail))
    return out


def _clv_reason() -> tuple[str, str]:
    if settings.CS_RULES.get("gross_margin") is None:
        return "gross_margin_not_configured", "CS_RULES['gross_margin'] is not set."
    return "no_churn_observed", "No churn (or no start cohort) for the product tiers of the tier's accounts."


def _tier_metrics(ms: list[dict], nps_rows: dict, arr_rows: dict) -> tuple[dict, float | None]:
    arr = sum(float(x["contract_value"]) for x in ms)
    healths = [x["health_score"] for x in ms if x["health_score"] is not None]
    nps_n = sum(nps_rows.get(x["pk"], {}).get("n", 0) for x in ms)
    prom = sum(nps_rows.get(x["pk"], {}).get("prom", 0) for x in ms)
    det = sum(nps_rows.get(x["pk"], {}).get("det", 0) for x in ms)
    cohort = [x for x in ms if (arr_rows.get(x["pk"], {}).get("start_arr") or 0) > 0]
    churned_logos = sum(1 for x in cohort if arr_rows[x["pk"]]["churned"])
    mean_health = sum(healths) / len(healths) if healths else None
    metrics = {
        "total_arr": money(arr),
        "avg_arr": money(arr / len(ms)) if ms else None,
        "avg_health": r(mean_health, 1),
        "nps": r((prom - det) / nps_n * 100, 1) if nps_n else None,
        "logo_retention_12m": r(1 - churned_logos / len(cohort), 4) if cohort else None,
        "expansion_arr_12m": money(sum(float(arr_rows.get(x["pk"], {}).get("expansion") or 0) for x in ms)),
    }
    return metrics, mean_health


def _tier_characteristics(ms: list[dict]) -> dict[str, Any]:
    return {
        "tier_mix": {k: r(v / len(ms), 4) for k, v in sorted(Counter(x["tier"] for x in ms).items())},
        "top_industries": [
            k
            for k, _ in sorted(Counter(x["industry"] for x in ms).items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        ],
        "lifecycle_mix": {
            k: r(v / len(ms), 4) for k, v in sorted(Counter(x["lifecycle_stage"] for x in ms).items())
        },
    }


def _tier_findings(n: str, ms: list[dict], row: dict | None, mean_health: float | None, without: int) -> list:
    """SEG-01 (tier mean health < 65) and SEG-02 (high-touch tier with > 20 % of accounts without a CSM)."""
    out = []
    if seg01_holds(mean_health):
        out.append(
            finding(
                "SEG-01",
                f"Low health in value tier {n}",
                f"Run a targeted programme for the {n} tier.",
                Priority.MEDIUM,
                {"value_tier": n, "avg_health": r(mean_health, 1), "threshold": SEG01_HEALTH},
            )
        )
    if seg02_holds(touch_cadence=row["touch_cadence"] if row else None, without_csm=without, members=len(ms)):
        out.append(
            finding(
                "SEG-02",
                f"Value tier {n} lacks CSM coverage",
                f"Assign CSMs to {without} accounts.",
                Priority.MEDIUM,
                {
                    "value_tier": n,
                    "accounts_without_csm": without,
                    "share": r(without / len(ms), 4),
                    "threshold": SEG02_SHARE,
                },
            )
        )
    return out


def _per_tier(
    tiers: list[dict],
    members: dict,
    secondary: list[str],
    table_by_name: dict,
    nps_rows: dict,
    arr_rows: dict,
) -> dict[str, Any]:
    """Metrics, characteristics, performance, service levels, CSM allocation and findings of each tier; the
    data gaps of each block's nulls under ``gaps`` (the caller keeps those of the blocks it returns)."""
    out: dict[str, Any] = {
        k: {} for k in ("metrics", "characteristics", "performance", "service", "allocation")
    }
    out["findings"] = []
    out["gaps"] = {k: [] for k in ("metrics", "performance", "service", "allocation")}
    perf_reasons = {**NULL_REASONS, "clv": _clv_reason()}
    for t in tiers:
        n = t["name"]
        ms = members.get(n, [])
        metrics, mean_health = _tier_metrics(ms, nps_rows, arr_rows)
        out["metrics"][n] = metrics
        out["gaps"]["metrics"] += _null_gaps(
            f"tier_metrics.{n}",
            metrics,
            len(ms),
            {**NULL_REASONS, "avg_arr": ("not_enough_data", "No account in the tier.")},
        )
        out["characteristics"][n] = _tier_characteristics(ms)
        perf = {}
        for dim in secondary or ["health_score"]:
            if dim == "nps":
                perf[dim] = metrics["nps"]
            else:
                vals = [x[dim] for x in ms if x.get(dim) is not None]
                perf[dim] = r(sum(vals) / len(vals), 2) if vals else None
        out["performance"][n] = perf
        out["gaps"]["performance"] += _null_gaps(f"tier_performance.{n}", perf, len(ms), perf_reasons)
        row = table_by_name.get(n)
        out["service"][n] = (
            {
                "touch_cadence": row["touch_cadence"],
                "ebr_cadence": row["ebr_cadence"],
                "targets": row["targets"],
            }
            if row
            else None
        )
        if row is None:  # a caller-defined tier: the value-tier table (RULES §6.1) sets no service level
            out["gaps"]["service"].append(
                gap(
                    f"service_level_recommendations.{n}",
                    "not_applicable",
                    "Not a tier of the value-tier table.",
                )
            )
        csms = {x["csm_assigned_id"] for x in ms if x["csm_assigned_id"]}
        without = sum(1 for x in ms if not x["csm_assigned_id"])
        out["allocation"][n] = {
            "accounts": len(ms),
            "csms": len(csms),
            "accounts_per_csm": r((len(ms) - without) / len(csms), 1) if csms else None,
            "target_accounts_per_csm": row["accounts_per_csm"] if row else None,
            "accounts_without_csm": without,
        }
        out["gaps"]["allocation"] += _null_gaps(
            f"csm_allocation.{n}", out["allocation"][n], len(ms), NULL_REASONS
        )
        out["findings"] += _tier_findings(n, ms, row, mean_health, without)
    return out


def _concentration(rows: list[dict], gaps: list) -> dict[str, float | None]:
    arrs = sorted((float(x["contract_value"]) for x in rows), reverse=True)
    total, total_arr = len(rows), sum(arrs)
    if not total_arr:
        gaps.append(gap("value_concentration", "not_enough_data", "No ARR in the population."))
    return {
        "top_10pct_arr_share": r(sum(arrs[: math.ceil(total * 0.1)]) / total_arr, 4) if total_arr else None,
        "top_20pct_arr_share": r(sum(arrs[: math.ceil(total * 0.2)]) / total_arr, 4) if total_arr else None,
        "gini": r(gini(arrs), 4),
    }


def _vips(rows: list[dict]) -> list[dict]:
    """Accounts in the ``strategic`` tier or in the top 10 % by the primary dimension."""
    ranked = sorted(
        (x for x in rows if x["primary"] is not None), key=lambda x: (-x["primary"], x["client_id"])
    )
    top = {x["client_id"] for x in ranked[: max(1, math.ceil(len(rows) * 0.1))]} if ranked else set()
    return [
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


def _movements(rows: list[dict], tiers: list[dict], low_renewal: set, arr_rows: dict) -> tuple[list, list]:
    """Upgrade candidates (within 10 % of the next tier's floor, or lifted over it by the pipeline) and
    downgrade risks (high/critical risk, a renewal below 0.65, a contraction in 180 days)."""
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
    return upgrades, downgrades


def value_tier_segmentation(
    *,
    segmentation_criteria: dict[str, Any],
    tier_definitions: list[dict] | None = None,
    service_level_mapping: bool = True,
    vip_identification: bool = True,
    resource_planning: bool = True,
) -> dict[str, Any]:
    """The ``segment_by_value_tier`` result over the population of ``segmentation_criteria``."""
    primary, secondary = _criteria(segmentation_criteria)
    table = value_tier_bands()
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
    _client_values(rows, primary, secondary, as_of, gaps)
    nps_rows, arr_rows, low_renewal = _client_facts([x["pk"] for x in rows], as_of)
    members = _assign(rows, tiers)
    total = len(rows)
    names = [t["name"] for t in tiers] + (["unassigned"] if members.get("unassigned") else [])
    distribution = {
        n: {
            "count": len(members.get(n, [])),
            "share": r(len(members.get(n, [])) / total, 4) if total else None,
        }
        for n in names
    }
    if not total:
        gaps += [
            gap(f"tier_distribution.{n}.share", "not_enough_data", "The population is empty.") for n in names
        ]
    per = _per_tier(tiers, members, secondary, {t["name"]: t for t in table}, nps_rows, arr_rows)
    shown = {
        "metrics": True,
        "performance": True,
        "service": service_level_mapping,
        "allocation": resource_planning,
    }
    gaps += [g for block, block_gaps in per["gaps"].items() if shown[block] for g in block_gaps]
    concentration = _concentration(rows, gaps)
    upgrades, downgrades = _movements(rows, tiers, low_renewal, arr_rows)
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
        "tier_metrics": per["metrics"],
        "value_concentration": concentration,
        "vip_accounts": _vips(rows) if vip_identification else None,
        "tier_characteristics": per["characteristics"],
        "service_level_recommendations": per["service"] if service_level_mapping else None,
        "csm_allocation": per["allocation"] if resource_planning else None,
        "tier_performance": per["performance"],
        "upgrade_candidates": upgrades,
        "downgrade_risks": downgrades,
        "tier_optimization": sort_findings(per["findings"]),
        "recommended_actions": sort_findings(per["findings"]),
        "data_gaps": gaps,
    }
