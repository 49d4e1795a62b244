"""Known answers of the pure pieces of health.rules used by the usage, score, trends and reports tools."""

import datetime as dt

from health import rules

D = dt.date


def test_buckets_weekly_monthly_daily():
    assert rules.trunc_date(D(2026, 3, 5), "weekly") == D(2026, 3, 2)  # Thursday → Monday
    assert rules.trunc_date(D(2026, 3, 5), "monthly") == D(2026, 3, 1)
    assert rules.trunc_date(D(2026, 3, 5), "daily") == D(2026, 3, 5)
    assert rules.next_bucket(D(2026, 12, 1), "monthly") == D(2027, 1, 1)
    assert rules.next_bucket(D(2026, 1, 31), "daily") == D(2026, 2, 1)
    assert rules.bucket_starts(D(2026, 3, 5), D(2026, 3, 20), "weekly") == [
        D(2026, 3, 2),
        D(2026, 3, 9),
        D(2026, 3, 16),
    ]
    assert rules.bucket_starts(D(2026, 1, 31), D(2026, 3, 1), "monthly") == [
        D(2026, 1, 1),
        D(2026, 2, 1),
        D(2026, 3, 1),
    ]


def test_report_period():
    end = D(2026, 5, 20)
    assert rules.report_period("7d", end) == (D(2026, 5, 14), end)
    assert rules.report_period("30d", end) == (D(2026, 4, 21), end)
    assert rules.report_period("qtd", end) == (D(2026, 4, 1), end)
    assert rules.report_period("ytd", end) == (D(2026, 1, 1), end)


def test_projected_point_clamps_and_bands():
    fit = {"intercept": 90.0, "slope": 2.0, "se": 5.0}
    assert rules.projected_point(fit, 0) == {"score": 90.0, "lower": 80.2, "upper": 99.8}
    assert rules.projected_point(fit, 3) == {"score": 96.0, "lower": 86.2, "upper": 100.0}
    assert rules.projected_point({"intercept": -3.0, "slope": 0.0, "se": 1.0}, 1)["score"] == 0.0


def test_churn_driver_shapes_per_path():
    heuristic = {"component": "usage", "risk_contribution": 12.345678}
    model = {
        "feature": "seat_utilisation",
        "value": 0.123456789,
        "standardised_value": -1.98765,
        "contribution": 0.4444449,
        "direction": "increases_risk",
    }
    assert rules.churn_driver_out(heuristic) == {"component": "usage", "risk_contribution": 12.35}
    assert rules.churn_driver_out(model) == {
        "feature": "seat_utilisation",
        "value": 0.1235,
        "standardised_value": -1.9877,
        "contribution": 0.4444,
        "direction": "increases_risk",
    }
    assert [rules.churn_driver_name(d) for d in (heuristic, model)] == ["usage", "seat_utilisation"]


def test_risk_indicators_and_contributing_factors():
    comps = {"usage": 45.0, "engagement": 65.0, "support": 100.0, "satisfaction": None, "payment": 80.0}
    out = rules.risk_indicators(
        components=comps,
        trend="declining",
        score_change=-5,
        payment_status="overdue",
        detractor={"score": 3.0},
    )
    assert [(i["indicator"], i["severity"]) for i in out] == [
        ("component_low:usage", "high"),
        ("component_low:engagement", "medium"),
        ("trend_declining", "high"),
        ("decision_maker_detractor", "high"),
        ("payment_issue", "high"),
    ]
    assert rules.contributing_factors(comps) == {
        "positive_factors": [
            {"component": "support", "score": 100.0},
            {"component": "payment", "score": 80.0},
        ],
        "negative_factors": [{"component": "usage", "score": 45.0}],
        "neutral_factors": [{"component": "engagement", "score": 65.0}],
    }


def test_portfolio_bucket():
    assert rules.portfolio_bucket([85, 70, 49, None, 64]) == {
        "avg_score": 67.0,
        "median_score": 67.0,
        "clients_scored": 4,
        "band_distribution": {"low": 1, "medium": 1, "high": 1, "critical": 1},
    }
    assert rules.portfolio_bucket([None])["avg_score"] is None


def test_usage_findings():
    assert rules.usage_drop_finding(7, 10)["evidence"]["change_rate"] == -0.3  # exactly −30 % fires
    assert rules.usage_drop_finding(8, 10) is None
    assert rules.usage_drop_finding(0, 4) is None  # baseline < 5
    assert rules.core_breadth_finding(0.7, []) is None
    assert rules.core_breadth_finding(0.5, ["b"])["evidence"] == {
        "core_breadth": 0.5,
        "threshold": 0.7,
        "unused_core_features": ["b"],
    }
    assert rules.low_adoption_finding("x", 0.123456, 0.2)["evidence"] == {
        "feature_key": "x",
        "adoption_rate": 0.1235,
        "threshold": 0.2,
    }
    assert rules.top_user_share([5, 3, 2]) == 0.5
    assert rules.top_user_share([4, 3, 3]) is None
    assert rules.top_user_share([9, 1]) is None  # fewer than 3 users
