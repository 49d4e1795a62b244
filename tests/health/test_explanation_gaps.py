"""Data gaps of the explanation payload (RULES §4.6, TOOLS §0.6): known answers of the pure
``health.scoring_formulas.explanation_gaps`` on payloads built by the engine's own ``explanation``."""

import datetime as dt
from types import SimpleNamespace

from health.common import gap
from health.scoring_formulas import combine, explanation, explanation_gaps

WEIGHTS = {"usage": 0.35, "engagement": 0.25, "support": 0.15, "satisfaction": 0.15, "payment": 0.10}
AS_OF = dt.date(2026, 3, 8)
CARD = SimpleNamespace(id=1, name="Default")
#: usage present (U4 null: no active user-days in P), satisfaction missing (no survey), the rest present
SCORES = {"usage": 62.5, "engagement": 85.0, "support": 100.0, "satisfaction": None, "payment": 90.0}
INPUTS = {
    "usage": {"mau": 14, "seats": 20, "u1": 87.5, "u4": None},
    "engagement": {"days_since": 2},
    "support": {"tickets": 0},
    "satisfaction": {"nps_responses": 0, "nps_based": None, "csat_based": None},
    "payment": {"invoices": 3, "oldest_unpaid_due": None},
}
ENGINE_GAPS = [
    gap("health_metrics.usage.u4", "insufficient_history", "No active user-days in P."),
    gap(
        "health_metrics.satisfaction.nps_based", "no_survey_responses", "No NPS response in the last 90 days."
    ),
    gap("component_scores.satisfaction", "no_survey_responses", "No NPS or CSAT response in the window."),
]
NO_SURVEY = "No NPS or CSAT response in the window."


def _payload(comparison=None, score_change=None, card=CARD):
    return explanation(
        card=card,
        weights=WEIGHTS,
        combo=combine(SCORES, WEIGHTS),
        scores=SCORES,
        inputs=INPUTS,
        comparison=comparison,
        as_of=AS_OF,
        score_change=score_change,
    )


def test_no_comparison_snapshot_is_insufficient_history_once_per_key():
    gaps = explanation_gaps(_payload(), engine_gaps=ENGINE_GAPS)
    window = "No official snapshot 7–14 days back."
    assert gaps == [
        gap("explanation.comparison", "insufficient_history", window),
        gap("explanation.score_change", "insufficient_history", window),
        gap("explanation.components[].previous_score", "insufficient_history", window),
        gap("explanation.components[].previous_contribution", "insufficient_history", window),
        gap("explanation.components[].contribution_change", "insufficient_history", window),
        # usage (index 0): the null input takes the engine's reason for health_metrics.usage.u4
        gap("explanation.components[0].inputs.u4", "insufficient_history", "No active user-days in P."),
        # satisfaction (index 3) is missing: its score, weight, contribution and inputs, for one reason
        gap("explanation.components[3].score", "no_survey_responses", NO_SURVEY),
        gap("explanation.components[3].effective_weight", "no_survey_responses", NO_SURVEY),
        gap("explanation.components[3].contribution", "no_survey_responses", NO_SURVEY),
        gap("explanation.components[3].inputs", "no_survey_responses", NO_SURVEY),
    ]


def test_a_component_missing_in_the_comparison_snapshot_is_named_where_it_occurs(settings):
    settings.CS_RULES = {**settings.CS_RULES, "health_trend_days": 10}
    comparison = {
        "as_of": dt.date(2026, 2, 26),
        "score": 80,
        "risk_level": "low",
        "effective_weights": {"usage": 0.4118, "engagement": 0.2941, "support": 0.1765, "payment": 0.1176},
        "scores": {
            "usage": 70.0,
            "engagement": 85.0,
            "support": 100.0,
            "satisfaction": None,
            "payment": 90.0,
        },
    }
    payload = _payload(comparison=comparison, score_change=-4)
    assert payload["comparison"] == {"as_of": "2026-02-26", "score": 80, "days_ago": 10}
    gaps = explanation_gaps(payload, engine_gaps=ENGINE_GAPS)
    then = "satisfaction was missing in the comparison snapshot of 2026-02-26."
    assert gaps == [
        gap("explanation.components[0].inputs.u4", "insufficient_history", "No active user-days in P."),
        gap("explanation.components[3].score", "no_survey_responses", NO_SURVEY),
        gap("explanation.components[3].effective_weight", "no_survey_responses", NO_SURVEY),
        gap("explanation.components[3].contribution", "no_survey_responses", NO_SURVEY),
        gap("explanation.components[3].inputs", "no_survey_responses", NO_SURVEY),
        gap("explanation.components[3].previous_score", "not_enough_data", then),
        gap("explanation.components[3].previous_contribution", "not_enough_data", then),
        gap("explanation.components[3].contribution_change", "not_enough_data", then),
    ]


def test_no_score_with_a_comparison_and_custom_weights():
    comparison = {
        "as_of": dt.date(2026, 2, 28),
        "score": 80,
        "risk_level": "low",
        "effective_weights": {c: w / 0.85 for c, w in WEIGHTS.items() if c != "satisfaction"},
        "scores": {**SCORES, "usage": 70.0},
    }
    gaps = explanation_gaps(_payload(comparison=comparison, score_change=None, card=None), prefix="x")
    assert gaps[:2] == [
        gap("x.scorecard", "not_applicable", "Custom weights: no scorecard was used."),
        gap("x.score_change", "not_enough_data", "No health score (coverage below 0.50)."),
    ]
    # without the engine's gaps (a stored snapshot), a missing component has the generic reason; u4 has no gap
    assert gaps[2] == gap("x.components[3].score", "not_enough_data", "satisfaction could not be computed.")
    assert not any(g["field"].endswith("inputs.u4") for g in gaps)


def test_stored_and_partial_payloads():
    assert explanation_gaps(None) == []
    assert explanation_gaps({}) == []
    # an older stored payload holding only the drivers has no null, hence no gap
    assert explanation_gaps({"top_drivers": [{"component": "usage", "contribution_change": -2.1}]}) == []
