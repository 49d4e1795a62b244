"""The read side of calculate_health_score (TOOLS §3.2): the payload around one health-engine result —
risk indicators, churn prediction, history, projected scores (RULES §4.7), contributing factors and the HLT
findings. :mod:`health.services_score` runs the engine and the writes, then calls :func:`score_payload`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cs_project.core.formatting import iso, jsonable
from cs_project.core.stats import ols, r
from customers.models import Client
from customers.rules import decision_maker_detractor_finding, health_findings, sort_findings

from ..choices import COMPONENTS
from ..common import gap
from ..models import HealthSnapshot
from ..rollups import day_bounds
from ..rules import churn_driver_out, contributing_factors, projected_point, risk_indicators
from ..scoring_formulas import explanation_gaps, trend_gap_detail
from ..selectors import optional_model

D = dt.timedelta
DECISION_MAKER_ROLES = ("decision_maker", "executive_sponsor")


def score_payload(
    *,
    client: Client,
    result: dict,
    churn: dict,
    gaps: list,
    as_of: dt.date,
    include_predictions: bool,
    risk_threshold: float,
    lookback: int,
    automated_alerts: list,
    audit_event,
) -> dict[str, Any]:
    """The calculate_health_score payload (without ``message``) from the engine's ``result``."""
    comps = result["components"]
    eff = result["effective_weights"]
    detractor = decision_maker_detractor(client, as_of, lookback)
    found = _recommended_actions(result, churn, risk_threshold, detractor)
    _derived_gaps(result, gaps)
    history = _history(client, as_of, gaps)
    predictions = predicted_scores(client, as_of, gaps) if include_predictions else None
    return {
        "client_id": client.client_id,
        "calculation_timestamp": result["calculated_at"].isoformat(),
        "as_of": as_of.isoformat(),
        "persisted": result["persisted"],
        "current_health_score": result["health_score"],
        "health_trend": result["trend"],
        "score_change": result["score_change"],
        "risk_level": result["risk_level"],
        "low_confidence": result["low_confidence"],
        "component_scores": {
            **{c: r(comps[c], 1) for c in COMPONENTS},
            "weights": {f"{c}_weight": r(result["weights"][c], 4) for c in COMPONENTS},
            "effective_weights": {f"{c}_weight": r(eff[c], 4) for c in COMPONENTS},
            "missing_components": list(result["missing_components"]),
        },
        "explanation": jsonable(result["explanation"]),
        "health_metrics": jsonable(result["inputs"]),
        "risk_indicators": risk_indicators(
            components=comps,
            trend=result["trend"],
            score_change=result["score_change"],
            payment_status=(result["inputs"].get("payment") or {}).get("payment_status"),
            detractor=detractor,
        ),
        "churn_prediction": _churn_prediction(churn, gaps) if include_predictions else None,
        "historical_scores": history,
        "predicted_scores": predictions,
        "contributing_factors": contributing_factors(comps),
        "improvement_opportunities": [f for f in found if f["rule_id"] == "HLT-06"],
        "automated_alerts": automated_alerts,
        "recommended_actions": found,
        "audit_event_id": str(audit_event.event_id) if audit_event else None,
        "data_gaps": gaps,
    }


def _derived_gaps(result: dict, gaps: list) -> None:
    """Values derived from others carry their own gap: no score → no band, trend or change; no comparison
    snapshot → no change (RULES §4.6); a missing component has no effective weight (its weight is redistributed,
    RULES §4.3); the explanation's nulls take the reasons of the engine's gaps."""
    if result["health_score"] is None:
        for path in ("risk_level", "health_trend", "score_change"):
            gaps.append(gap(path, "not_enough_data", "No health score (coverage below 0.50)."))
    elif result["score_change"] is None:
        gaps.append(gap("score_change", "insufficient_history", trend_gap_detail()))
    gaps.extend(explanation_gaps(result["explanation"], engine_gaps=list(gaps)))
    for c in result["missing_components"]:
        gaps.append(
            gap(
                f"component_scores.effective_weights.{c}_weight",
                "not_applicable",
                f"{c} is missing; its weight is redistributed.",
            )
        )


def _recommended_actions(
    result: dict, churn: dict, risk_threshold: float, detractor: dict | None
) -> list[dict[str, Any]]:
    """HLT-01…08 through their one home, customers.rules (HLT-03 against the caller's ``risk_threshold``)."""
    comparison = result["comparison"] or {}
    found = health_findings(
        health_score=result["health_score"],
        health_trend=result["trend"],
        components=result["components"],
        effective_weights={c: w for c, w in result["effective_weights"].items() if w is not None},
        top_drivers=result["explanation"]["top_drivers"],
        churn_level=churn["risk_level"],
        churn_probability=r(churn["probability"], 4),
        risk_level=result["risk_level"],
        comparison_risk_level=comparison.get("risk_level"),
        risk_threshold=risk_threshold,
    )
    if detractor:
        found.append(decision_maker_detractor_finding(detractor))
    return sort_findings(found)


