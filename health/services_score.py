"""calculate_health_score's writes (TOOLS §3.2): one client scored through the health engine
(:func:`health.scoring.score_client` owns every formula); an official result stores the snapshot, cache and churn
prediction (the engine), upserts the ``health_below_threshold`` / ``churn_risk_high`` alerts and appends one audit
event + timeline entry when the snapshot changed. Previews (RULES §4.6) write nothing.

Named ``services_score`` (next to ``services``): the writes of one tool, kept apart from the nightly job's
services; the payload is assembled by :mod:`health.reads.score`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from cs_project.core.context import Actor
from cs_project.core.errors import InvalidParameter
from cs_project.core.formatting import jsonable
from customers.audit import audit_and_timeline
from customers.choices import (
    AccountStatus,
    AlertStatus,
    Impact,
    Priority,
    RiskLevel,
    Severity,
    TimelineEventType,
)
from customers.models import Alert, Client
from customers.services import alert_raise

from .choices import COMPONENTS
from .common import gap, resolve_client, today
from .models import HealthSnapshot
from .reads.score import score_payload
from .rollups import reporting_tz
from .scoring import score_client, validate_weights
from .services import health_alert_candidates

ALERT_REASONS_ON_CALCULATE = ("health_below_threshold", "churn_risk_high")
SNAPSHOT_FIELDS = ("health_score", "risk_level", "trend", *[f"{c}_score" for c in COMPONENTS])


def health_score_calculate(
    *,
    actor: Actor,
    client_id: str,
    scoring_model: str = "weighted_composite",
    component_weights: dict[str, Any] | None = None,
    lookback_period_days: int = 30,
    include_predictions: bool = True,
    risk_threshold: float = 60.0,
) -> dict[str, Any]:
    """Score one client through the engine; official results are stored (snapshot, cache, churn prediction,
    alerts, audit + timeline), previews write nothing (RULES §4.6)."""
    weights = None
    if component_weights is not None:
        weights = validate_weights(component_weights)
    elif scoring_model == "custom":
        raise InvalidParameter(
            "scoring_model 'custom' requires component_weights.", field="component_weights"
        )
    client = resolve_client(client_id)
    as_of = today()
    automated_alerts: list[dict] = []
    audit_event = None
    with transaction.atomic():
        before = HealthSnapshot.objects.filter(client=client, as_of=as_of).values(*SNAPSHOT_FIELDS).first()
        result = score_client(
            client.pk, as_of, weights=weights, lookback_days=lookback_period_days, persist=True
        )
        gaps = list(result["data_gaps"])
        churn = dict(result["churn"])
        # An active trained model already replaced the heuristic in score_chunk (RULES §5.2).
        if scoring_model == "ml_predictive" and not str(churn.get("method", "")).startswith("churn-logreg"):
            gaps.append(
                gap(
                    "churn_prediction.method",
                    "no_active_churn_model",
                    "No active trained model; heuristic used.",
                )
            )
        if result["persisted"]:
            automated_alerts, alert_events = _apply_alerts(result, actor, risk_threshold, as_of)
            audit_event = _record_calculation(
                actor=actor,
                client=client,
                result=result,
                before=before,
                as_of=as_of,
                scoring_model=scoring_model,
                risk_threshold=risk_threshold,
            ) or (alert_events[0] if alert_events else None)
    payload = score_payload(
        client=client,
        result=result,
        churn=churn,
        gaps=gaps,
        as_of=as_of,
        include_predictions=include_predictions,
        risk_threshold=risk_threshold,
        lookback=lookback_period_days,
        automated_alerts=automated_alerts,
        audit_event=audit_event,
    )
    if result["persisted"]:
        payload["message"] = f"Official snapshot for {as_of.isoformat()} stored."
    else:
        reasons = _preview_reasons(client, weights, lookback_period_days)
        payload["message"] = f"Preview ({', '.join(reasons)}): nothing stored."
    return payload


def _preview_reasons(client: Client, weights: dict | None, lookback: int) -> list[str]:
    """Why a result is a preview (RULES §4.6), for the message."""
    reasons = []
    if weights is not None:
        reasons.append("custom weights")
    if lookback != 30:
        reasons.append(f"lookback {lookback} days")
    if client.status != AccountStatus.ACTIVE:
        reasons.append(f"client status {client.status}")
    return reasons


def _record_calculation(
    *,
    actor: Actor,
    client: Client,
    result: dict,
    before: dict | None,
    as_of: dt.date,
    scoring_model: str,
    risk_threshold: float,
):
    """Audit event + timeline entry ``health.snapshot.calculated`` when today's snapshot changed; None when a
    same-day recalculation left it as it was (the call stays idempotent)."""
    after = {
        "health_score": result["health_score"],
        "risk_level": result["risk_level"],
        "trend": result["trend"],
        **{f"{c}_score": result["components"][c] for c in COMPONENTS},
    }
    if before == after:
        return None
    score = result["health_score"]
    return audit_and_timeline(
        actor=actor,
        action="health.snapshot.calculated",
        client=client,
        event_type=TimelineEventType.HEALTH,
        title=f"Health score {score if score is not None else '–'} ({result['risk_level'] or 'not scored'})",
        object_type="health_snapshot",
        object_id=f"{client.client_id}:{as_of.isoformat()}",
        changes={
            "health_score": [(before or {}).get("health_score"), score],
            "risk_level": [(before or {}).get("risk_level"), result["risk_level"]],
        },
        data={
            "as_of": as_of.isoformat(),
            "formula_version": result["explanation"]["formula_version"],
            "scorecard_id": result["scorecard_id"],
            "scoring_model": scoring_model,
            "risk_threshold": risk_threshold,
        },
        impact=Impact.NEGATIVE
        if result["risk_level"] in (RiskLevel.HIGH, RiskLevel.CRITICAL)
        else Impact.NEUTRAL,
        severity=Severity.INFO,
    )


def _apply_alerts(result: dict, actor: Actor, threshold: float, as_of: dt.date) -> tuple[list[dict], list]:
    """Upsert ``health_below_threshold`` / ``churn_risk_high`` through customers' alert service; a same-day
    repeat of an unchanged trigger is left alone so that the call stays idempotent."""
    out, events = [], []
    candidates = [
        c for c in health_alert_candidates(result, threshold) if c["reason"] in ALERT_REASONS_ON_CALCULATE
    ]
    live = {
        a.reason: a
        for a in Alert.objects.filter(
            client_id=result["client_pk"],
            type="risk",
            reason__in=ALERT_REASONS_ON_CALCULATE,
            status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED],
        )
    }
    tz = reporting_tz()
    for c in candidates:
        existing = live.get(c["reason"])
        if (
            existing is not None
            and timezone.localtime(existing.last_triggered_at, tz).date() == as_of
            and Priority.rank(existing.priority) <= Priority.rank(c["priority"])
        ):
            out.append(_alert_out(existing, created=False, updated=False))
            continue
        res = alert_raise(
            actor=actor,
            client=result["client_id"],
            type="risk",
            reason=c["reason"],
            priority=c["priority"],
            rule_id=c["rule_id"],
            evidence=jsonable(c["evidence"]),
        )
        if res.audit_event is not None:
            events.append(res.audit_event)
        out.append(_alert_out(res.alert, created=res.created, updated=not res.created))
    return out, events


def _alert_out(alert: Alert, *, created: bool, updated: bool) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "reason": alert.reason,
        "priority": alert.priority,
        "status": alert.status,
        "created": created,
        "updated": updated,
    }
