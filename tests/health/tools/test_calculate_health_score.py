"""calculate_health_score: official snapshot vs preview (RULES §4.6), known answers, alerts, validation."""

import pytest

from customers.models import Alert, AuditEvent, Client, TimelineEvent
from health.models import ChurnPrediction, HealthSnapshot
from tests.customers.factories import ClientFactory, ContractFactory
from tests.health.factories import FeatureFactory, client_day, feature_day, user_day

from .conftest import days_ago, engagement

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """usage: MAU 4 / 10 seats → U1 50; core 1 of 2 → U2 71.43; mean DAU 0.4 / MAU 4 → U3 50; AUD 12 vs 16 → U4 50
    → usage 55.357. engagement 2 days ago → 85. support: no ticket → 100. satisfaction, payment missing.
    H = (0.35·55.357 + 0.25·85 + 0.15·100) / 0.75 = 74.17 → 74 (medium)."""
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


def test_official_snapshot_known_answer(world, call, T):
    out = call("calculate_health_score", client_id="acme")
    assert out["status"] == "success", out
    assert out["persisted"] is True
    assert out["as_of"] == T.isoformat()
    assert out["current_health_score"] == 74
    assert out["risk_level"] == "medium"
    assert out["low_confidence"] is False
    cs = out["component_scores"]
    assert (cs["usage"], cs["engagement"], cs["support"], cs["satisfaction"], cs["payment"]) == (
        55.4,
        85.0,
        100.0,
        None,
        None,
    )
    assert cs["missing_components"] == ["satisfaction", "payment"]
    assert cs["weights"]["usage_weight"] == 0.35
    assert cs["effective_weights"] == {
        "usage_weight": 0.4667,
        "engagement_weight": 0.3333,
        "support_weight": 0.2,
        "satisfaction_weight": None,
        "payment_weight": None,
    }
    assert out["health_metrics"]["usage"]["u1"] == 50.0
    assert out["health_metrics"]["usage"]["u2"] == 71.4286
    assert out["churn_prediction"]["probability"] == 0.26
    assert out["churn_prediction"]["risk_level"] == "medium"
    assert out["churn_prediction"]["method"] == "churn-heuristic-v1"
    assert out["health_trend"] is None  # no snapshot 7–14 days back
    assert {g["reason"] for g in out["data_gaps"]} >= {
        "no_survey_responses",
        "no_invoices",
        "insufficient_history",
    }
    assert out["historical_scores"] == [{"as_of": T.isoformat(), "score": 74, "risk_level": "medium"}]
    assert out["predicted_scores"] is None
    assert out["contributing_factors"]["positive_factors"] == [
        {"component": "engagement", "score": 85.0},
        {"component": "support", "score": 100.0},
    ]
    assert out["contributing_factors"]["negative_factors"] == [{"component": "usage", "score": 55.4}]
    rule_ids = [f["rule_id"] for f in out["recommended_actions"]]
    assert rule_ids == ["HLT-06", "HLT-01", "HLT-05", "HLT-05"]  # HLT-06 gain 13.83 → high
    assert [f["rule_id"] for f in out["improvement_opportunities"]] == ["HLT-06"]
    assert (
        out["improvement_opportunities"][0]["evidence"]["potential_gain"] == 13.83
    )  # (85 − 55.357) × 0.4667
    assert out["automated_alerts"] == []
    # stored: one snapshot, client cache, churn prediction, audit + timeline
    snap = HealthSnapshot.objects.get(client=world)
    assert (snap.as_of, snap.health_score, snap.risk_level) == (T, 74, "medium")
    world.refresh_from_db()
    assert (world.health_score, world.risk_level) == (74, "medium")
    assert ChurnPrediction.objects.filter(client=world, as_of=T).count() == 1
    event = AuditEvent.objects.get(event_id=out["audit_event_id"])
    assert event.action == "health.snapshot.calculated"
    assert TimelineEvent.objects.filter(client=world, event_type="health", audit_event=event).count() == 1


def test_repeat_is_idempotent(world, call):
    first = call("calculate_health_score", client_id="acme")
    second = call("calculate_health_score", client_id="acme")
    assert second["current_health_score"] == first["current_health_score"] == 74
    assert second["persisted"] is True
    assert second["audit_event_id"] is None  # nothing changed: no audit, no timeline
    assert HealthSnapshot.objects.filter(client=world).count() == 1
    assert AuditEvent.objects.filter(action="health.snapshot.calculated").count() == 1


