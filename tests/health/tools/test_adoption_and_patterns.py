"""track_feature_adoption, track_adoption_milestones and analyze_engagement_patterns."""

import datetime as dt

import pytest

from health.models import AdoptionFramework, ClientMilestone, Segment
from health.rollups import rebuild_range
from tests.customers.factories import ClientFactory, ContractFactory
from tests.health.factories import FeatureFactory, UsageEventFactory

from .conftest import at, days_ago

pytestmark = pytest.mark.django_db


@pytest.fixture
def usage_world():
    """Window 30 days. acme (standard): u1 uses reports on 4 days over 2 weeks, u2 dashboards once, u3 reports once.
    beta (starter): u9 uses reports once. Features: reports + dashboards core (starter), exports (professional)."""
    FeatureFactory(feature_key="reports", is_core=True)
    FeatureFactory(feature_key="dashboards", is_core=True)
    FeatureFactory(feature_key="exports", min_tier="professional", category="advanced")
    acme = ClientFactory(client_id="acme", tier="standard", contract_start_date=days_ago(120))
    beta = ClientFactory(client_id="beta", tier="starter", contract_start_date=days_ago(60))
    ContractFactory(client=acme, start_date=days_ago(120), end_date=days_ago(-245), included_users=5)

    def ev(client, user, key, n):
        UsageEventFactory(client=client, user_id=user, feature_key=key, occurred_at=at(days_ago(n)))

    for n in (1, 3, 9, 11):
        ev(acme, "u1", "reports", n)
    ev(acme, "u2", "dashboards", 2)
    ev(acme, "u3", "reports", 5)
    ev(beta, "u9", "reports", 20)
    rebuild_range([acme.pk, beta.pk], days_ago(40), days_ago(0))
    return acme, beta


def test_feature_adoption_client(usage_world, call):
    out = call("track_feature_adoption", client_id="acme", time_period_days=30)
    assert out["status"] == "success", out
    assert out["overall_adoption_rate"] == 1.0  # both core features used
    rows = {x["feature_key"]: x for x in out["feature_adoption_breakdown"]}
    assert (
        rows["reports"]["adoption_rate"],
        rows["reports"]["users_or_clients"],
        rows["reports"]["events"],
    ) == (0.6667, 2, 5)
    assert rows["reports"]["stage"] == "power"  # 5 of 6 active days
    assert rows["dashboards"]["stage"] == "tried"
    assert rows["exports"]["adoption_rate"] == 0.0
    assert out["underutilized_features"] == ["exports"]
    assert out["adoption_velocity"]["dashboards"] == 118  # contract start T-120 → first use T-2
    assert [p["feature_key"] for p in out["adoption_patterns"]] == ["reports", "dashboards"]
    assert out["feature_stickiness"]["reports"] == round((5 / 30) / 2, 4)
    assert out["user_personas"]["power"]["count"] == 0 and out["user_personas"]["regular"]["count"] == 3
    assert [f["rule_id"] for f in out["recommended_actions"]] == ["ADP-03"]


def test_feature_adoption_portfolio(usage_world, call):
    out = call("track_feature_adoption", time_period_days=30, feature_id="reports")
    rows = out["feature_adoption_breakdown"]
    assert [(x["feature_key"], x["adoption_rate"], x["users_or_clients"], x["stage"]) for x in rows] == [
        ("reports", 1.0, 2, None)
    ]
    assert out["overall_adoption_rate"] == 0.75  # acme 2/2, beta 1/2
    assert out["adoption_by_tier"] == {"standard": 1.0, "starter": 0.5}
    missing = call("track_feature_adoption", feature_id="nope")
    assert (missing["error"]["code"], missing["error"]["field"]) == ("NOT_FOUND", "feature_id")


