"""Health scoring (RULES §4–§5.1): the chunk scorer, run set-based over a chunk of clients.

``score_chunk(client_ids, as_of)`` reads every component's inputs for the whole chunk with a fixed number of
aggregate queries (:mod:`health.scoring_inputs`), does the arithmetic per client in memory with the pure formulas
(:mod:`health.scoring_formulas`), lets an active trained churn model replace the heuristic
(:mod:`health.churn_data`) and, for official calculations, bulk-upserts the day's snapshots and churn predictions
and bulk-updates the Client cache (:mod:`health.scoring_persist`). The number of queries does not depend on the
chunk size. ``score_client`` is the same function called with one id.

The formula names (``usage_score``, ``combine``, ``risk_band``, ``trend_label``, ``churn_heuristic``,
``validate_weights``, ``snapshot_explanation`` …) are re-exported here so that ``health.scoring.<name>`` keeps
working; their one home is :mod:`health.scoring_formulas` (the bands': :mod:`customers.rules`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from cs_project.core.errors import NotFound
from customers.choices import AccountStatus
from customers.models import Client

from .churn_data import apply_active_model
from .common import gap
from .models import HealthScorecard
from .rollups import ensure_fresh, local_date
from .scoring_formulas import (
    OFFICIAL_LOOKBACK_DAYS,
    churn_heuristic,
    churn_level,
    combine,
    engagement_score,
    explanation,
    payment_score,
    payment_status_from_invoices,
    risk_band,
    rules,
    satisfaction_score,
    select_scorecard,
    snapshot_explanation,
    stored_explanation,
    support_score,
    trend_gap_detail,
    trend_label,
    usage_score,
    validate_weights,
)
from .scoring_inputs import Window, comparisons, component_inputs, gather_inputs
from .scoring_persist import persist_results

CLIENT_FIELDS = (
    "id",
    "client_id",
    "client_name",
    "tier",
    "value_tier",
    "status",
    "lifecycle_stage",
    "contract_end_date",
    "last_engagement_date",
    "health_score",
    "health_trend",
    "risk_level",
    "health_as_of",
)


def score_chunk(
    client_ids: list[int],
    as_of: dt.date | None = None,
    *,
    weights: dict[str, float] | None = None,
    lookback_days: int = OFFICIAL_LOOKBACK_DAYS,
    persist: bool = True,
    explain_inputs: bool = True,
) -> dict[int, dict[str, Any]]:
    """Score a chunk of clients (by pk). Official results (scorecard weights, 30-day lookback, active client,
    ``persist``) are stored: one snapshot and churn prediction per client per day (a re-run replaces them),
    and the Client cache is updated. Returns ``{client_pk: result}``.

    ``explain_inputs=False`` (the nightly job) leaves the rounded inputs out of each result's explanation: the
    snapshot stores them once, in ``inputs``, and :func:`snapshot_explanation` re-attaches them."""
    as_of = as_of or local_date(timezone.now())
    ids = sorted(set(client_ids))
    if not ids:
        return {}
    ensure_fresh(ids)
    win = Window(as_of=as_of, days=lookback_days)
    clients = list(Client.objects.filter(id__any=ids).values(*CLIENT_FIELDS))
    scorecards = [] if weights else list(HealthScorecard.objects.filter(is_active=True).order_by("id"))
    data = gather_inputs(ids, win)
    comparisons_by_pk = comparisons(ids, as_of)
    calculated_at = timezone.now()

    results: dict[int, dict[str, Any]] = {}
    for client in clients:
        card = None if weights else select_scorecard(client, scorecards)
        base = dict(weights) if weights else card.weights()
        scores, inputs, gaps = component_inputs(client, data, win)
        combo = combine(scores, base)
        health = combo["health_score"]
        for c in combo["missing_components"]:
            if not any(g["field"] == f"component_scores.{c}" for g in gaps):
                gaps.append(gap(f"component_scores.{c}", "not_enough_data", f"{c} could not be computed."))
        if health is None:
            gaps.append(
                gap(
                    "current_health_score",
                    "not_enough_data",
                    f"Coverage {combo['coverage']:.2f} is below {rules()['health_min_coverage']:.2f}.",
                )
            )
        comparison = comparisons_by_pk.get(client["id"])
        delta = health - comparison["score"] if (comparison and health is not None) else None
        trend = trend_label(delta)
        if comparison is None:
            gaps.append(gap("health_trend", "insufficient_history", trend_gap_detail()))
        churn = churn_heuristic(
            health,
            scores,
            combo["effective_weights"],
            combo["coverage"],
            (data["contracts"].get(client["id"]) or {}).get("end_date") or client["contract_end_date"],
        )
        official = (
            persist
            and weights is None
            and lookback_days == OFFICIAL_LOOKBACK_DAYS
            and client["status"] == AccountStatus.ACTIVE
        )
        results[client["id"]] = {
            "client_pk": client["id"],
            "client_id": client["client_id"],
            "client_name": client["client_name"],
            "as_of": as_of,
            "persisted": official,
            "health_score": health,
            "raw_score": combo["raw_score"],
            "risk_level": risk_band(health),
            "low_confidence": combo["low_confidence"],
            "coverage": combo["coverage"],
            "components": scores,
            "weights": base,
            "effective_weights": combo["effective_weights"],
            "missing_components": combo["missing_components"],
            "inputs": inputs,
            "trend": trend,
            "score_change": delta,
            "comparison": comparison,
            "scorecard_id": card.id if card else None,
            "scorecard_name": card.name if card else None,
            "churn": churn,
            "explanation": explanation(
                card=card,
                weights=base,
                combo=combo,
                scores=scores,
                inputs=inputs,
                comparison=comparison,
                as_of=as_of,
                score_change=delta,
                with_inputs=explain_inputs,
            ),
            "data_gaps": gaps,
            "previous": {
                "health_score": client["health_score"],
                "risk_level": client["risk_level"] or None,
                "health_as_of": client["health_as_of"],
            },
            "calculated_at": calculated_at,
            "last_engagement_date": inputs["engagement"]["last_engagement_date"],
        }
    apply_active_model(client_ids=ids, as_of=as_of, results=results)
    persist_results([r for r in results.values() if r["persisted"]], clients, calculated_at)
    return results


def score_client(
    client_id: str | int,
    as_of: dt.date | None = None,
    *,
    weights: dict[str, float] | None = None,
    lookback_days: int = OFFICIAL_LOOKBACK_DAYS,
    persist: bool = True,
) -> dict[str, Any]:
    """Score one client (business id or pk) through the chunk scorer: one home per formula."""
    if isinstance(client_id, int):
        pk = client_id
    else:
        pk = Client.objects.filter(client_id=client_id).values_list("id", flat=True).first()
    if pk is None:
        raise NotFound(f"Client {client_id!r} does not exist.", field="client_id")
    result = score_chunk([pk], as_of, weights=weights, lookback_days=lookback_days, persist=persist).get(pk)
    if result is None:
        raise NotFound(f"Client {client_id!r} does not exist.", field="client_id")
    return result


__all__ = [
    "CLIENT_FIELDS",
    "OFFICIAL_LOOKBACK_DAYS",
    "Window",
    "churn_heuristic",
    "churn_level",
    "combine",
    "engagement_score",
    "gather_inputs",
    "payment_score",
    "payment_status_from_invoices",
    "risk_band",
    "rules",
    "satisfaction_score",
    "score_chunk",
    "score_client",
    "select_scorecard",
    "snapshot_explanation",
    "stored_explanation",
    "support_score",
    "trend_label",
    "usage_score",
    "validate_weights",
]
