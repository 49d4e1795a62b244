"""The account report of generate_health_reports (TOOLS §3.10): one client's current score, band and trend,
components with contributions vs the period start, snapshot series, open alerts, churn prediction and renewal.
Every null value carries a data gap (RULES §15.2)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models import F

from cs_project.core.formatting import iso, jsonable
from cs_project.core.stats import r
from customers.choices import AlertStatus
from customers.models import Alert

from ..choices import COMPONENTS
from ..common import gap
from ..models import ChurnPrediction, HealthSnapshot
from ..rules import churn_driver_out, null_column_gaps
from ..scoring import snapshot_explanation

SUMMARY_NULLS = {
    "health_score": ("no_score", "No official snapshot with a score."),
    "risk_level": ("no_score", "No official snapshot with a score."),
    "health_trend": ("insufficient_history", "No comparison snapshot for the trend (RULES §4.6)."),
    "start_score": (
        "insufficient_history",
        "No official snapshot with a score on or before the period start.",
    ),
    "change": ("insufficient_history", "No score at the period start or now."),
    "as_of": ("no_score", "No official snapshot."),
}
COMPONENT_NULLS = {
    "score": ("not_enough_data", "The component is missing in the current snapshot."),
    "base_weight": ("not_applicable", "No weight stored for the component."),
    "effective_weight": ("not_applicable", "Missing component: its weight is redistributed (RULES §4.3)."),
    "contribution": ("not_applicable", "Missing component: no contribution."),
    "start_score": ("insufficient_history", "The component is missing at the period start."),
    "change": ("insufficient_history", "No component score at the period start or now."),
}


def report_account(*, start, end, client, min_change, limit, gaps) -> dict[str, Any]:
    """One client: components with contributions vs the period start, snapshots, alerts, churn, renewal."""
    snaps = HealthSnapshot.objects.filter(client=client, as_of__lte=end)
    current = snaps.order_by("-as_of").first()
    at_start = snaps.filter(as_of__lte=start).order_by("-as_of").first()
    if current is None:
        gaps.append(gap("content.explanation", "no_score", "The client has no official snapshot."))
    if at_start is None:
        gaps.append(
            gap("content.vs_period_start", "insufficient_history", "No snapshot at the period start.")
        )
    components = _component_rows(current, at_start)
    series = [
        {"as_of": d.isoformat(), "score": s, "risk_level": lvl or None}
        for d, s, lvl in snaps.filter(as_of__gte=start)
        .order_by("as_of")
        .values_list("as_of", "health_score", "risk_level")
    ]
    alerts = [
        {"alert_id": a.alert_id, "reason": a.reason, "priority": a.priority, "status": a.status}
        for a in Alert.objects.filter(client=client, status=AlertStatus.OPEN).order_by("reason")
    ]
    renewal = _latest_renewal(client, gaps)
    churn = _churn_prediction(client, end, gaps)
    score = current.health_score if current else None
    start_score = at_start.health_score if at_start else None
    summary = {
        "client_id": client.client_id,
        "health_score": score,
        "risk_level": (current.risk_level or None) if current else None,
        "health_trend": (current.trend or None) if current else None,
        "start_score": start_score,
        "change": score - start_score if score is not None and start_score is not None else None,
        "as_of": current.as_of.isoformat() if current else None,
    }
    _null_gaps(summary, components, series, at_start, gaps)
    content = {
        "summary": summary,
        "components": components,
        "explanation": snapshot_explanation(current) if current else None,
        "vs_period_start": {
            "as_of": at_start.as_of.isoformat() if at_start else None,
            "score": start_score,
            "components": {x["component"]: x["change"] for x in components},
        },
        "snapshots": series,
        "open_alerts": alerts,
        "churn_prediction": churn,
        "renewal": jsonable(renewal) if renewal else None,
    }
    return {
        "content": content,
        "summary": summary,
        "rows": components,
        "columns": COMPONENT_COLUMNS,
        "truncated": False,
        "tables": [
            ("Components", COMPONENT_COLUMNS, [[x[c] for c in COMPONENT_COLUMNS] for x in components]),
            (
                "Snapshots",
                ["as_of", "score", "risk_level"],
                [[x["as_of"], x["score"], x["risk_level"]] for x in series],
            ),
            (
                "Open alerts",
                ["alert_id", "reason", "priority"],
                [[a["alert_id"], a["reason"], a["priority"]] for a in alerts],
            ),
        ],
    }


COMPONENT_COLUMNS = [
    "component",
    "score",
    "base_weight",
    "effective_weight",
    "contribution",
    "start_score",
    "change",
]


def _component_rows(current: HealthSnapshot | None, at_start: HealthSnapshot | None) -> list[dict[str, Any]]:
    """The five components of the current snapshot with weights, contribution and change since the start."""
    if current is None:
        return []
    by_c = {c["component"]: c for c in snapshot_explanation(current).get("components", [])}
    rows = []
    for c in COMPONENTS:
        s0 = getattr(at_start, f"{c}_score") if at_start else None
        s1 = getattr(current, f"{c}_score")
        rows.append(
            {
                "component": c,
                "score": r(s1, 1),
                "base_weight": r((current.weights or {}).get(c), 4),
                "effective_weight": r((current.effective_weights or {}).get(c), 4),
                "contribution": by_c.get(c, {}).get("contribution"),
                "start_score": r(s0, 1),
                "change": r(s1 - s0, 1) if s0 is not None and s1 is not None else None,
            }
        )
    return rows


def _latest_renewal(client, gaps: list) -> dict | None:
    """The open renewal, else the latest closed one (the expansion app's table)."""
    renewal_model = apps.get_model("expansion", "Renewal")
    renewal = (
        renewal_model.objects.filter(client=client)
        .order_by(F("closed_at").desc(nulls_first=True), "-renewal_date")
        .values("renewal_id", "renewal_date", "status", "probability")
        .first()
    )
    if renewal is None:
        gaps.append(gap("content.renewal", "not_applicable", "No renewal record."))
    return renewal


def _churn_prediction(client, end, gaps: list) -> dict[str, Any] | None:
    """The latest stored churn prediction; drivers in the shape of the path that produced them (RULES §5)."""
    churn = ChurnPrediction.objects.filter(client=client, as_of__lte=end).order_by("-as_of").first()
    if churn is None:
        gaps.append(gap("content.churn_prediction", "no_score", "No churn prediction stored."))
        return None
    if churn.probability is None:
        gaps.append(gap("content.churn_prediction.probability", "not_enough_data", "No health score."))
        gaps.append(gap("content.churn_prediction.risk_level", "not_enough_data", "No churn probability."))
    if churn.predicted_churn_date is None:
        gaps.append(
            gap(
                "content.churn_prediction.predicted_churn_date",
                "not_applicable",
                "Only when the churn probability is ≥ 0.50 and the contract has an end date.",
            )
        )
    return {
        "as_of": churn.as_of.isoformat(),
        "probability": r(churn.probability, 4),
        "risk_level": churn.risk_level or None,
        "method": churn.method,
        "drivers": [churn_driver_out(d) for d in churn.drivers or []],
        "predicted_churn_date": iso(churn.predicted_churn_date),
    }


def _null_gaps(summary: dict, components: list[dict], series: list[dict], at_start, gaps: list) -> None:
    """The gaps of the values that are null because a snapshot, a score or a component is missing."""
    null_column_gaps([summary], "summary", SUMMARY_NULLS, gaps)
    null_column_gaps(components, "content.components[]", COMPONENT_NULLS, gaps)
    if any(x["score"] is None for x in series):
        gaps.append(gap("content.snapshots[].score", "not_enough_data", "A snapshot without a health score."))
        gaps.append(
            gap("content.snapshots[].risk_level", "not_enough_data", "A snapshot without a health score.")
        )
    if at_start is not None and at_start.health_score is None:
        gaps.append(
            gap("content.vs_period_start.score", "not_enough_data", "The snapshot has no health score.")
        )
    if at_start is not None and any(x["change"] is None for x in components):
        gaps.append(
            gap(
                "content.vs_period_start.components",
                "insufficient_history",
                "A component is missing at either end.",
            )
        )
