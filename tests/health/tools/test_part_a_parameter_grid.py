"""Every allowed value of the enum and boolean parameters of the four part-A health tools answers a success (or a
named INVALID_PARAMETER), never INTERNAL — the grid that found period "qtd" / "ytd" crashing the reports."""

import itertools

import pytest

from health.models import ChurnPrediction
from health.rollups import rebuild_range
from tests.customers.factories import ClientFactory, ContractFactory
from tests.health.factories import FeatureFactory, UsageEventFactory

from .conftest import at, days_ago, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(T):
    c1 = ClientFactory(client_id="c1", tier="standard", contract_value=100000, renewal_date=days_ago(-30))
    c2 = ClientFactory(client_id="c2", tier="standard", contract_value=50000)
    ContractFactory(client=c1, included_users=10, start_date=days_ago(400), end_date=days_ago(-30))
    FeatureFactory(feature_key="reports", is_core=True)
    for n in range(0, 400, 9):
        snapshot(c1, days_ago(n), 50 + n % 40, usage=50 + n % 40, engagement=60, support=100)
        snapshot(c2, days_ago(n), 80 - n % 30, usage=None, engagement=70, support=100)
    ChurnPrediction.objects.create(
        client=c1,
        as_of=T,
        probability=0.6,
        risk_level="high",
        method="churn-heuristic-v1",
        drivers=[{"component": "usage", "risk_contribution": 20.0}],
        created_at=c1.created_at,
    )
    for n in (1, 2, 5, 20, 40):
        UsageEventFactory(
            client=c1, user_id="u1", feature_key="reports", occurred_at=at(days_ago(n), 9 + n % 5)
        )
    rebuild_range([c1.pk], days_ago(60), days_ago(0))
    return c1, c2


def _ok(out):
    assert out["status"] == "success" or out["error"]["code"] == "INVALID_PARAMETER", out


def test_reports_grid(world, call):
    for report_type, period, fmt in itertools.product(
        ["portfolio", "account", "at_risk", "movers"],
        ["7d", "30d", "90d", "qtd", "ytd"],
        ["json", "markdown", "csv"],
    ):
        args = {"report_type": report_type, "period": period, "format": fmt}
        if report_type == "account":
            args["client_id"] = "c1"
        out = call("generate_health_reports", **args)
        assert out["status"] == "success", (args, out)


def test_trends_grid(world, call):
    for client_id, granularity, forecast, components in itertools.product(
        [None, "c1"], ["daily", "weekly", "monthly"], [True, False], [True, False]
    ):
        for segment_by in [None] if client_id else [None, "tier", "value_tier", "lifecycle_stage", "csm"]:
            args = {
                "client_id": client_id,
                "granularity": granularity,
                "include_forecast": forecast,
                "include_components": components,
                "segment_by": segment_by,
                "lookback_days": 730 if granularity == "monthly" else 90,
            }
            out = call("analyze_health_trends", **args)
            assert out["status"] == "success", (args, out)


def test_usage_grid(world, call, T):
    for granularity, start in itertools.product(["hourly", "daily", "weekly", "monthly"], [7, 45, 300]):
        for flag in (True, False):
            args = {
                "client_id": "c1",
                "period_start": days_ago(start).isoformat(),
                "period_end": T.isoformat(),
                "granularity": granularity,
                "include_feature_breakdown": flag,
                "include_user_segmentation": flag,
                "benchmark_comparison": flag,
            }
            out = call("track_usage_engagement", **args)
            if granularity == "hourly" and start > 7:
                assert out["error"] == {
                    "code": "INVALID_PARAMETER",
                    "message": out["error"]["message"],
                    "field": "granularity",
                }
            else:
                assert out["status"] == "success", (args, out)


def test_score_grid(world, call):
    weights = {
        "usage_weight": 0.4,
        "engagement_weight": 0.2,
        "support_weight": 0.2,
        "satisfaction_weight": 0.1,
        "payment_weight": 0.1,
    }
    for model, predictions in itertools.product(
        ["weighted_composite", "ml_predictive", "custom"], [True, False]
    ):
        args = {"client_id": "c2", "scoring_model": model, "include_predictions": predictions}
        if model == "custom":
            args["component_weights"] = weights
        out = call("calculate_health_score", **args)
        assert out["status"] == "success", (args, out)
