"""Known-answer tests of RULES §4–§5.1 on hand-built worlds (exact numbers)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Client, Invoice, TimelineEvent
from health import scoring
from health.models import ChurnPrediction, HealthScorecard, HealthSnapshot
from tests.customers.factories import ClientFactory, ContractFactory
from tests.feedback.factories import SurveyResponseFactory
from tests.health.factories import FeatureFactory, at, client_day, feature_day, user_day
from tests.retention.factories import EscalationFactory
from tests.support.factories import TicketFactory

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 3, 31)  # W = 03-02..03-31, P = 01-31..03-01
W0 = dt.date(2026, 3, 2)
P0 = dt.date(2026, 1, 31)
D = dt.timedelta


# ---------------------------------------------------------------- pure formulas


def test_usage_subscores_known_answer():
    score, inputs, gaps = scoring.usage_score(
        has_history=True, mau=4, seats=10, core_used=2, core_available=4, aud_w=12, aud_p=16, window_days=30
    )
    assert inputs["u1"] == pytest.approx(50.0)
    assert inputs["u2"] == pytest.approx(100 * 0.5 / 0.7)
    assert inputs["u3"] == pytest.approx(50.0)  # mean DAU 0.4 / MAU 4 = 0.10 → /0.20
    assert inputs["u4"] == pytest.approx(50.0)  # −25 % → 50
    assert score == pytest.approx((50 + 100 * 0.5 / 0.7 + 50 + 50) / 4)
    assert gaps == []


def test_u3_null_carries_a_data_gap_when_mau_is_zero():
    """Regression (issue 8, defect 6): MAU over W = 0 skips U3 (RULES §4.2.1) — with a gap, never silently."""
    score, inputs, gaps = scoring.usage_score(
        has_history=True, mau=0, seats=10, core_used=1, core_available=2, aud_w=0, aud_p=8, window_days=30
    )
    assert (inputs["u1"], inputs["u2"], inputs["u3"], inputs["u4"]) == (
        0.0,
        pytest.approx(100 * 0.5 / 0.7),
        None,
        0.0,
    )
    assert gaps == [
        {
            "field": "health_metrics.usage.u3",
            "reason": "not_enough_data",
            "detail": "No identified active user in W (MAU = 0): stickiness is undefined.",
        }
    ]
    assert score == pytest.approx((0 + 100 * 0.5 / 0.7 + 0) / 3)


def test_every_null_usage_subscore_has_a_gap_without_history():
    score, inputs, gaps = scoring.usage_score(
        has_history=False, mau=0, seats=10, core_used=0, core_available=3, aud_w=0, aud_p=0, window_days=30
    )
    assert score is None
    assert [(g["field"], g["reason"]) for g in gaps] == [
        ("component_scores.usage", "no_usage_events"),
        *((f"health_metrics.usage.{u}", "no_usage_events") for u in ("u1", "u2", "u3", "u4")),
    ]
    assert {f"health_metrics.usage.{u}" for u in ("u1", "u2", "u3", "u4") if inputs[u] is None} <= {
        g["field"] for g in gaps
    }


def test_usage_missing_without_history_and_skips():
    assert (
        scoring.usage_score(
            has_history=False,
            mau=0,
            seats=10,
            core_used=0,
            core_available=3,
            aud_w=0,
            aud_p=0,
            window_days=30,
        )[0]
        is None
    )
    score, inputs, gaps = scoring.usage_score(
        has_history=True, mau=0, seats=None, core_used=0, core_available=0, aud_w=0, aud_p=10, window_days=30
    )
    assert (inputs["u1"], inputs["u2"], inputs["u3"], inputs["u4"]) == (None, None, None, 0.0)
    assert score == 0.0  # history but no activity: scored low, not missing
    # every null sub-score carries its own gap (issue 8 defect 6: U3 was null without one)
    assert {g["field"]: g["reason"] for g in gaps} == {
        "health_metrics.usage.u1": "no_seat_data",
        "health_metrics.usage.u2": "no_catalogue",
        "health_metrics.usage.u3": "not_enough_data",
    }
    # U4 floor and cap
    assert (
        scoring.usage_score(
            has_history=True,
            mau=1,
            seats=None,
            core_used=0,
            core_available=0,
            aud_w=4,
            aud_p=10,
            window_days=30,
        )[1]["u4"]
        == 0.0
    )
    assert (
        scoring.usage_score(
            has_history=True,
            mau=1,
            seats=None,
            core_used=0,
            core_available=0,
            aud_w=20,
            aud_p=10,
            window_days=30,
        )[1]["u4"]
        == 100.0
    )


@pytest.mark.parametrize(
    ("days", "score"),
    [
        (0, 95),
        (1, 85),
        (3, 85),
        (4, 75),
        (7, 75),
        (8, 60),
        (14, 60),
        (15, 45),
        (30, 45),
        (31, 30),
        (90, 30),
        (91, 15),
    ],
)
def test_engagement_recency_table(days, score):
    assert scoring.engagement_score(days) == score


def test_engagement_missing():
    assert scoring.engagement_score(None) is None


def test_support_formula_and_caps():
    assert scoring.support_score(tickets=0, high_priority=0, breached=0, escalations=0) == 100
    assert scoring.support_score(tickets=3, high_priority=1, breached=1, escalations=1) == 61
    assert scoring.support_score(tickets=50, high_priority=9, breached=9, escalations=9) == 0


def test_satisfaction_mapping():
    assert scoring.satisfaction_score([8, 10], [4])[0] == pytest.approx(82.5)
    assert scoring.satisfaction_score([7], [])[0] == pytest.approx(70.0)
    assert scoring.satisfaction_score([], [5, 1])[0] == pytest.approx(50.0)
    assert scoring.satisfaction_score([], [])[0] is None


def test_payment_formula():
    assert scoring.payment_score("current", 0) == 100
    assert scoring.payment_score("late", 1) == 70
    assert scoring.payment_score("overdue", 5) == 30
    assert scoring.payment_score("payment_plan", 0) == 90
    assert scoring.payment_status_from_invoices(AS_OF - D(days=30), AS_OF) == "late"
    assert scoring.payment_status_from_invoices(AS_OF - D(days=31), AS_OF) == "overdue"
    assert scoring.payment_status_from_invoices(AS_OF, AS_OF) == "current"


W = {"usage": 0.35, "engagement": 0.25, "support": 0.15, "satisfaction": 0.15, "payment": 0.10}


def test_combine_redistributes_missing_weights():
    combo = scoring.combine(
        {"usage": 60, "engagement": 80, "support": 100, "satisfaction": None, "payment": None}, W
    )
    assert combo["coverage"] == pytest.approx(0.75)
    assert combo["effective_weights"]["usage"] == pytest.approx(0.35 / 0.75)
    assert combo["raw_score"] == pytest.approx((0.35 * 60 + 0.25 * 80 + 0.15 * 100) / 0.75)  # 74.666…
    assert combo["health_score"] == 75
    assert combo["low_confidence"] is False
    assert combo["missing_components"] == ["satisfaction", "payment"]
    assert sum(v for v in combo["contributions"].values() if v is not None) == pytest.approx(
        combo["raw_score"]
    )


def test_combine_low_confidence_and_not_enough_data():
    low = scoring.combine(
        {"usage": 50, "engagement": None, "support": 90, "satisfaction": None, "payment": None}, W
    )
    assert low["coverage"] == pytest.approx(0.50)
    assert low["health_score"] == 62  # (0.35·50 + 0.15·90) / 0.50
    assert low["low_confidence"] is True
    none = scoring.combine(
        {"usage": None, "engagement": 80, "support": 90, "satisfaction": None, "payment": None}, W
    )
    assert none["coverage"] == pytest.approx(0.40)
    assert none["health_score"] is None and none["raw_score"] is None
    assert scoring.combine(dict.fromkeys(W), W)["health_score"] is None


def test_half_up_rounding():
    combo = scoring.combine(
        {"usage": 64.5, "engagement": 64.5, "support": 64.5, "satisfaction": 64.5, "payment": 64.5}, W
    )
    assert combo["health_score"] == 65


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (100, "low"),
        (80, "low"),
        (79, "medium"),
        (65, "medium"),
        (64, "high"),
        (50, "high"),
        (49, "critical"),
        (0, "critical"),
        (None, None),
    ],
)
def test_risk_bands(score, band):
    assert scoring.risk_band(score) == band


def test_bands_have_one_home_in_customers_rules():
    """RULES §4.5 / §5.1: the health engine uses the customers.rules functions, not copies of them."""
    from customers import rules
    from health import churn_features, scoring_formulas

    assert scoring.risk_band is rules.risk_level_for_health
    assert scoring.churn_level is rules.churn_level_for_probability
    assert scoring_formulas.churn_level is rules.churn_level_for_probability
    assert churn_features.churn_level_for_probability is rules.churn_level_for_probability
    assert rules.churn_level_for_probability(None) is None


@pytest.mark.parametrize(
    ("delta", "trend"),
    [(3, "improving"), (2, "stable"), (0, "stable"), (-2, "stable"), (-3, "declining"), (None, None)],
)
def test_trend_edges(delta, trend):
    assert scoring.trend_label(delta) == trend


def test_churn_heuristic():
    scores = {"usage": 40.0, "engagement": 100.0, "support": 100.0, "satisfaction": None, "payment": None}
    eff = {"usage": 0.5, "engagement": 0.3, "support": 0.2, "satisfaction": None, "payment": None}
    out = scoring.churn_heuristic(40, scores, eff, 0.75, dt.date(2026, 6, 30))
    assert out["probability"] == pytest.approx(0.60)
    assert out["risk_level"] == "high"
    assert (
        out["method"] == "churn-heuristic-v1" and out["calibrated"] is False and out["horizon_days"] is None
    )
    assert out["drivers"][0] == {"component": "usage", "risk_contribution": pytest.approx(30.0)}
    assert out["predicted_churn_date"] == dt.date(2026, 6, 30)
    assert scoring.churn_heuristic(100, scores, eff, 1, None)["probability"] == 0.05
    assert scoring.churn_heuristic(0, scores, eff, 1, None)["probability"] == 0.95
    assert scoring.churn_heuristic(80, scores, eff, 1, dt.date(2026, 6, 30))["predicted_churn_date"] is None
    assert scoring.churn_heuristic(None, scores, eff, 0.4, None)["probability"] is None
    assert [scoring.churn_level(p) for p in (0.24, 0.25, 0.49, 0.5, 0.74, 0.75)] == [
        "low",
        "medium",
        "medium",
        "high",
        "high",
        "critical",
    ]


# ---------------------------------------------------------------- a hand-built world, end to end


def build_world(client=None):
    """Usage 55.357…, engagement 75, support 61, satisfaction 82.5, payment 70 → H = 66.65 → 67."""
    client = client or ClientFactory(client_id="acme", tier="standard")
    ContractFactory(
        client=client, included_users=10, start_date=dt.date(2026, 1, 1), end_date=dt.date(2027, 1, 1)
    )
    for key in ("a", "b", "c", "d"):
        FeatureFactory(feature_key=key, is_core=True)
    FeatureFactory(feature_key="e", is_core=True, min_tier="enterprise")
    FeatureFactory(feature_key="f", is_core=False)
    # MAU 4 in W (u5 had only non-counting events, the anonymous user never counts)
    for i, user in enumerate(["u1", "u2", "u3", "u4"]):
        user_day(client, user, W0 + D(days=i))
    user_day(client, "u5", W0, counting=0, events=3)
    user_day(client, "anon:x", W0)
    # AUD_W = 12 (6 days × 2), AUD_P = 16 (8 days × 2)
    for i in range(6):
        client_day(client, W0 + D(days=i * 4), active_users=2)
    for i in range(8):
        client_day(client, P0 + D(days=i * 3), active_users=2)
    feature_day(client, "a", W0, events=3)
    feature_day(client, "b", W0 + D(days=5))
    feature_day(client, "e", W0)  # enterprise-only core feature: not available to a standard client
    feature_day(client, "f", W0, events=5)
    feature_day(client, "c", P0)  # used only in P
    # engagement: 5 days before as-of
    TimelineEvent.objects.create(
        client=client,
        occurred_at=at(dt.date(2026, 3, 26)),
        event_type="communication",
        title="Call",
        counts_as_engagement=True,
    )
    TimelineEvent.objects.create(  # not an engagement event
        client=client, occurred_at=at(dt.date(2026, 3, 30)), event_type="health", title="Score"
    )
    # support: T=3, H=1, B=1, E=1
    t0 = at(dt.date(2026, 3, 15))
    TicketFactory(
        client=client,
        priority="P1",
        created_at=t0,
        first_response_at=t0 + D(minutes=300),
        status="resolved",
        resolved_at=t0 + D(minutes=400),
        first_response_due_at=t0 + D(minutes=15),
        resolution_due_at=t0 + D(minutes=240 * 4),
    )
    for day in (10, 20):
        t = at(dt.date(2026, 3, day))
        TicketFactory(
            client=client,
            priority="P3",
            created_at=t,
            first_response_at=t + D(minutes=10),
            status="resolved",
            resolved_at=t + D(minutes=60),
        )
    TicketFactory(client=client, priority="P0", created_at=at(dt.date(2026, 2, 20)))  # before W
    EscalationFactory(client=client, opened_at=at(dt.date(2026, 3, 16)))
    EscalationFactory(client=client, opened_at=at(dt.date(2026, 2, 1)))  # before W
    # satisfaction: latest NPS per e-mail (8, 10) → 90; CSAT 4 → 75; mean 82.5
    SurveyResponseFactory(
        client=client, respondent_email="a@x.com", score=6, responded_at=at(dt.date(2026, 3, 1))
    )
    SurveyResponseFactory(
        client=client, respondent_email="A@x.com", score=8, responded_at=at(dt.date(2026, 3, 20))
    )
    SurveyResponseFactory(
        client=client, respondent_email="b@x.com", score=10, responded_at=at(dt.date(2026, 2, 1))
    )
    SurveyResponseFactory(
        client=client,
        respondent_email="c@x.com",
        survey_type="csat",
        score=4,
        responded_at=at(dt.date(2026, 3, 5)),
    )
    SurveyResponseFactory(
        client=client, respondent_email="old@x.com", score=0, responded_at=at(dt.date(2025, 12, 1))
    )
    # payment: one invoice paid 9 days late (L=1), one unpaid 11 days past due (late, S=20) → 70
    Invoice.objects.create(
        client=client,
        amount=100,
        issued_on=dt.date(2026, 1, 2),
        due_date=dt.date(2026, 2, 1),
        paid_on=dt.date(2026, 2, 10),
        status="paid",
    )
    Invoice.objects.create(
        client=client, amount=100, issued_on=dt.date(2026, 2, 18), due_date=dt.date(2026, 3, 20)
    )
    return client


def test_world_known_answer():
    client = build_world()
    r = scoring.score_client("acme", AS_OF)
    usage = (50 + 100 * 0.5 / 0.7 + 50 + 50) / 4
    assert r["components"]["usage"] == pytest.approx(usage)
    assert r["inputs"]["usage"]["mau"] == 4
    assert r["inputs"]["usage"]["core_features_used"] == 2
    assert r["inputs"]["usage"]["core_features_available"] == 4
    assert (r["inputs"]["usage"]["aud_w"], r["inputs"]["usage"]["aud_p"]) == (12, 16)
    assert r["components"]["engagement"] == 75
    assert r["inputs"]["engagement"]["days_since"] == 5
    assert r["components"]["support"] == 61
    assert r["inputs"]["support"] == {"tickets": 3, "high_priority": 1, "breached": 1, "escalations": 1}
    assert r["components"]["satisfaction"] == pytest.approx(82.5)
    assert r["components"]["payment"] == 70
    assert r["inputs"]["payment"]["payment_status"] == "late"
    raw = 0.35 * usage + 0.25 * 75 + 0.15 * 61 + 0.15 * 82.5 + 0.10 * 70
    assert r["raw_score"] == pytest.approx(raw)  # 66.65
    assert r["health_score"] == 67
    assert r["risk_level"] == "medium"
    assert r["coverage"] == pytest.approx(1.0) and r["low_confidence"] is False
    assert r["churn"]["probability"] == pytest.approx(0.33) and r["churn"]["risk_level"] == "medium"
    assert r["trend"] is None
    assert {"field": "health_trend", "reason": "insufficient_history"}.items() <= r["data_gaps"][-1].items()
    expl = r["explanation"]
    assert expl["formula_version"] == "health-v1"
    assert [c["component"] for c in expl["components"]] == [
        "usage",
        "engagement",
        "support",
        "satisfaction",
        "payment",
    ]
    assert expl["components"][0]["contribution"] == pytest.approx(round(0.35 * usage, 2))
    snap = HealthSnapshot.objects.get(client=client, as_of=AS_OF)
    assert snap.health_score == 67 and snap.risk_level == "medium" and snap.formula_version == "health-v1"
    assert snap.scorecard == HealthScorecard.objects.get(is_default=True)
    assert snap.weights["usage"] == 0.35 and snap.effective_weights["payment"] == pytest.approx(0.10)
    client.refresh_from_db()
    assert (client.health_score, client.risk_level, client.health_as_of) == (67, "medium", AS_OF)
    assert client.last_engagement_date == dt.date(2026, 3, 26)
    assert ChurnPrediction.objects.get(client=client, as_of=AS_OF).probability == pytest.approx(0.33)


def test_trend_and_explanation_against_comparison_snapshot():
    client = build_world()
    HealthSnapshot.objects.create(
        client=client,
        as_of=AS_OF - D(days=7),
        health_score=72,
        usage_score=70.0,
        engagement_score=75.0,
        support_score=61.0,
        satisfaction_score=82.5,
        payment_score=70.0,
        effective_weights=W,
        calculated_at=at(AS_OF - D(days=7)),
    )
    HealthSnapshot.objects.create(  # too recent to be the comparison
        client=client, as_of=AS_OF - D(days=3), health_score=10, effective_weights=W, calculated_at=at(AS_OF)
    )
    r = scoring.score_client("acme", AS_OF)
    assert r["score_change"] == -5 and r["trend"] == "declining"
    expl = r["explanation"]
    assert expl["comparison"] == {"as_of": "2026-03-24", "score": 72, "days_ago": 7}
    usage = expl["components"][0]
    assert usage["previous_contribution"] == pytest.approx(24.5)
    assert usage["contribution_change"] == -5.13  # 19.375 − 24.5 = −5.125, half-up
    assert expl["top_drivers"][0]["component"] == "usage"


def test_comparison_outside_window_gives_null_trend():
    client = build_world()
    HealthSnapshot.objects.create(
        client=client, as_of=AS_OF - D(days=15), health_score=90, calculated_at=at(AS_OF)
    )
    r = scoring.score_client("acme", AS_OF)
    assert r["trend"] is None and r["score_change"] is None
    gap = next(g for g in r["data_gaps"] if g["field"] == "health_trend")
    assert gap == {
        "field": "health_trend",
        "reason": "insufficient_history",
        "detail": "No official snapshot 7–14 days back.",
    }


def test_trend_window_and_its_gap_text_follow_the_setting(settings):
    """RULES §4.6 N is [S] ``health_trend_days``: the search window and the gap's text both come from it."""
    client = build_world()
    HealthSnapshot.objects.create(
        client=client, as_of=AS_OF - D(days=15), health_score=90, calculated_at=at(AS_OF)
    )
    settings.CS_RULES = {**settings.CS_RULES, "health_trend_days": 10}
    r = scoring.score_client("acme", AS_OF, persist=False)
    assert r["score_change"] == 67 - 90 and r["trend"] == "declining"  # 15 days back is in [10, 20]
    HealthSnapshot.objects.filter(client=client).delete()
    r = scoring.score_client("acme", AS_OF, persist=False)
    gap = next(g for g in r["data_gaps"] if g["field"] == "health_trend")
    assert gap["detail"] == "No official snapshot 10–20 days back."


