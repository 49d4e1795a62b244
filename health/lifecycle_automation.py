"""Nightly adoption milestones and lifecycle automation of a scored chunk (RULES §8, §7.2, §16, §19).

``adoption_and_lifecycle_chunk`` runs after a chunk's official scoring and its health side effects, inside the
same transaction as the side effects (``health.services.health_chunk_score``). For the chunk's official results:

1. **Adoption milestones** (§8, standard framework): the milestones newly achieved are stored as
   ``health.ClientMilestone`` rows (idempotent per client + framework + milestone; the first day the criterion
   held, from :func:`health.milestones.criterion_dates`), each with audit + timeline.
2. **Lifecycle automation** (§7.2, LC-01…LC-06): at most one transition per client, chosen by precedence
   at_risk > renewal > expansion > active. Mode ``CS_RULES["lifecycle_automation"]``: ``apply`` writes the
   transition exactly like a manual one (``LifecycleStageHistory`` row, previous row exited, client stage, audit
   ``customers.lifecycle.transitioned`` + lifecycle timeline entry, with the rule id and actor = the job's system
   actor); ``suggest`` raises alert ``lifecycle_suggestion:<to_stage>`` instead. Never sets ``churned``, never
   touches a client whose stage was changed manually in the last 7 days.
3. **Alerts** (§16): ``adoption_overdue:<m>`` (ADP-01), ``lifecycle_suggestion:<stage>`` (suggest mode) and
   ``renewal_overdue`` (LC-07) raised / re-triggered / auto-closed after 2 clear runs — the same rows, audit and
   timeline entries as ``customers.services.alert_raise`` / ``alert_condition_cleared``.

Set-based: a fixed number of queries per chunk whatever its size (clients locked in one ``SELECT … FOR UPDATE SKIP
LOCKED``, one query per source, bulk writes, the audit chain appended in one go). Decisions where the spec is
silent and the sources of apps still being written: ``docs/architecture/lifecycle-automation.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone

from cs_project.core.bulk import rows_update
from cs_project.core.context import Actor
from customers import rules as customer_rules
from customers.audit import audit_and_timeline_bulk
from customers.choices import (
    AlertStatus,
    AlertType,
    Impact,
    LifecycleStage,
    Priority,
    Severity,
    TimelineEventType,
)
from customers.models import Alert, Client, Contract, LifecycleStageHistory

from .choices import MilestoneImportance
from .milestones import milestones_record_chunk
from .models import AdoptionFramework, HealthSnapshot
from .rollups import day_bounds, local_date
from .rules import (
    LC06_OPPORTUNITY_STAGES,
    OPEN_RENEWAL_STATUSES,
    ClientFacts,
    lifecycle_candidates,
    milestone_status,
    pick_transition,
    renewal_overdue,
)
from .selectors import optional_model

logger = logging.getLogger(__name__)

# The §7.2 rules and their constants are pure, in health.rules; these are the automation's own.
AUTOMATION_RULE_IDS = frozenset({"LC-01", "LC-02", "LC-03", "LC-04", "LC-05", "LC-06"})
MANUAL_GUARD_DAYS = 7
STANDARD_FRAMEWORK = "standard"
OPEN_ESCALATION_STATUSES = ("open", "in_progress")
SUGGESTION_PREFIX = "lifecycle_suggestion:"
ADOPTION_PREFIX = "adoption_overdue:"
RENEWAL_OVERDUE = "renewal_overdue"
MODES = ("apply", "suggest")


def lifecycle_mode() -> str:
    """``CS_RULES["lifecycle_automation"]``: ``apply`` (default) or ``suggest``. An unknown value suggests only
    (the safe side: nothing is moved without a person)."""
    mode = getattr(settings, "CS_RULES", {}).get("lifecycle_automation", "apply") or "apply"
    if mode not in MODES:
        logger.warning("CS_RULES['lifecycle_automation']=%r is not apply/suggest; suggesting only", mode)
        return "suggest"
    return mode


# ------------------------------------------------------------------------------------------------------------
# Facts of a chunk: one query per source
# ------------------------------------------------------------------------------------------------------------


def _lock_clients(ids: list[int], as_of: dt.date) -> list[dict[str, Any]]:
    """The chunk's clients, row-locked (``SKIP LOCKED``: a client a person is changing right now is left for the
    next run rather than waited for), with their previous official snapshot (LC-03) — one query."""
    previous = HealthSnapshot.objects.filter(client_id=OuterRef("pk"), as_of__lt=as_of).order_by("-as_of")
    qs = Client.objects.filter(id__any=ids).order_by("id")
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return list(
        qs.annotate(
            previous_as_of=Subquery(previous.values("as_of")[:1]),
            previous_health=Subquery(previous.values("health_score")[:1]),
        ).values(
            "id",
            "client_id",
            "lifecycle_stage",
            "tier",
            "csm_assigned_id",
            "contract_start_date",
            "contract_end_date",
            "previous_as_of",
            "previous_health",
        )
    )


def _contract_dates(facts: dict[int, ClientFacts], clients: list[dict], as_of: dt.date) -> None:
    """First contract start (RULES §8 day 0) and the current end date (active contract started ≤ as-of, latest
    start first — the same contract scoring uses — else ``Client.contract_end_date``)."""
    starts: dict[int, dt.date] = {}
    current: dict[int, tuple] = {}
    for pk, status, start, end, cid in Contract.objects.filter(client_id__any=list(facts)).values_list(
        "client_id", "status", "start_date", "end_date", "id"
    ):
        if pk not in starts or start < starts[pk]:
            starts[pk] = start
        if status == "active" and start <= as_of and (pk not in current or (start, cid) > current[pk][:2]):
            current[pk] = (start, cid, end)
    for c in clients:
        f = facts[c["id"]]
        firsts = [d for d in (starts.get(c["id"]), c["contract_start_date"]) if d]
        f.first_start = min(firsts) if firsts else None
        f.contract_end = current[c["id"]][2] if c["id"] in current else c["contract_end_date"]


def _plans(facts: dict[int, ClientFacts]) -> None:
    """Latest non-cancelled onboarding plan per client (LC-01). No onboarding app → no plan."""
    model = optional_model("onboarding.OnboardingPlan", "client", "status", "start_date")
    if model is None:
        return
    latest: dict[int, tuple] = {}
    for pk, status, start, plan_pk in (
        model.objects.filter(client_id__any=list(facts))
        .exclude(status="cancelled")
        .values_list("client_id", "status", "start_date", "id")
    ):
        if pk not in latest or (start, plan_pk) > latest[pk][:2]:
            latest[pk] = (start, plan_pk, status)
    for pk, (_, _, status) in latest.items():
        facts[pk].plan_status = status


def _critical_escalations(facts: dict[int, ClientFacts], as_of: dt.date) -> None:
    """Open critical escalations opened by the end of the as-of day (LC-02)."""
    model = optional_model(
        "retention.Escalation", "client", "severity", "status", "opened_at", "escalation_id"
    )
    if model is None:
        return
    for pk, esc_id in (
        model.objects.filter(
            client_id__any=list(facts),
            severity="critical",
            status__in=OPEN_ESCALATION_STATUSES,
            opened_at__lt=day_bounds(as_of)[1],
        )
        .order_by("opened_at", "id")
        .values_list("client_id", "escalation_id")
    ):
        facts[pk].critical_escalations.append(esc_id)


def _renewals(facts: dict[int, ClientFacts]) -> None:
    """Every renewal of the chunk's clients, oldest renewal date first (LC-04, LC-05, LC-07)."""
    model = optional_model("expansion.Renewal", "client", "status", "renewal_date", "renewal_id")
    if model is None:
        return
    for pk, rid, status, day in (
        model.objects.filter(client_id__any=list(facts))
        .order_by("renewal_date", "id")
        .values_list("client_id", "renewal_id", "status", "renewal_date")
    ):
        facts[pk].renewals.append((rid, status, day))