def test_milestones_live_and_stored(usage_world, call, T):
    acme, beta = usage_world
    fw = AdoptionFramework.objects.get(key="standard")
    ClientMilestone.objects.create(
        client=beta, framework=fw, milestone_id="m5", achieved_on=days_ago(50), recorded_at=at(T)
    )
    out = call("track_adoption_milestones", client_id="acme")
    assert out["status"] == "success", out
    assert out["total_milestones"] == 8
    p = out["customer_progress"][0]
    assert p["days_since_start"] == 120
    assert p["milestones"]["m1"] == {
        "status": "achieved",
        "achieved_at": days_ago(11).isoformat(),
        "days_to_achieve": 109,
    }
    assert p["milestones"]["m2"]["status"] == "stuck"  # 120 > 1.5 × 14
    assert p["milestones"]["m4"]["status"] == "achieved"  # 2 of 2 core features within 30 days
    assert p["milestones"]["m6"]["status"] == "overdue"  # 120 > 90, ≤ 135
    assert p["milestones"]["m8"]["status"] == "on_track"  # 120 ≤ 180
    assert p["completion_pct"] == 25.0 and p["next_milestone"] == "m2"
    assert out["milestone_blockers"]["m2"] == {"overdue": 0, "stuck": 1}
    assert {f["rule_id"] for f in out["intervention_recommendations"]} == {"ADP-01"}
    assert out["completion_rates"]["m5"] == 0.5  # beta (stored) yes, acme no; both older than 45 days
    assert out["benchmark_comparison"]["m1"]["percentile"] is None


def test_custom_milestones(usage_world, call):
    custom = [
        {
            "id": "c1",
            "name": "Five report events",
            "typical_days": 30,
            "importance": "high",
            "category": "adoption",
            "criterion": {"type": "event_count_at_least", "feature_key": "reports", "n": 5},
        },
    ]
    out = call("track_adoption_milestones", milestone_framework="custom", custom_milestones=custom)
    assert out["status"] == "success", out
    by = {p["client_id"]: p["milestones"]["c1"] for p in out["customer_progress"]}
    assert by["acme"]["status"] == "achieved" and by["acme"]["achieved_at"] == days_ago(1).isoformat()
    assert by["beta"]["status"] == "stuck"  # 60 days > 1.5 × 30
    bad = dict(custom[0], criterion={"type": "moon_landing"})
    err = call("track_adoption_milestones", milestone_framework="custom", custom_milestones=[bad])
    assert (err["error"]["code"], err["error"]["field"]) == (
        "INVALID_PARAMETER",
        "custom_milestones[0].criterion",
    )
    none = call("track_adoption_milestones", milestone_framework="custom")
    assert none["error"]["field"] == "custom_milestones"


def test_industry_framework_fallback(usage_world, call):
    out = call("track_adoption_milestones", milestone_framework="industry_specific", client_id="acme")
    assert any(g["reason"] == "no_industry_framework" for g in out["data_gaps"])


def test_engagement_patterns(usage_world, call):
    out = call("analyze_engagement_patterns", lookback_period_days=30)
    assert out["status"] == "success", out
    assert out["customers_analyzed"] == 2
    t = out["temporal_patterns"]
    assert sum(t["by_weekday"].values()) == 7 and t["by_hour"][10] == 7
    fp = out["feature_usage_patterns"]
    assert fp["top_features"][0] == {"feature_key": "reports", "events": 6, "clients": 2}
    assert fp["co_usage_pairs"] == [{"features": ["dashboards", "reports"], "jaccard": 0.5, "co_users": 1}]
    assert out["communication_patterns"]["emails_sent"] == 0
    assert out["support_patterns"]["tickets"] == 0
    assert out["user_personas"] == {"power": 0, "regular": 4, "at_risk": 0, "inactive": 0}
    assert out["anomalies"] == []
    individual = call(
        "analyze_engagement_patterns",
        analysis_scope="individual",
        scope_filter={"client_id": "acme"},
        pattern_types=["feature_usage"],
    )
    assert individual["customers_analyzed"] == 1 and individual["temporal_patterns"] is None
    assert individual["feature_usage_patterns"]["co_usage_basis"] == "users"


