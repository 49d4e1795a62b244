"""track_usage_engagement: known answers from raw events rolled up (RULES §3.3–3.4), validation."""

import datetime as dt

import pytest

from health.rollups import rebuild_range
from tests.customers.factories import AlertFactory, ClientFactory, ContractFactory
from tests.health.factories import FeatureFactory, UsageEventFactory

from .conftest import at, days_ago

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """W = the last 14 days (T-13..T), P = T-27..T-14.
    u1: reports on T-13..T-7 (7 days → power) + one login (not counting) on T-13
    u2: dashboards + api_sync (channel api) on T-1 at 15:00 (regular)
    u3: reports on T-21, T-20 only (inactive: none in W, active before)
    u4: reports on T-24, T-23, T-22, T-15 and T-2 (1 ≤ 50 % of 4 → at_risk)
    anon: reports on T-3 (events, never users)."""
    c = ClientFactory(client_id="acme", tier="standard")
    ContractFactory(client=c, included_users=10, start_date=days_ago(400), end_date=days_ago(-200))
    FeatureFactory(feature_key="reports", is_core=True)
    FeatureFactory(feature_key="dashboards", is_core=True)
    FeatureFactory(feature_key="login", counts_as_activity=False, category="admin")
    FeatureFactory(feature_key="api_sync", category="integration")

    def ev(user, key, n, hour=10, **props):
        UsageEventFactory(
            client=c, user_id=user, feature_key=key, occurred_at=at(days_ago(n), hour), properties=props
        )

    for n in range(7, 14):
        ev("u1", "reports", n)
    ev("u1", "login", 13)
    ev("u2", "dashboards", 1, hour=15)
    ev("u2", "api_sync", 1, hour=15, channel="api")
    for n in (21, 20):
        ev("u3", "reports", n)
    for n in (24, 23, 22, 15, 2):
        ev("u4", "reports", n)
    ev("anon:x", "reports", 3)
    rebuild_range([c.pk], days_ago(60), days_ago(0))
    AlertFactory(client=c, reason="usage_drop", priority="high")
    AlertFactory(client=c, reason="health_below_threshold")
    return c


def test_known_answers(world, call, T):
    out = call(
        "track_usage_engagement",
        client_id="acme",
        period_start=days_ago(13).isoformat(),
        period_end=T.isoformat(),
    )
    assert out["status"] == "success", out
    assert out["analysis_period"] == {
        "start": days_ago(13).isoformat(),
        "end": T.isoformat(),
        "days": 14,
        "granularity": "daily",
    }
    m = out["engagement_metrics"]
    assert m["total_known_users"] == 4
    assert m["active_users"] == 3
    assert m["dau_avg"] == 0.6  # AUD 9 / 14 days
    assert (m["wau"], m["mau"]) == (2, 4)
    assert m["stickiness"] == 0.125  # (AUD of 30 days 15 / 30) / MAU 4
    assert m["activation_rate"] == 0.4  # 4 users ever active / 10 seats
    assert m["engagement_rate"] == 0.75
    assert m["logins"] == 1
    assert m["actions"] == 11
    assert m["session_minutes"] is None
    assert (m["power_users"], m["regular_users"], m["at_risk_users"], m["inactive_users"]) == (1, 1, 1, 1)
    assert m["engagement_trend"] == "increasing"
    assert m["vs_previous_period"] == {"active_users_change_rate": 0.5, "events_change_rate": 1.0}
    u = out["usage_analytics"]
    assert u["total_usage_events"] == 12
    assert u["total_quantity"] == 12.0
    assert (u["unique_features_used"], u["total_features_available"], u["feature_utilization_rate"]) == (
        4,
        4,
        1.0,
    )
    assert u["top_features"] == [
        {"feature_key": "reports", "events": 9, "users": 2},
        {"feature_key": "api_sync", "events": 1, "users": 1},
        {"feature_key": "dashboards", "events": 1, "users": 1},
        {"feature_key": "login", "events": 1, "users": 1},
    ]
    assert u["underutilized_features"] == []
    assert [x["feature_key"] for x in u["new_feature_adoption"]] == ["login", "api_sync", "dashboards"]
    assert (u["integration_usage"], u["api_usage"]) == (1, 1)
    assert (u["usage_trend"], u["usage_growth_rate"]) == ("increasing", 0.5)  # AUD 9 vs 6
    assert len(out["usage_trends"]) == 14
    assert sum(b["events"] for b in out["usage_trends"]) == 12
    assert out["usage_trends"][-2] == {
        "bucket_start": days_ago(1).isoformat(),
        "events": 2,
        "quantity": 2.0,
        "active_users": 1,
    }
    p = out["engagement_patterns"]
    assert sum(p["by_weekday"]) == 12
    assert p["by_hour"][10] == 10 and p["by_hour"][15] == 2 and sum(p["by_hour"]) == 12
    assert p["peak_hour"] == 10
    assert sum(sum(row) for row in out["activity_heatmap"].values()) == 12
    cohorts = out["user_cohorts"]
    assert {k: v["user_ids"] for k, v in cohorts.items()} == {
        "power": ["u1"],
        "regular": ["u2"],
        "at_risk": ["u4"],
        "inactive": ["u3"],
    }
    stages = {x["feature_key"]: x["stage"] for x in out["feature_adoption_timeline"]}
    assert stages == {"reports": "power", "login": "tried", "api_sync": "tried", "dashboards": "tried"}
    assert [b["metric"] for b in out["benchmark_insights"]] == [
        "stickiness",
        "events_per_active_user",
        "utilisation",
    ]
    assert out["benchmark_insights"][0]["value"] == 0.125
    assert out["benchmark_insights"][0]["percentile"] is None
    assert out["benchmark_insights"][1]["value"] == 4.0  # 12 events / 3 active users
    assert out["benchmark_insights"][2]["value"] == 0.4  # MAU 4 / 10 seats
    # RSK-01: AUD last 7 days 2 vs 7 before (−71 %); PAT-02: u1 has 7 of 10 counting events
    assert [f["rule_id"] for f in out["recommendations"]] == ["RSK-01", "PAT-02"]
    assert out["recommendations"][0]["evidence"] == {
        "aud_last_7d": 2,
        "aud_previous_7d": 7,
        "change_rate": -0.7143,
    }
    assert [a["reason"] for a in out["alerts"]] == ["usage_drop"]
    reasons = {(g["field"], g["reason"]) for g in out["data_gaps"]}
    assert ("engagement_metrics.session_minutes", "no_session_ids") in reasons
    assert ("benchmark_insights[0].percentile", "peer_group_too_small") in reasons