def _qualified_opportunities(facts: dict[int, ClientFacts]) -> None:
    """Open expansion opportunities in stage ≥ qualified (LC-06)."""
    model = optional_model("expansion.ExpansionOpportunity", "client", "stage")
    if model is None:
        return
    for pk, n in (
        model.objects.filter(client_id__any=list(facts), stage__in=LC06_OPPORTUNITY_STAGES)
        .order_by()
        .values("client_id")
        .annotate(n=Count("id"))
        .values_list("client_id", "n")
    ):
        facts[pk].qualified_opportunities = n


def _recent_history(ids: list[int], now: dt.datetime) -> tuple[set[int], set[int]]:
    """(clients whose stage a person changed in the last 7 days, clients the automation moved today).

    A manual change = a stage-history row with a from-stage (not the registration row) and no LC rule id."""
    manual, automated_today = set(), set()
    today = local_date(now)
    for pk, from_stage, rule_id, entered in LifecycleStageHistory.objects.filter(
        client_id__any=ids, entered_at__gte=now - dt.timedelta(days=MANUAL_GUARD_DAYS)
    ).values_list("client_id", "from_stage", "rule_id", "entered_at"):
        if rule_id in AUTOMATION_RULE_IDS:
            if local_date(entered) == today:
                automated_today.add(pk)
        elif from_stage:
            manual.add(pk)
    return manual, automated_today


