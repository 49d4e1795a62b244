"""calculate_health_score and the overview's explanation: every null of the score and its explanation carries
a data gap (TOOLS §0.6), built on the read side from the engine's (or the stored snapshot's) own gaps."""

import pytest

from tests.customers.factories import ClientFactory, ContractFactory
from tests.health.factories import FeatureFactory, client_day, feature_day, user_day

from .conftest import days_ago, engagement

pytestmark = pytest.mark.django_db

WINDOW = "No official snapshot 7–14 days back."
NO_SURVEY = "No NPS or CSAT response in the window."
NO_INVOICE = "No invoice and no manual payment status."


@pytest.fixture
def world():
    """As in test_calculate_health_score: usage 55.357, engagement 85, support 100, satisfaction and payment
    missing → 74; no snapshot 7–14 days back."""
    c = ClientFactory(client_id="acme", tier="standard", contract_value=40000)
    ContractFactory(client=c, included_users=10, start_date=days_ago(400), end_date=days_ago(-200))
    FeatureFactory(feature_key="core_a", is_core=True)
    FeatureFactory(feature_key="core_b", is_core=True)
    for i, user in enumerate(["u1", "u2", "u3", "u4"]):
        user_day(c, user, days_ago(2 + i))
    for n in (2, 3, 4, 5):
        client_day(c, days_ago(n), active_users=3)
    for n in (40, 41, 42, 43):
        client_day(c, days_ago(n), active_users=4)
    feature_day(c, "core_a", days_ago(2))
    engagement(c, days_ago(2))
    return c


def _explanation_gaps(result: dict) -> list[tuple[str, str, str]]:
    return [
        (g["field"], g["reason"], g["detail"])
        for g in result["data_gaps"]
        if g["field"].startswith("explanation") or g["field"] == "score_change"
    ]


EXPECTED = [
    ("explanation.comparison", "insufficient_history", WINDOW),
    ("explanation.score_change", "insufficient_history", WINDOW),
    ("explanation.components[].previous_score", "insufficient_history", WINDOW),
    ("explanation.components[].previous_contribution", "insufficient_history", WINDOW),
    ("explanation.components[].contribution_change", "insufficient_history", WINDOW),
    ("explanation.components[3].score", "no_survey_responses", NO_SURVEY),
    ("explanation.components[3].effective_weight", "no_survey_responses", NO_SURVEY),
    ("explanation.components[3].contribution", "no_survey_responses", NO_SURVEY),
    ("explanation.components[4].score", "no_invoices", NO_INVOICE),
    ("explanation.components[4].effective_weight", "no_invoices", NO_INVOICE),
    ("explanation.components[4].contribution", "no_invoices", NO_INVOICE),
]


def test_calculate_without_comparison_names_score_change_and_explanation(world, call):
    out = call("calculate_health_score", client_id="acme")
    assert out["status"] == "success", out
    assert (out["current_health_score"], out["score_change"], out["explanation"]["comparison"]) == (
        74,
        None,
        None,
    )
    assert _explanation_gaps(out) == [
        ("score_change", "insufficient_history", WINDOW),
        *EXPECTED[:8],
        ("explanation.components[3].inputs", "no_survey_responses", NO_SURVEY),
        *EXPECTED[8:],
        ("explanation.components[4].inputs", "no_invoices", NO_INVOICE),
    ]


def test_overview_explanation_gaps_come_from_the_stored_snapshot(world, call):
    assert call("calculate_health_score", client_id="acme")["persisted"] is True
    overview = call("get_client_overview", client_id="acme")
    assert overview["status"] == "success", overview
    assert overview["explanation"]["comparison"] is None
    # the stored explanation has no inputs (they live once, in HealthSnapshot.inputs), hence no inputs gap
    assert _explanation_gaps(overview) == EXPECTED