def test_weekly_and_hourly_series(world, call, T):
    weekly = call(
        "track_usage_engagement",
        client_id="acme",
        period_start=days_ago(13).isoformat(),
        period_end=T.isoformat(),
        granularity="weekly",
        include_user_segmentation=False,
        include_feature_breakdown=False,
        benchmark_comparison=False,
    )
    assert weekly["status"] == "success", weekly
    assert sum(b["events"] for b in weekly["usage_trends"]) == 12
    assert weekly["usage_trends"][0]["bucket_start"] == days_ago(13).isoformat()
    assert weekly["user_cohorts"] is None and weekly["feature_adoption_timeline"] is None
    assert weekly["benchmark_insights"] is None
    hourly = call(
        "track_usage_engagement",
        client_id="acme",
        period_start=days_ago(2).isoformat(),
        period_end=T.isoformat(),
        granularity="hourly",
    )
    assert hourly["status"] == "success", hourly
    assert [(b["events"], b["active_users"]) for b in hourly["usage_trends"]] == [(1, 1), (2, 1)]


@pytest.mark.parametrize(
    ("start", "end", "granularity", "field"),
    [
        (0, 0, "daily", "period_end"),
        (0, 3, "daily", "period_end"),
        (370, 0, "daily", "period_end"),
        (9, 0, "hourly", "granularity"),
        (0, 3, "yearly", "granularity"),
    ],
)
def test_validation(world, call, start, end, granularity, field):
    out = call(
        "track_usage_engagement",
        client_id="acme",
        period_start=days_ago(start).isoformat(),
        period_end=days_ago(end).isoformat(),
        granularity=granularity,
    )
    assert out["status"] == "failed"
    assert (out["error"]["code"], out["error"]["field"]) == ("INVALID_PARAMETER", field)


def test_unknown_client(call, db):
    out = call(
        "track_usage_engagement", client_id="ghost", period_start="2026-01-01", period_end="2026-01-31"
    )
    assert (out["error"]["code"], out["error"]["field"]) == ("NOT_FOUND", "client_id")


def test_no_usage_reports_gaps(call, db):
    ClientFactory(client_id="empty")
    end = dt.date.today()
    out = call(
        "track_usage_engagement",
        client_id="empty",
        period_start=(end - dt.timedelta(days=6)).isoformat(),
        period_end=end.isoformat(),
    )
    assert out["status"] == "success", out
    assert out["engagement_metrics"]["stickiness"] is None
    assert any(g["reason"] == "no_usage_events" for g in out["data_gaps"])