def adoption_overdue(
    f: ClientFacts, framework: AdoptionFramework, achieved: dict[str, dt.date], as_of: dt.date
) -> list[dict[str, Any]]:
    """ADP-01 alerts: milestones not achieved past their typical days (overdue / stuck, RULES §8)."""
    if f.first_start is None:
        return []
    elapsed = (as_of - f.first_start).days
    out = []
    for m in framework.milestones:
        if m["id"] in achieved:
            continue
        status = milestone_status(elapsed, m["typical_days"])
        if status not in ("overdue", "stuck"):
            continue
        critical = m.get("importance") == MilestoneImportance.CRITICAL
        out.append(
            {
                "type": AlertType.LIFECYCLE,
                "reason": f"{ADOPTION_PREFIX}{m['id']}",
                "priority": Priority.HIGH if critical or status == "stuck" else Priority.MEDIUM,
                "rule_id": "ADP-01",
                "evidence": {
                    "milestone_id": m["id"],
                    "name": m.get("name"),
                    "importance": m.get("importance"),
                    "status": status,
                    "typical_days": m["typical_days"],
                    "days_elapsed": elapsed,
                    "contract_start": f.first_start.isoformat(),
                    "framework": framework.key,
                    "as_of": as_of.isoformat(),
                },
            }
        )
    return out


# ------------------------------------------------------------------------------------------------------------
# The nightly step
# ------------------------------------------------------------------------------------------------------------


def _chunk_facts(
    by_pk: dict[int, dict[str, Any]], clients: list[dict], as_of: dt.date
) -> dict[int, ClientFacts]:
    """The facts of the locked clients from their scoring results, plus contract dates."""
    facts: dict[int, ClientFacts] = {}
    for c in clients:
        r = by_pk[c["id"]]
        inputs = r.get("inputs") or {}
        facts[c["id"]] = ClientFacts(
            pk=c["id"],
            client_id=c["client_id"],
            stage=c["lifecycle_stage"],
            tier=c["tier"],
            owner_id=c["csm_assigned_id"],
            health=r.get("health_score"),
            payment_status=(inputs.get("payment") or {}).get("payment_status"),
            seat_utilisation=(inputs.get("usage") or {}).get("utilisation"),
            previous_as_of=c["previous_as_of"],
            previous_health=c["previous_health"],
        )
    _contract_dates(facts, clients, as_of)
    return facts