def test_null_satisfaction_subscore_carries_a_data_gap():
    """Every null sub-score has its gap (issue 8, defect 6): CSAT alone → ``nps_based`` null, with a gap."""
    client = ClientFactory(client_id="csat-only")
    SurveyResponseFactory(
        client=client, survey_type="csat", respondent_email="a@x.com", score=4, responded_at=at(AS_OF)
    )
    r = scoring.score_client("csat-only", AS_OF, persist=False)
    assert r["components"]["satisfaction"] == 75.0
    assert (r["inputs"]["satisfaction"]["nps_based"], r["inputs"]["satisfaction"]["csat_based"]) == (
        None,
        75.0,
    )
    sat_gaps = [g for g in r["data_gaps"] if "satisfaction" in g["field"]]
    assert sat_gaps == [
        {
            "field": "health_metrics.satisfaction.nps_based",
            "reason": "no_survey_responses",
            "detail": "No NPS response in the last 90 days.",
        }
    ]


def test_missing_components_redistributed_in_world():
    client = ClientFactory(client_id="thin")
    client_day(client, AS_OF - D(days=40), active_users=0, events=3)  # usage history, nothing in W or P
    r = scoring.score_client("thin", AS_OF)
    # usage: no seats, no catalogue, MAU 0, AUD_P 0 → no computable sub-score → missing; support 100 alone
    assert r["components"]["support"] == 100
    assert r["coverage"] == pytest.approx(0.15)
    assert r["health_score"] is None and r["risk_level"] is None
    assert any(
        g["reason"] == "not_enough_data" and g["field"] == "current_health_score" for g in r["data_gaps"]
    )
    snap = HealthSnapshot.objects.get(client=client)
    assert snap.health_score is None and snap.support_score == 100  # component scores still stored