def test_custom_weights_are_a_preview(world, call):
    weights = {
        "usage_weight": 0.5,
        "engagement_weight": 0.5,
        "support_weight": 0.0,
        "satisfaction_weight": 0.0,
        "payment_weight": 0.0,
    }
    out = call("calculate_health_score", client_id="acme", scoring_model="custom", component_weights=weights)
    assert out["status"] == "success", out
    assert out["persisted"] is False
    assert out["current_health_score"] == 70  # 0.5 · 55.357 + 0.5 · 85 = 70.18
    assert out["message"] == "Preview (custom weights): nothing stored."
    assert out["audit_event_id"] is None
    assert HealthSnapshot.objects.count() == 0
    assert AuditEvent.objects.filter(action="health.snapshot.calculated").count() == 0
    world.refresh_from_db()
    assert world.health_score is None


def test_other_lookback_is_a_preview(world, call):
    out = call("calculate_health_score", client_id="acme", lookback_period_days=14)
    assert out["persisted"] is False
    assert HealthSnapshot.objects.count() == 0


def test_inactive_client_is_a_preview(world, call):
    Client.objects.filter(pk=world.pk).update(status="inactive")
    out = call("calculate_health_score", client_id="acme")
    assert out["persisted"] is False
    assert out["current_health_score"] == 74
    assert HealthSnapshot.objects.count() == 0


def test_risk_threshold_raises_alert(world, call):
    out = call("calculate_health_score", client_id="acme", risk_threshold=80)
    alerts = out["automated_alerts"]
    assert [(a["reason"], a["priority"], a["created"]) for a in alerts] == [
        ("health_below_threshold", "high", True)
    ]
    assert Alert.objects.get(client=world, reason="health_below_threshold").rule_id == "HLT-03"
    hlt03 = [f for f in out["recommended_actions"] if f["rule_id"] == "HLT-03"]
    assert hlt03[0]["evidence"] == {"health_score": 74, "threshold": 80.0}
    again = call("calculate_health_score", client_id="acme", risk_threshold=80)
    assert again["automated_alerts"][0]["created"] is False
    assert Alert.objects.get(client=world, reason="health_below_threshold").occurrence_count == 1


def test_ml_predictive_without_model_uses_heuristic(world, call):
    out = call("calculate_health_score", client_id="acme", scoring_model="ml_predictive")
    assert out["churn_prediction"]["method"] == "churn-heuristic-v1"
    assert any(g["reason"] == "no_active_churn_model" for g in out["data_gaps"])


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"scoring_model": "neural"}, "scoring_model"),
        ({"lookback_period_days": 0}, "lookback_period_days"),
        ({"risk_threshold": 101}, "risk_threshold"),
        ({"scoring_model": "custom"}, "component_weights"),
        (
            {
                "component_weights": {
                    "usage_weight": 0.5,
                    "engagement_weight": 0.5,
                    "support_weight": 0.5,
                    "satisfaction_weight": 0,
                    "payment_weight": 0,
                }
            },
            "component_weights",
        ),
        ({"component_weights": {"usage_weight": 1.0}}, "component_weights"),
        ({"client_id": "bad id!"}, "client_id"),
    ],
)
def test_validation_errors(world, call, args, field):
    out = call("calculate_health_score", **{"client_id": "acme", **args})
    assert out["status"] == "failed"
    assert out["error"]["code"] == "INVALID_PARAMETER"
    assert out["error"]["field"] == field


def test_unknown_client(call, db):
    out = call("calculate_health_score", client_id="nobody")
    assert out["error"] == {"code": "NOT_FOUND", "message": out["error"]["message"], "field": "client_id"}


def test_not_enough_data_gives_null_score(call, T, db):
    ClientFactory(client_id="blank")
    out = call("calculate_health_score", client_id="blank")
    assert out["status"] == "success", out
    assert out["current_health_score"] is None and out["risk_level"] is None
    assert out["component_scores"]["support"] == 100.0  # the only available component (coverage 0.15)
    assert out["churn_prediction"]["probability"] is None
    assert any(
        g["field"] == "current_health_score" and g["reason"] == "not_enough_data" for g in out["data_gaps"]
    )
    assert HealthSnapshot.objects.get(client__client_id="blank").health_score is None
