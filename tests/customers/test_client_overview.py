"""get_client_overview (TOOLS §1.2): known answers from stored rows, null + gaps where data is missing."""

import datetime as dt

import pytest
from django.utils import timezone

from customers.models import ArrMovement, Contact, LifecycleStageHistory
from health.models import ChurnPrediction, HealthSnapshot, UserActivityDaily
from tests.retention.factories import EscalationFactory
from tests.support.factories import TicketFactory

from .conftest import error_of
from .factories import AlertFactory, ClientFactory, ContractFactory, TimelineEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(staff_user):
    today = timezone.localdate()
    now = timezone.now()
    client = ClientFactory(
        client_id="ov",
        client_name="Overview Co",
        tier="professional",
        value_tier="professional",
        lifecycle_stage="active",
        health_score=72,
        health_trend="declining",
        risk_level="medium",
        health_as_of=today,
        contract_value=80000,
        contract_start_date=today - dt.timedelta(days=300),
        contract_end_date=today + dt.timedelta(days=60),
        renewal_date=today + dt.timedelta(days=60),
        primary_contact_email="pat@ov.example",
        primary_contact_name="Pat",
        csm_assigned=staff_user,
        last_engagement_date=today - dt.timedelta(days=3),
    )
    ContractFactory(
        client=client,
        value=80000,
        start_date=today - dt.timedelta(days=300),
        end_date=today + dt.timedelta(days=60),
        included_users=10,
        payment_status="overdue",
    )
    Contact.objects.create(client=client, email="pat@ov.example", name="Pat", is_primary=True)
    LifecycleStageHistory.objects.create(
        client=client, to_stage="active", actor="t", entered_at=now - dt.timedelta(days=12)
    )
    ArrMovement.objects.create(
        client=client, kind="expansion", amount=10000, movement_date=today - dt.timedelta(days=100)
    )
    ArrMovement.objects.create(
        client=client, kind="contraction", amount=-4000, movement_date=today - dt.timedelta(days=20)
    )
    ArrMovement.objects.create(
        client=client, kind="expansion", amount=999, movement_date=today - dt.timedelta(days=400)
    )
    AlertFactory(client=client, type="risk", reason="usage_drop", priority="high")
    AlertFactory(client=client, type="opportunity", reason="upsell_candidate", priority="medium")
    AlertFactory(client=client, type="risk", reason="old", status="closed")
    for i in range(12):
        TimelineEventFactory(
            client=client, occurred_at=now - dt.timedelta(days=i), counts_as_engagement=i < 2
        )
    # usage: 30-day window has 4 active user-days from 2 users; the previous 30 days 2 user-days
    for user, days_ago in [("u1", 0), ("u1", 1), ("u2", 2), ("u2", 29), ("u3", 30), ("u3", 45)]:
        UserActivityDaily.objects.create(
            client=client, user_id=user, date=today - dt.timedelta(days=days_ago), counting_events=1
        )
    TicketFactory(client=client, status="open", priority="P1")
    TicketFactory(client=client, status="in_progress", priority="P3")
    TicketFactory(client=client, status="resolved", priority="P3", resolved_at=now)
    EscalationFactory(client=client)
    HealthSnapshot.objects.create(
        client=client,
        as_of=today,
        health_score=72,
        usage_score=45.0,
        engagement_score=85.0,
        support_score=70.0,
        satisfaction_score=None,
        payment_score=60.0,
        risk_level="medium",
        trend="declining",
        effective_weights={"usage": 0.4118, "engagement": 0.2941, "support": 0.1765, "payment": 0.1176},
        explanation={"top_drivers": [{"component": "usage", "contribution_change": -2.1}]},
        churn_probability=0.28,
        churn_method="churn-heuristic-v1",
        calculated_at=now,
    )
    ChurnPrediction.objects.create(
        client=client,
        as_of=today,
        probability=0.28,
        risk_level="medium",
        method="churn-heuristic-v1",
        horizon_days=90,
        drivers=[{"component": "usage", "risk_contribution": 12.0}],
        data_coverage=0.8,
        created_at=now,
    )
    return client