def test_scorecard_selection_most_specific_wins():
    client = build_world(ClientFactory(client_id="acme", tier="enterprise", lifecycle_stage="active"))
    common = dict(
        engagement_weight=Decimal("0.2"),
        support_weight=Decimal("0.2"),
        satisfaction_weight=Decimal("0.1"),
        payment_weight=Decimal("0.1"),
    )
    HealthScorecard.objects.create(name="tier", tier="enterprise", usage_weight=Decimal("0.4"), **common)
    both = HealthScorecard.objects.create(
        name="tier+stage",
        tier="enterprise",
        lifecycle_stage="active",
        priority=500,
        usage_weight=Decimal("0.4"),
        **common,
    )
    HealthScorecard.objects.create(name="other", tier="starter", usage_weight=Decimal("0.4"), **common)
    r = scoring.score_client(client.client_id, AS_OF)
    assert r["scorecard_id"] == both.id
    assert r["weights"]["usage"] == 0.4


def test_same_day_rerun_replaces_snapshot():
    client = build_world()
    scoring.score_client("acme", AS_OF)
    Invoice.objects.filter(client=client, paid_on__isnull=True).update(
        paid_on=dt.date(2026, 3, 25), status="paid"
    )
    r = scoring.score_client("acme", AS_OF)
    assert HealthSnapshot.objects.filter(client=client, as_of=AS_OF).count() == 1
    assert ChurnPrediction.objects.filter(client=client, as_of=AS_OF).count() == 1
    assert (
        HealthSnapshot.objects.get(client=client).payment_score == r["components"]["payment"] == 80
    )  # current, L=2
    assert r["inputs"]["payment"]["late_paid_365"] == 2


