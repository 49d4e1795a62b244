"""calculate_health_score and the at-risk report with a REALLY trained churn model (RULES §5.2).

Regression (issue 8, defect 1): the trained model's drivers are ``{feature, value, standardised_value,
contribution, direction}``, not the heuristic's ``{component, risk_contribution}``; reading ``d["component"]``
crashed the tool (INTERNAL) and left ``top_drivers: [None, …]`` in the at-risk report. The model here is trained
by ``churn_model_train`` on the synthetic history of tests/health/test_churn_model.py, so its coefficients are
the non-zero numbers training produces."""

import pytest

from cs_project.core.context import Actor
from cs_project.core.stats import r
from health import churn_model as cm
from health import services
from health.models import ChurnPrediction, HealthSnapshot
from tests.customers.factories import ClientFactory, ContractFactory
from tests.health.factories import client_day, user_day
from tests.health.test_churn_model import ACTOR, AS_OF, _build_history

from .conftest import days_ago, engagement

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained_model():
    _build_history("usage")
    model = cm.churn_model_train(as_of=AS_OF, actor=ACTOR)
    assert model.status == "active", model.notes
    assert sum(1 for c in model.coefficients if c != 0) >= 5
    return model


@pytest.fixture
def weak_client():
    """1 active user of 20 seats, last engagement 40 days ago: a low (high-risk) score, so the client is on
    the at-risk report whatever its churn level."""
    c = ClientFactory(client_id="acme", tier="standard", contract_value=40000)
    ContractFactory(client=c, included_users=20, start_date=days_ago(400), end_date=days_ago(-200))
    user_day(c, "u1", days_ago(3))
    client_day(c, days_ago(3), active_users=1)
    for n in (40, 41, 42, 43):
        client_day(c, days_ago(n), active_users=4)
    engagement(c, days_ago(40))
    return c


def _published(driver: dict) -> dict:
    return {
        "feature": driver["feature"],
        "value": r(driver["value"], 4),
        "standardised_value": r(driver["standardised_value"], 4),
        "contribution": r(driver["contribution"], 4),
        "direction": driver["direction"],
    }


def test_calculate_health_score_publishes_the_trained_models_drivers(trained_model, weak_client, call):
    out = call("calculate_health_score", client_id="acme", scoring_model="ml_predictive")
    assert out["status"] == "success", out
    churn = out["churn_prediction"]
    assert churn["method"] == trained_model.version and churn["calibrated"] is True
    assert churn["horizon_days"] == 90
    stored = ChurnPrediction.objects.get(client=weak_client)
    assert stored.method == trained_model.version and stored.drivers
    assert churn["drivers"] == [_published(d) for d in stored.drivers]
    assert all(d["contribution"] != 0 for d in churn["drivers"])
    assert {d["direction"] for d in churn["drivers"]} <= {"increases_risk", "decreases_risk"}
    assert not any(g["reason"] == "no_active_churn_model" for g in out["data_gaps"])


def test_at_risk_report_names_the_trained_models_top_drivers(trained_model, weak_client, call, T):
    """The nightly job stores the trained model's prediction; the report lists its top 3 feature names."""
    outcome = services.health_chunk_score(client_ids=[weak_client.pk], as_of=T, actor=Actor.system("test"))
    assert outcome["processed"] == 1, outcome
    assert HealthSnapshot.objects.get(client=weak_client, as_of=T).risk_level in ("high", "critical")
    out = call("generate_health_reports", report_type="at_risk")
    assert out["status"] == "success", out
    row = next(x for x in out["content"]["clients"] if x["client_id"] == "acme")
    stored = ChurnPrediction.objects.get(client=weak_client)
    assert row["top_drivers"] == [d["feature"] for d in stored.drivers[:3]]
    assert None not in row["top_drivers"] and len(row["top_drivers"]) == 3
