"""analyze_health_trends: client series, OLS forecast, portfolio movers and band migration, segments."""

import pytest

from tests.conftest import audit_lock_queries
from tests.customers.factories import ClientFactory

from .conftest import days_ago, snapshot

pytestmark = pytest.mark.django_db


def test_client_daily_series_and_forecast(call, T):
    c = ClientFactory(client_id="acme")
    for i, n in enumerate(range(6, -1, -1)):  # T-6 … T: 60, 62, …, 72 (exact line, slope 2 per day)
        snapshot(c, days_ago(n), 60 + 2 * i, usage=50 + 2 * i, engagement=75, support=100)
    out = call("analyze_health_trends", client_id="acme", lookback_days=7, granularity="daily")
    assert out["status"] == "success", out
    assert [x["score"] for x in out["series"]] == [60, 62, 64, 66, 68, 70, 72]
    assert out["series"][0]["risk_level"] == "high" and out["series"][-1]["risk_level"] == "medium"
    assert out["series"][-1]["components"]["usage"] == 62.0
    f = out["forecast"]
    assert f["method"] == "ols_linear" and f["n_points"] == 7 and f["r2"] == 1.0
    assert [(p["score"], p["lower"], p["upper"]) for p in f["points"]] == [
        (74.0, 74.0, 74.0),
        (76.0, 76.0, 76.0),
        (78.0, 78.0, 78.0),
        (80.0, 80.0, 80.0),
    ]
    assert f["points"][0]["bucket_start"] == days_ago(-1).isoformat()
    assert out["component_trends"]["usage"] == {
        "start": 50.0,
        "end": 62.0,
        "change": 12.0,
        "direction": "improving",
    }
    assert out["component_trends"]["engagement"]["direction"] == "stable"
    assert out["band_migrations"] == {"high->medium": 1}
    assert out["movers"] is None
    assert out["summary"] == {
        "start_value": 60.0,
        "end_value": 72.0,
        "change": 12.0,
        "direction": "improving",
    }


def test_portfolio_movers_and_migrations(call, T):
    a = ClientFactory(client_id="a", tier="enterprise")
    b = ClientFactory(client_id="b", tier="starter")
    ClientFactory(client_id="z", status="churned")
    snapshot(a, days_ago(6), 70)
    snapshot(a, T, 80)
    snapshot(b, days_ago(6), 60)
    snapshot(b, days_ago(5), 58)
    snapshot(b, T, 50)
    out = call("analyze_health_trends", lookback_days=7, granularity="daily", segment_by="tier")
    assert out["status"] == "success", out
    assert [(x["avg_score"], x["median_score"], x["clients_scored"]) for x in out["series"]] == [
        (65.0, 65.0, 2),
        (58.0, 58.0, 1),
        (65.0, 65.0, 2),
    ]
    assert out["series"][0]["band_distribution"] == {"low": 0, "medium": 1, "high": 1, "critical": 0}
    assert out["band_migrations"] == {"medium->low": 1, "high->high": 1}
    assert [(m["client_id"], m["change"]) for m in out["movers"]["improving"]] == [("a", 10)]
    assert [(m["client_id"], m["change"]) for m in out["movers"]["declining"]] == [("b", -10)]
    assert out["forecast"] is None
    assert any(g["field"] == "forecast" and g["reason"] == "insufficient_history" for g in out["data_gaps"])
    assert sorted(out["segments"]) == ["enterprise", "starter"]
    assert [x["avg_score"] for x in out["segments"]["starter"]] == [60.0, 58.0, 50.0]
    assert out["summary"]["direction"] == "stable"


def test_weekly_bucket_takes_last_snapshot(call, T):
    c = ClientFactory(client_id="acme")
    snapshot(c, T, 90)
    out = call("analyze_health_trends", client_id="acme", granularity="weekly", lookback_days=7)
    assert out["series"][-1]["score"] == 90


@pytest.mark.parametrize(
    ("args", "field", "code"),
    [
        ({"client_id": "acme", "segment_by": "tier"}, "segment_by", "INVALID_PARAMETER"),
        ({"lookback_days": 6}, "lookback_days", "INVALID_PARAMETER"),
        ({"forecast_periods": 13}, "forecast_periods", "INVALID_PARAMETER"),
        ({"granularity": "hourly"}, "granularity", "INVALID_PARAMETER"),
        ({"client_id": "nobody"}, "client_id", "NOT_FOUND"),
    ],
)
def test_validation(call, db, args, field, code):
    ClientFactory(client_id="acme")
    out = call("analyze_health_trends", **args)
    assert (out["status"], out["error"]["code"], out["error"]["field"]) == ("failed", code, field)


@pytest.mark.parametrize("size", [3, 30])
def test_portfolio_query_count_does_not_grow(call, T, size, django_assert_max_num_queries):
    for i in range(size):
        c = ClientFactory(tier="starter" if i % 2 else "enterprise")
        for n in range(0, 21, 3):
            snapshot(c, days_ago(n), 40 + (i + n) % 50, usage=50)
    with django_assert_max_num_queries(5 + audit_lock_queries(1)):
        out = call("analyze_health_trends", lookback_days=21, granularity="daily", segment_by="tier")
    assert out["status"] == "success", out
    assert out["series"][-1]["clients_scored"] == size