def test_engagement_patterns_errors(usage_world, call):
    e1 = call("analyze_engagement_patterns", analysis_scope="individual")
    assert (e1["error"]["code"], e1["error"]["field"]) == ("INVALID_PARAMETER", "scope_filter.client_id")
    e2 = call("analyze_engagement_patterns", pattern_types=["weather"])
    assert (e2["error"]["code"], e2["error"]["field"]) == ("INVALID_PARAMETER", "pattern_types[0]")
    e3 = call(
        "analyze_engagement_patterns", analysis_scope="segment", scope_filter={"segment_id": "seg_nope"}
    )
    assert (e3["error"]["code"], e3["error"]["field"]) == ("NOT_FOUND", "scope_filter.segment_id")
    seg = Segment.objects.create(segmentation_type="custom", key="k", name="K")
    ok = call(
        "analyze_engagement_patterns", analysis_scope="segment", scope_filter={"segment_id": seg.segment_id}
    )
    assert ok["customers_analyzed"] == 0


def _weekly_users(client, counts: list[int]):
    """``counts[i]`` distinct users active on the Monday of the i-th of the last len(counts) complete weeks."""
    from health.common import today
    from health.models import UserActivityDaily

    this_monday = today() - dt.timedelta(days=today().weekday())
    rows = []
    for i, n in enumerate(counts):
        day = this_monday - dt.timedelta(weeks=len(counts) - i)
        rows += [
            UserActivityDaily(
                client=client, user_id=f"u{k}", date=day, events=1, counting_events=1, features_used=1
            )
            for k in range(n)
        ]
    UserActivityDaily.objects.bulk_create(rows)


def test_pat04_projection_known_answer(call):
    """Weekly active users 40, 38, …, 18 over 12 complete weeks: OLS slope −2, intercept 40 → in 4 weeks
    40 − 2 × 15 = 10 ≤ 0.7 × 18. A flat client (10 a week) and one with 5 weeks of data give no finding."""
    dec = ClientFactory(client_id="dec")
    flat = ClientFactory(client_id="flat")
    young = ClientFactory(client_id="young")
    _weekly_users(dec, [40 - 2 * i for i in range(12)])
    _weekly_users(flat, [10] * 12)
    _weekly_users(young, [9, 9, 9, 9, 9])
    out = call("analyze_engagement_patterns", pattern_types=[], anomaly_detection=False)
    assert out["status"] == "success", out
    assert [(f["rule_id"], f["evidence"]) for f in out["predictive_insights"]] == [
        (
            "PAT-04",
            {
                "client_id": "dec",
                "current_weekly_active_users": 18,
                "projected_in_4_weeks": 10.0,
                "weeks_of_data": 12,
            },
        )
    ]
    assert not any(g["field"] == "predictive_insights" for g in out["data_gaps"])
    only_young = call(
        "analyze_engagement_patterns",
        analysis_scope="individual",
        scope_filter={"client_id": "young"},
        pattern_types=[],
    )
    assert only_young["predictive_insights"] == []
    assert {g["field"]: g["reason"] for g in only_young["data_gaps"]}["predictive_insights"] == (
        "insufficient_history"
    )


def test_daily_anomaly_known_answer(call):
    """Events alternate 10 / 12 (mean 11, σ 1 over any 28 days); 20 events three days ago → z = 9, a spike.
    Active users are constant (σ 0): never an anomaly."""
    from health.common import today
    from tests.health.factories import client_day

    c = ClientFactory(client_id="spiky")
    t = today()
    for k in range(40, -1, -1):
        day = t - dt.timedelta(days=k)
        client_day(c, day, active_users=3, events=20 if k == 3 else (10 if day.toordinal() % 2 else 12))
    out = call(
        "analyze_engagement_patterns", lookback_period_days=7, pattern_types=[], predictive_insights=False
    )
    assert out["anomalies"] == [
        {
            "client_id": "spiky",
            "date": (t - dt.timedelta(days=3)).isoformat(),
            "metric": "events",
            "value": 20,
            "expected": 11.0,
            "z": 9.0,
            "kind": "spike",
        }
    ]


def test_jaccard_and_milestone_status_known_answers():
    from health.rules import jaccard_pairs, milestone_status

    pairs = jaccard_pairs({"a": {1, 2, 3}, "b": {2, 3}, "c": {9}, "d": set()})
    assert pairs == [{"features": ["a", "b"], "jaccard": 0.6667, "co_users": 2}]
    assert [milestone_status(e, 30) for e in (None, 30, 31, 45, 46)] == [
        None,
        "on_track",
        "overdue",
        "overdue",
        "stuck",
    ]