def _milestone_entry(f: ClientFacts, framework: AdoptionFramework, row, name: str) -> dict[str, Any]:
    """Audit + timeline entry of a newly achieved milestone."""
    return {
        "client": row.client_id,
        "action": "health.milestone.achieved",
        "event_type": TimelineEventType.HEALTH,
        "title": f"Adoption milestone achieved: {row.milestone_id} {name} ({row.achieved_on.isoformat()})",
        "object_type": "health.ClientMilestone",
        "object_id": f"{f.client_id}:{framework.key}:{row.milestone_id}",
        "changes": {},
        "data": {
            "framework": framework.key,
            "milestone_id": row.milestone_id,
            "achieved_on": row.achieved_on.isoformat(),
            "days_to_achieve": row.days_to_achieve,
            "importance": row.importance,
            "category": row.category,
        },
        "impact": Impact.POSITIVE,
        "severity": Severity.LOW,
    }


def _milestones_step(
    facts: dict[int, ClientFacts],
    framework: AdoptionFramework | None,
    *,
    as_of: dt.date,
    now: dt.datetime,
    actor: Actor,
    counts: dict[str, int],
    entries: list[dict[str, Any]],
) -> dict[int, dict[str, dt.date]]:
    """RULES §8 (standard framework): record the newly achieved milestones; returns each client's achieved
    milestones up to as-of (and sets ``m2_achieved_on`` for LC-01)."""
    achieved: dict[int, dict[str, dt.date]] = defaultdict(dict)
    if framework is None:
        return achieved
    achieved, new = milestones_record_chunk(
        framework=framework,
        clients={pk: {"tier": f.tier, "start": f.first_start} for pk, f in facts.items()},
        as_of=as_of,
        now=now,
        evidence={"job": actor.label},
    )
    counts["milestones_recorded"] = len(new)
    names = {m["id"]: m.get("name") or m["id"] for m in framework.milestones}
    entries += [
        _milestone_entry(facts[row.client_id], framework, row, names[row.milestone_id]) for row in new
    ]
    for pk in achieved:  # a back-fill for an older day ignores later achievements
        achieved[pk] = {mid: day for mid, day in achieved[pk].items() if day <= as_of}
    for pk, f in facts.items():
        f.m2_achieved_on = achieved[pk].get("m2")
    return achieved


def _lifecycle_step(
    facts: dict[int, ClientFacts], *, as_of: dt.date, now: dt.datetime, counts: dict[str, int]
) -> tuple[list[tuple[ClientFacts, dict[str, Any]]], dict[tuple[int, str, str], dict[str, Any]]]:
    """RULES §7.2: each client's transition (guarded, allowed) as a move (apply) or a suggestion alert
    (suggest), and the LC-07 alerts wanted. LC-02 reads the at-risk setting, as the analysis does."""
    _plans(facts)
    _critical_escalations(facts, as_of)
    _renewals(facts)
    _qualified_opportunities(facts)
    ids = sorted(facts)
    manual, automated_today = _recent_history(ids, now)
    mode = lifecycle_mode()
    threshold = float(customer_rules.at_risk_threshold())
    wanted: dict[tuple[int, str, str], dict[str, Any]] = {}
    moves: list[tuple[ClientFacts, dict[str, Any]]] = []
    for pk in ids:
        f = facts[pk]
        choice = pick_transition(lifecycle_candidates(f, as_of, threshold))
        if choice is not None and (pk in manual or pk in automated_today):
            counts["guarded"] += 1
            choice = None
        if choice is not None and not customer_rules.transition_allowed(f.stage, choice["to_stage"]):
            logger.error(
                "LC rule %s proposes %s → %s (not allowed)", choice["rule_id"], f.stage, choice["to_stage"]
            )
            choice = None
        if choice is not None:
            if mode == "apply":
                moves.append((f, choice))
            else:
                reason = f"{SUGGESTION_PREFIX}{choice['to_stage']}"
                wanted[(pk, AlertType.LIFECYCLE, reason)] = {
                    "priority": Priority.MEDIUM,
                    "rule_id": choice["rule_id"],
                    "evidence": {**choice["evidence"], "reason": choice["reason"], "mode": mode},
                }
                counts["suggestions"] += 1
        overdue = renewal_overdue(f, as_of)
        if overdue is not None:
            wanted[(pk, AlertType.RISK, RENEWAL_OVERDUE)] = {
                "priority": Priority.CRITICAL,
                "rule_id": "LC-07",
                "evidence": overdue,
            }
    return moves, wanted