def test_overview_known_answer(tool, world):
    result = tool("get_client_overview", {"client_id": "ov"})
    assert result["status"] == "success", result
    ov = result["client_overview"]
    assert ov["identity"]["csm_assigned"] == "csm"
    assert ov["identity"]["primary_contact"] == {"name": "Pat", "email": "pat@ov.example"}
    assert (ov["health_score"], ov["health_trend"], ov["risk_level"]) == (72, "declining", "medium")
    assert ov["days_in_stage"] == 12
    assert ov["days_until_renewal"] == 60
    assert ov["payment_status"] == "overdue" and ov["auto_renew"] is False
    assert ov["renewal_probability"] == 0.8 and ov["renewal_risk_level"] == "low"  # RULES §12.2, health 72
    assert ov["revenue"] == {
        "arr": 80000.0,
        "expansion_arr_12m": 10000.0,
        "contraction_arr_12m": 4000.0,
        "open_pipeline_weighted": 0.0,
    }
    assert ov["engagement"]["engagement_events_30d"] == 2
    assert ov["support"]["open_tickets"] == 2
    assert ov["support"]["open_by_priority"] == {"P1": 1, "P3": 1}
    assert ov["support"]["open_escalations"] == 1
    usage = ov["product_usage"]
    assert usage["mau"] == 2 and usage["seats"] == 10
    assert usage["dau_avg"] == 0.13  # 4 active user-days / 30
    assert usage["stickiness"] == 0.0667  # 0.1333 / 2
    assert usage["utilization_rate"] == 0.2
    assert usage["usage_change_rate"] == 1.0  # 4 vs 2 user-days
    assert [r["reason"] for r in ov["risks"]] == ["usage_drop"]
    assert [o["reason"] for o in ov["opportunities"]] == ["upsell_candidate"]
    assert len(ov["recent_activity"]) == 10
    assert result["health_components"] == {
        "usage": 45.0,
        "engagement": 85.0,
        "support": 70.0,
        "satisfaction": None,
        "payment": 60.0,
    }
    assert (
        result["churn_prediction"]["probability"] == 0.28
    )  # the key calculate_health_score uses (TOOLS §3.2)
    assert result["churn_prediction"]["risk_level"] == "medium"
    insights = result["insights"]
    assert insights["overall_status"] == "medium"
    assert insights["key_strengths"] == [{"component": "engagement", "score": 85.0}]
    attention = [(f["rule_id"], f["priority"]) for f in insights["attention_areas"]]
    assert attention == [
        ("HLT-01", "high"),  # usage 45 < 50
        ("HLT-02", "high"),  # declining
        ("HLT-06", "high"),  # usage gain (85 − 45) × 0.4118 = 16.47 ≥ 10
        ("RSK-04", "high"),  # payment overdue
        ("RSK-08", "high"),  # open escalation
        ("HLT-05", "low"),  # satisfaction missing
        ("HLT-06", "low"),
        ("HLT-06", "low"),
    ]
    by_rule = {}
    for f in insights["attention_areas"]:
        by_rule.setdefault(f["rule_id"], []).append(f)
    assert [f["evidence"]["component"] for f in by_rule["HLT-06"]] == ["usage", "payment", "support"]
    assert [f["evidence"]["potential_gain"] for f in by_rule["HLT-06"]] == [16.47, 2.94, 2.65]
    assert by_rule["HLT-05"][0]["evidence"] == {"component": "satisfaction"}
    assert by_rule["HLT-01"][0]["evidence"] == {"component": "usage", "score": 45.0, "threshold": 60}
    assert "RSK-05" not in by_rule  # health 72 ≥ 65
    recommended = [f["rule_id"] for f in insights["recommended_actions"]]
    assert "CORE-02" not in recommended and "CORE-03" not in recommended and "CORE-04" not in recommended
    priorities = [f["priority"] for f in insights["recommended_actions"]]
    ranks = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    assert priorities == sorted(priorities, key=ranks.get)
    gaps = {g["field"] for g in result["data_gaps"]}
    assert "client_overview.support.csat_90d_pct" in gaps
    assert "client_overview.product_usage.core_breadth_rate" in gaps


def test_overview_new_client_nulls_and_gaps(tool):
    ClientFactory(client_id="bare", contract_end_date=None, renewal_date=None, contract_start_date=None)
    result = tool("get_client_overview", {"client_id": "bare"})
    ov = result["client_overview"]
    assert ov["health_score"] is None and ov["renewal_probability"] is None
    assert ov["payment_status"] is None and ov["days_until_renewal"] is None
    assert ov["product_usage"]["mau"] is None
    assert result["health_components"] is None and result["churn_prediction"] is None
    assert result["insights"]["overall_status"] == "not_scored"
    gaps = {g["field"]: g["reason"] for g in result["data_gaps"]}
    assert gaps["client_overview.health_score"] == "no_score"
    assert gaps["client_overview.payment_status"] == "no_contract"
    assert gaps["client_overview.product_usage.mau"] == "no_usage_events"
    assert gaps["client_overview.identity.csm_assigned"] == "no_csm"
    assert [f["rule_id"] for f in result["insights"]["recommended_actions"]] == [
        "CORE-01",
        "CORE-02",
        "CORE-03",
        "CORE-04",
    ]


def test_overview_unknown_client(tool):
    assert error_of(tool("get_client_overview", {"client_id": "ghost"})) == ("NOT_FOUND", "client_id")


def test_overview_core_breadth_comes_from_the_latest_snapshot(tool, world):
    snapshot = HealthSnapshot.objects.filter(client__client_id=world.client_id).latest("as_of")
    snapshot.inputs = {**(snapshot.inputs or {}), "usage": {"core_breadth": 4 / 6, "core_features_used": 4}}
    snapshot.save(update_fields=["inputs"])
    result = tool("get_client_overview", {"client_id": world.client_id})
    assert result["client_overview"]["product_usage"]["core_breadth_rate"] == 0.6667
    assert "client_overview.product_usage.core_breadth_rate" not in {g["field"] for g in result["data_gaps"]}