def _churn_prediction(churn: dict, gaps: list) -> dict[str, Any]:
    """churn_prediction as published: the drivers keep the shape of the path that produced them (RULES §5)."""
    if churn["probability"] is None:
        gaps.append(gap("churn_prediction.probability", "not_enough_data", "No health score."))
        gaps.append(gap("churn_prediction.risk_level", "not_enough_data", "No churn probability."))
    if churn["predicted_churn_date"] is None:
        gaps.append(
            gap(
                "churn_prediction.predicted_churn_date",
                "not_applicable",
                "Only when the churn probability is ≥ 0.50 and the contract has an end date.",
            )
        )
    if churn["horizon_days"] is None:
        gaps.append(gap("churn_prediction.horizon_days", "not_applicable", "The heuristic has no horizon."))
    if churn["model_metrics"] is None:
        gaps.append(gap("churn_prediction.model_metrics", "not_applicable", "No trained model was used."))
    return {
        "probability": r(churn["probability"], 4),
        "risk_level": churn["risk_level"],
        "method": churn["method"],
        "calibrated": churn["calibrated"],
        "horizon_days": churn["horizon_days"],
        "drivers": [churn_driver_out(d) for d in churn["drivers"]],
        "predicted_churn_date": iso(churn["predicted_churn_date"]),
        "data_coverage": r(churn["data_coverage"], 4),
        "model_metrics": churn["model_metrics"],
    }


def _history(client: Client, as_of: dt.date, gaps: list) -> list[dict[str, Any]]:
    """The official snapshots of the last 90 days (a day without a score keeps its row, with a gap)."""
    out = [
        {"as_of": d.isoformat(), "score": s, "risk_level": lvl or None}
        for d, s, lvl in HealthSnapshot.objects.filter(
            client=client, as_of__gt=as_of - D(days=90), as_of__lte=as_of
        )
        .order_by("as_of")
        .values_list("as_of", "health_score", "risk_level")
    ]
    if any(x["score"] is None for x in out):
        gaps.append(gap("historical_scores[].score", "not_enough_data", "A snapshot without a health score."))
        gaps.append(
            gap("historical_scores[].risk_level", "not_enough_data", "A snapshot without a health score.")
        )
    return out


def decision_maker_detractor(client: Client, as_of: dt.date, lookback: int) -> dict | None:
    """The latest NPS ≤ 6 from a decision maker or executive sponsor in the satisfaction window (at least 90
    days), or None (also while the feedback app is not installed)."""
    survey = optional_model("feedback.SurveyResponse", "contact", "score", "responded_at")
    if survey is None:
        return None
    since = day_bounds(as_of - D(days=max(lookback, 90) - 1))[0]
    row = (
        survey.objects.filter(
            client=client,
            survey_type="nps",
            score__lte=6,
            responded_at__gte=since,
            responded_at__lt=day_bounds(as_of)[1],
            contact__role__in=DECISION_MAKER_ROLES,
        )
        .order_by("-responded_at")
        .values("score", "responded_at", "contact__role", "respondent_email")
        .first()
    )
    if not row:
        return None
    return {
        "score": float(row["score"]),
        "responded_at": row["responded_at"].isoformat(),
        "role": row["contact__role"],
        "respondent_email": row["respondent_email"],
    }


def predicted_scores(client: Client, as_of: dt.date, gaps: list) -> list[dict] | None:
    """RULES §4.7 projection: OLS over the official daily snapshots of the last 90 days (≥ 4 spanning ≥ 14 days),
    12 weekly points clamped 0–100 with a 95 % band ± 1.96 × residual standard error."""
    rows = list(
        HealthSnapshot.objects.filter(
            client=client, as_of__gt=as_of - D(days=90), as_of__lte=as_of, health_score__isnull=False
        )
        .order_by("as_of")
        .values_list("as_of", "health_score")
    )
    if len(rows) < 4 or (rows[-1][0] - rows[0][0]).days < 14:
        gaps.append(
            gap(
                "predicted_scores", "insufficient_history", "Needs ≥ 4 official snapshots spanning ≥ 14 days."
            )
        )
        return None
    fit = ols([float((d - as_of).days) for d, _ in rows], [float(s) for _, s in rows])
    if fit is None:
        gaps.append(gap("predicted_scores", "insufficient_history", "Snapshots do not allow a fit."))
        return None
    return [{"week": week, **projected_point(fit, 7 * week)} for week in range(1, 13)]