@transaction.atomic
def adoption_and_lifecycle_chunk(
    *, results: list[dict[str, Any]], as_of: dt.date, actor: Actor, now: dt.datetime | None = None
) -> dict[str, int]:
    """Adoption milestones, lifecycle automation (§7.2) and their alerts for a chunk's official scoring results
    (``score_chunk`` results with ``persisted``). Idempotent for a day. Returns counts."""
    now = now or timezone.now()
    counts = dict.fromkeys(
        (
            "clients",
            "skipped_locked",
            "milestones_recorded",
            "transitions",
            "suggestions",
            "guarded",
            "alerts_created",
            "alerts_retriggered",
            "alerts_clear_runs",
            "alerts_closed",
            "audit_events",
        ),
        0,
    )
    by_pk = {r["client_pk"]: r for r in results if r.get("persisted")}
    if not by_pk:
        return counts
    clients = _lock_clients(sorted(by_pk), as_of)
    counts["skipped_locked"] = len(by_pk) - len(clients)
    counts["clients"] = len(clients)
    if not clients:
        return counts
    facts = _chunk_facts(by_pk, clients, as_of)
    entries: list[dict[str, Any]] = []
    # 1. adoption milestones (RULES §8), 2. lifecycle automation (RULES §7.2), 3. alerts (RULES §16)
    framework = AdoptionFramework.objects.filter(key=STANDARD_FRAMEWORK).first()
    achieved = _milestones_step(
        facts, framework, as_of=as_of, now=now, actor=actor, counts=counts, entries=entries
    )
    moves, wanted = _lifecycle_step(facts, as_of=as_of, now=now, counts=counts)
    if framework is not None:
        for pk, f in sorted(facts.items()):
            for c in adoption_overdue(f, framework, achieved[pk], as_of):
                wanted[(pk, c["type"], c["reason"])] = c
    entries += _apply_transitions(moves, actor=actor, now=now)
    counts["transitions"] = len(moves)
    alert_counts, alert_entries = _sync_alerts(facts, wanted, as_of=as_of, now=now)
    counts.update(alert_counts)
    entries += alert_entries
    audit_and_timeline_bulk(actor=actor, entries=entries, now=now)
    counts["audit_events"] = len(entries)
    return counts


def _apply_transitions(
    moves: list[tuple[ClientFacts, dict[str, Any]]], *, actor: Actor, now: dt.datetime
) -> list[dict[str, Any]]:
    """The rows of ``customers.services._transition`` for many clients at once (no side effects: automation
    never sets or leaves ``churned``): previous history row exited, a new one with the rule id, the stage."""
    if not moves:
        return []
    pks = [f.pk for f, _ in moves]
    LifecycleStageHistory.objects.filter(client_id__any=pks, exited_at__isnull=True).update(exited_at=now)
    history = LifecycleStageHistory.objects.bulk_create(
        [
            LifecycleStageHistory(
                client_id=f.pk,
                from_stage=f.stage,
                to_stage=c["to_stage"],
                reason=c["reason"][:500],
                rule_id=c["rule_id"],
                actor=actor.label,
                entered_at=now,
            )
            for f, c in moves
        ]
    )
    rows_update(
        Client,
        [{"id": f.pk, "lifecycle_stage": c["to_stage"], "updated_at": now} for f, c in moves],
        ["lifecycle_stage", "updated_at"],
    )
    entries = []
    for (f, c), h in zip(moves, history, strict=True):
        from_stage, to_stage = f.stage, c["to_stage"]
        negative = to_stage == LifecycleStage.AT_RISK
        positive = to_stage in (LifecycleStage.ACTIVE, LifecycleStage.EXPANSION)
        entries.append(
            {
                "client": f.pk,
                "action": "customers.lifecycle.transitioned",
                "event_type": TimelineEventType.LIFECYCLE,
                "title": f"Lifecycle stage: {from_stage} → {to_stage}",
                "description": c["reason"],
                "object_type": "lifecycle_stage_history",
                "object_id": str(h.pk),
                "changes": {"lifecycle_stage": [from_stage, to_stage]},
                "data": {
                    "reason": c["reason"],
                    "rule_id": c["rule_id"],
                    "side_effects": [],
                    "evidence": c["evidence"],
                },
                "impact": Impact.NEGATIVE if negative else Impact.POSITIVE if positive else Impact.NEUTRAL,
                "severity": Severity.INFO,
            }
        )
        f.stage = to_stage
    return entries