def test_previews_are_not_stored():
    client = build_world()
    custom = {
        "usage_weight": 0.2,
        "engagement_weight": 0.2,
        "support_weight": 0.2,
        "satisfaction_weight": 0.2,
        "payment_weight": 0.2,
    }
    r = scoring.score_client("acme", AS_OF, weights=scoring.validate_weights(custom))
    assert r["persisted"] is False and r["health_score"] == round(
        (r["components"]["usage"] + 75 + 61 + 82.5 + 70) / 5
    )
    r = scoring.score_client("acme", AS_OF, lookback_days=60)
    assert r["persisted"] is False
    Client.objects.filter(pk=client.pk).update(status="inactive")
    assert scoring.score_client("acme", AS_OF)["persisted"] is False
    assert not HealthSnapshot.objects.exists()


def test_validate_weights():
    from cs_project.core.errors import InvalidParameter

    with pytest.raises(InvalidParameter):
        scoring.validate_weights({"usage_weight": 1})
    with pytest.raises(InvalidParameter):
        scoring.validate_weights({f"{c}_weight": 0.3 for c in W})


def _population(n):
    feature = FeatureFactory(feature_key="core1", is_core=True)
    ids = []
    for i in range(n):
        client = ClientFactory()
        ContractFactory(client=client)
        client_day(client, AS_OF - D(days=2), active_users=2)
        user_day(client, "u1", AS_OF - D(days=2))
        feature_day(client, feature.feature_key, AS_OF - D(days=2))
        TimelineEvent.objects.create(
            client=client,
            occurred_at=at(AS_OF - D(days=1)),
            event_type="communication",
            title="Call",
            counts_as_engagement=True,
        )
        TicketFactory(client=client, created_at=at(AS_OF - D(days=3)))
        SurveyResponseFactory(client=client, responded_at=at(AS_OF - D(days=4)))
        Invoice.objects.create(
            client=client, amount=10, issued_on=AS_OF - D(days=40), due_date=AS_OF - D(days=10)
        )
        HealthSnapshot.objects.create(
            client=client,
            as_of=AS_OF - D(days=7),
            health_score=50,
            effective_weights=W,
            calculated_at=at(AS_OF),
        )
        ids.append(client.pk)
    return ids


def test_chunk_query_count_does_not_grow_with_chunk_size():
    ids = _population(24)
    with CaptureQueriesContext(connection) as small:
        scoring.score_chunk(ids[:3], AS_OF)
    with CaptureQueriesContext(connection) as large:
        result = scoring.score_chunk(ids[3:], AS_OF)
    assert len(result) == 21 and all(r["persisted"] for r in result.values())
    assert len(large.captured_queries) == len(small.captured_queries) <= 30
    assert HealthSnapshot.objects.filter(as_of=AS_OF).count() == 24
    # one formula home: the chunk and the single-client entry point agree exactly
    single = scoring.score_client(ids[5], AS_OF, persist=False)
    assert single["raw_score"] == result[ids[5]]["raw_score"]
