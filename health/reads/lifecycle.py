"""``manage_lifecycle_stages`` reads (TOOLS §3.5): the ``analyze`` portfolio view and ``get_history``.

The ``transition`` action is a write: :func:`health.services.lifecycle_transition_run`. The LC-02 and LC-06
conditions are the pure predicates of :mod:`health.rules` (:func:`~health.rules.lc02_reasons` with the
at-risk threshold setting, :func:`~health.rules.lc06_holds`) — the same ones the nightly automation
(:mod:`health.lifecycle_automation`) applies, so the analysis lists exactly the clients the automation would move.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.utils import timezone

from cs_project.core.formatting import iso, json_text
from cs_project.core.stats import r
from customers import rules as customer_rules
from customers.choices import AccountStatus, ContractStatus, LifecycleStage, Priority
from customers.models import Client, Contract, LifecycleStageHistory
from customers.rules import finding, sort_findings

from .. import rules
from ..common import gap, money, resolve_client, stable_id, today
from ..segmentation import annotate_filter_fields

D = dt.timedelta
LC02_FROM = (LifecycleStage.ACTIVE, LifecycleStage.EXPANSION, LifecycleStage.RENEWAL)

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


def transition_triggers(threshold: float) -> list[dict]:
    """The RULES §7.2 table as published, every number read from its one home (:mod:`health.rules`, the
    at-risk ``threshold`` setting), so the text cannot drift from what the automation applies."""
    return [
        {
            "rule_id": "LC-01",
            "from": ["onboarding"],
            "to": "active",
            "condition": "onboarding plan completed, or (no plan, m2 achieved and contract start "
            f"≥ {rules.ONBOARDING_MIN_DAYS} days ago)",
        },
        {
            "rule_id": "LC-02",
            "from": ["active", "expansion", "renewal"],
            "to": "at_risk",
            "condition": f"health < {threshold:g} or payment overdue or open critical escalation",
        },
        {
            "rule_id": "LC-03",
            "from": ["at_risk"],
            "to": "active",
            "condition": f"health ≥ {rules.RECOVERY_HEALTH} on the last 2 official snapshots and LC-02 no longer "
            "holds (→ renewal if LC-04)",
        },
        {
            "rule_id": "LC-04",
            "from": ["active", "expansion"],
            "to": "renewal",
            "condition": f"contract end within {rules.RENEWAL_WINDOW_DAYS} days and renewal not yet won",
        },
        {"rule_id": "LC-05", "from": ["renewal"], "to": "active", "condition": "renewal won"},
        {
            "rule_id": "LC-06",
            "from": ["active"],
            "to": "expansion",
            "condition": f"health ≥ {rules.EXPANSION_HEALTH} and (open expansion opportunity ≥ qualified or seat "
            f"utilisation ≥ {rules.EXPANSION_SEAT_UTILISATION:.2f})",
        },
        {
            "rule_id": "LC-07",
            "from": ["renewal"],
            "to": None,
            "condition": f"contract end passed by > {rules.RENEWAL_OVERDUE_DAYS} days with the renewal open → alert "
            "renewal_overdue",
        },
    ]


def _stage_overview(rows: list[dict], stages: list[str], now: dt.datetime, gaps: list) -> tuple[dict, dict]:
    """Per stage: count and ARR; mean health, median ARR and mean days in the current stage (a data gap for
    each of these that is null: no client in the stage, no scored client, no open stage record)."""
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
        path = f"stage_characteristics.{s}"
        if not members:
            gaps.extend(
                gap(f"{path}.{key}", "not_enough_data", f"No client in stage {s}.")
                for key in ("avg_health_score", "median_arr", "avg_days_in_stage")
            )
            continue
        if not healths:
            gaps.append(
                gap(f"{path}.avg_health_score", "no_score", f"No client in stage {s} has a health score.")
            )
        if not days_in:
            gaps.append(
                gap(
                    f"{path}.avg_days_in_stage", "insufficient_history", f"No open stage record in stage {s}."
                )
            )
    return distribution, characteristics


def _history_metrics(
    current_stage: str | None, stages: list[str], now: dt.datetime, include_transitions: bool, gaps: list
) -> tuple[dict | None, dict, dict]:
    """From the stage history: transition counts (90 days), median stage duration, exit shares; a stage that
    no stint has left yet has no duration or shares (data gap ``insufficient_history``)."""
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
    gaps.extend(
        gap(f"average_stage_duration.{s}", "insufficient_history", f"No closed stint in stage {s}.")
        for s in stages
        if average_duration[s] is None
    )
    exits: dict[str, Counter] = defaultdict(Counter)
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
        if not total:
            gaps.extend(
                gap(
                    f"stage_success_metrics.{s}.{key}",
                    "insufficient_history",
                    f"No client has left stage {s}.",
                )
                for key in ("to_active_or_expansion_share", "to_churned_share")
            )
    return transitions, average_duration, success


def lc02_candidates(threshold: float) -> list[dict]:
    """Active clients in active/expansion/renewal for which LC-02 holds: ``{client_id, client_name,
    current_stage, health_score, reasons}`` (one query; the reasons from :func:`health.rules.lc02_reasons`)."""
    escalation = apps.get_model("retention", "Escalation")
    contract_overdue = Contract.objects.filter(
        client=OuterRef("pk"), status=ContractStatus.ACTIVE, payment_status="overdue"
    )
    critical_esc = escalation.objects.filter(
        client=OuterRef("pk"), severity="critical", status__in=["open", "in_progress"]
    )
    out = []
    for x in (
        Client.objects.filter(status=AccountStatus.ACTIVE, lifecycle_stage__in=LC02_FROM)
        .annotate(overdue=Exists(contract_overdue), esc=Exists(critical_esc))
        .filter(Q(health_score__lt=threshold) | Q(overdue=True) | Q(esc=True))
        .values("client_id", "client_name", "lifecycle_stage", "health_score", "overdue", "esc")
        .order_by("client_id")
    ):
        reasons = rules.lc02_reasons(
            health=x["health_score"],
            payment_overdue=x["overdue"],
            critical_escalation=x["esc"],
            threshold=threshold,
        )
        if reasons:
            out.append(
                {
                    "client_id": x["client_id"],
                    "client_name": x["client_name"],
                    "current_stage": x["lifecycle_stage"],
                    "health_score": x["health_score"],
                    "reasons": reasons,
                }
            )
    return out


def lc06_candidates(as_of: dt.date) -> list[dict]:
    """Active clients in stage active for which LC-06 holds (:func:`health.rules.lc06_holds`), with the
    seat utilisation = MAU ÷ seats of the current contract."""
    opp = apps.get_model("expansion", "ExpansionOpportunity")
    seats = Subquery(
        Contract.objects.filter(client=OuterRef("pk"), status=ContractStatus.ACTIVE)
        .order_by("-start_date", "-id")
        .values("included_users")[:1]
    )
    cand = annotate_filter_fields(
        Client.objects.filter(
            status=AccountStatus.ACTIVE,
            lifecycle_stage=LifecycleStage.ACTIVE,
            health_score__gte=rules.EXPANSION_HEALTH,
        ),
        {"mau"},
        as_of,
    ).annotate(
        seats=seats,
        open_opp=Exists(opp.objects.filter(client=OuterRef("pk"), stage__in=rules.LC06_OPPORTUNITY_STAGES)),
    )
    out = []
    for x in cand.values("client_id", "client_name", "health_score", "f_mau", "seats", "open_opp").order_by(
        "client_id"
    ):
        util = x["f_mau"] / x["seats"] if x["seats"] else None
        if rules.lc06_holds(
            health=x["health_score"], qualified_opportunities=int(x["open_opp"]), seat_utilisation=util
        ):
            out.append({**x, "seat_utilisation": r(util, 4)})
    return out


def _candidate_findings(lc02: list[dict], lc06: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """The ``at_risk_transitions`` / ``expansion_opportunities`` rows and their LC-02 / LC-06 findings."""
    findings, at_risk_out, expansion_out = [], [], []
    for x in lc02:
        at_risk_out.append({k: x[k] for k in ("client_id", "current_stage", "health_score", "reasons")})
        findings.append(
            finding(
                "LC-02",
                f"{x['client_name']} meets the at-risk rule",
                f"Transition {x['client_id']} from {x['current_stage']} to at_risk.",
                Priority.MEDIUM,
                {"client_id": x["client_id"], "reasons": x["reasons"], "health_score": x["health_score"]},
                tool_hint="manage_lifecycle_stages",
            )
        )
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
    return findings, at_risk_out, expansion_out


def _workflows(threshold: float) -> dict[str, Any]:
    wf = apps.get_model("communication", "Workflow")
    active = [
        {"workflow_id": w.workflow_id, "name": w.name, "trigger_type": w.trigger_type}
        for w in wf.objects.filter(is_active=True).order_by("workflow_id")
        if w.trigger_type == "contract_event" or "lifecycle" in json_text(w.trigger_config)
    ]
    return {
        "mode": settings.CS_RULES.get("lifecycle_automation", "apply"),
        "rules": [t["rule_id"] for t in transition_triggers(threshold)],
        "workflows": active,
    }


def lifecycle_analyze(
    *,
    current_stage: str | None = None,
    include_transitions: bool = True,
    intervention_planning: bool = True,
    automation_rules: bool = True,
) -> dict[str, Any]:
    """``manage_lifecycle_stages(action="analyze")``: stage distribution, history metrics and the clients
    LC-02 / LC-06 would move."""
    as_of = today()
    now = timezone.now()
    threshold = float(customer_rules.at_risk_threshold())
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
    gaps: list[dict] = []
    distribution, characteristics = _stage_overview(rows, stages, now, gaps)
    transitions, average_duration, success = _history_metrics(
        current_stage, stages, now, include_transitions, gaps
    )
    findings, at_risk_out, expansion_out = _candidate_findings(
        lc02_candidates(threshold), lc06_candidates(as_of)
    )
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
        "transition_triggers": transition_triggers(threshold),
        "average_stage_duration": average_duration,
        "stage_success_metrics": success,
        "at_risk_transitions": at_risk_out,
        "expansion_opportunities": expansion_out,
        "intervention_playbooks": PLAYBOOKS if intervention_planning else None,
        "automated_workflows": _workflows(threshold) if automation_rules else None,
        "recommended_actions": sort_findings(findings),
        "data_gaps": gaps,
    }


def lifecycle_history(*, client_id: str) -> dict[str, Any]:
    """``manage_lifecycle_stages(action="get_history")``: the client's stage history, newest first."""
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