def _managed(alert_type: str, reason: str) -> bool:
    if alert_type == AlertType.LIFECYCLE:
        return reason.startswith(SUGGESTION_PREFIX) or reason.startswith(ADOPTION_PREFIX)
    return alert_type == AlertType.RISK and reason == RENEWAL_OVERDUE


def _renewal_past_due(f: ClientFacts, as_of: dt.date) -> bool:
    return any(status in OPEN_RENEWAL_STATUSES and day < as_of for _, status, day in f.renewals)


def _sync_alerts(
    facts: dict[int, ClientFacts],
    wanted: dict[tuple[int, str, str], dict[str, Any]],
    *,
    as_of: dt.date,
    now: dt.datetime,
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Raise / re-trigger the wanted alerts and count clear runs of the live ones this step owns, with the rows,
    audit and timeline entries of ``alert_raise`` / ``alert_condition_cleared`` (RULES §16)."""
    from customers.services import (
        alert_batch_clear_run,
        alert_batch_new,
        alert_batch_retrigger,
        alerts_batch_save,
    )

    live: dict[tuple[int, str, str], Alert] = {
        (a.client_id, a.type, a.reason): a
        for a in Alert.objects.select_for_update()
        .filter(client_id__any=sorted(facts), status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED])
        .filter(
            Q(type=AlertType.LIFECYCLE, reason__startswith=SUGGESTION_PREFIX)
            | Q(type=AlertType.LIFECYCLE, reason__startswith=ADOPTION_PREFIX)
            | Q(type=AlertType.RISK, reason=RENEWAL_OVERDUE)
        )
        .order_by()
    }
    created: list[Alert] = []
    changed: list[Alert] = []
    retriggered = clear_runs = closed = 0
    entries: list[dict[str, Any]] = []
    for (pk, alert_type, reason), spec in sorted(wanted.items()):
        evidence = json.loads(json.dumps(spec["evidence"], cls=DjangoJSONEncoder))
        alert = live.get((pk, alert_type, reason))
        if alert is None:
            alert, entry = alert_batch_new(
                client_id=pk,
                type=alert_type,
                reason=reason,
                priority=spec["priority"],
                rule_id=spec["rule_id"],
                evidence=evidence,
                owner_id=facts[pk].owner_id,
                now=now,
            )
            created.append(alert)
        else:
            entry = alert_batch_retrigger(
                alert, priority=spec["priority"], rule_id=spec["rule_id"], evidence=evidence, now=now
            )
            changed.append(alert)
            retriggered += 1
        if entry is not None:  # an unchanged re-trigger is recorded by its row only (RULES §16)
            entries.append(entry)
    for key, alert in sorted(live.items()):
        pk, alert_type, reason = key
        if key in wanted or not _managed(alert_type, reason):
            continue
        if reason == RENEWAL_OVERDUE and _renewal_past_due(facts[pk], as_of):
            continue  # RNW-04 (renewal_reminders) still holds: not ours to clear
        changed.append(alert)
        closing = alert_batch_clear_run(alert, now=now)
        if closing is None:
            clear_runs += 1  # first clear run: bookkeeping only (as alert_condition_cleared)
        else:
            closed += 1
            entries.append(closing)
    alerts_batch_save(created=created, changed=changed)
    return (
        {
            "alerts_created": len(created),
            "alerts_retriggered": retriggered,
            "alerts_clear_runs": clear_runs,
            "alerts_closed": closed,
        },
        entries,
    )
