"""Each app's published ``client_summary`` (customers.summaries): known answers from that app's real model fields,
and the overview composing them (TOOLS §1.2)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from communication import selectors as communication_selectors
from customers import summaries
from customers.models import Client, Contact
from expansion import selectors as expansion_selectors
from feedback import selectors as feedback_selectors
from health import selectors as health_selectors
from health.models import AdoptionFramework, ChurnPrediction, ClientMilestone, UserActivityDaily
from onboarding import selectors as onboarding_selectors
from retention import selectors as retention_selectors
from support import selectors as support_selectors
from tests.communication.factories import EmailMessageFactory, ExecutiveReviewFactory
from tests.expansion.factories import ExpansionOpportunityFactory, RenewalFactory
from tests.feedback.factories import SurveyResponseFactory
from tests.onboarding.factories import OnboardingPlanFactory
from tests.retention.factories import EscalationFactory
from tests.support.factories import TicketFactory

from .factories import ClientFactory, ContractFactory

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 6, 1)
NOON = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)  # noon of AS_OF (reporting time zone UTC)
APPS = {"onboarding", "support", "retention", "expansion", "feedback", "communication", "health"}


def days_before(n: int, hour: int = 12) -> dt.datetime:
    return NOON.replace(hour=hour) - dt.timedelta(days=n)


def test_every_app_registers_its_selector_in_ready():
    providers = summaries.summary_providers()
    assert set(providers) == APPS
    for label, provider in providers.items():
        assert (provider.__module__, provider.__name__) == (f"{label}.selectors", "client_summary")


# --- onboarding ---------------------------------------------------------------------------------------------


def m2(client, *, days_to_achieve, achieved_on=dt.date(2026, 3, 13)):
    return ClientMilestone.objects.create(
        client=client,
        framework=AdoptionFramework.objects.get(key="standard"),
        milestone_id="m2",
        achieved_on=achieved_on,
        days_to_achieve=days_to_achieve,
        recorded_at=timezone.now(),
    )


def test_onboarding_summary_ttv_is_the_m2_milestone_days():
    client = ClientFactory()
    plan = OnboardingPlanFactory(client=client, completion_pct=Decimal("37.50"), progress_status="behind")
    m2(client, days_to_achieve=12)
    part = onboarding_selectors.client_summary(client=client, as_of=AS_OF)
    assert part["blocks"] == {
        "onboarding": {
            "plan_id": plan.plan_id,
            "status": "in_progress",
            "progress_status": "behind",
            "completion_pct": 37.5,
            "ttv_days": 12,
        }
    }
    assert part["facts"] == {"has_onboarding_plan": True}
    assert part["data_gaps"] == []


def test_onboarding_summary_ttv_null_with_a_gap_until_first_value():
    client = ClientFactory()
    OnboardingPlanFactory(client=client)
    part = onboarding_selectors.client_summary(client=client, as_of=AS_OF)
    assert part["blocks"]["onboarding"]["ttv_days"] is None
    assert [(g["field"], g["reason"]) for g in part["data_gaps"]] == [
        ("client_overview.onboarding.ttv_days", "not_applicable")
    ]


def test_onboarding_summary_cancelled_plan_only():
    client = ClientFactory()
    OnboardingPlanFactory(client=client, status="cancelled", cancelled_at=timezone.now())
    part = onboarding_selectors.client_summary(client=client, as_of=AS_OF)
    assert part["blocks"] == {"onboarding": None}
    assert part["facts"] == {"has_onboarding_plan": True}
    assert [g["field"] for g in part["data_gaps"]] == ["client_overview.onboarding"]


def test_overview_ttv_days_regression(tool):
    """Defect 6: ``onboarding.ttv_days`` was always null (the overview looked for a field that does not exist)."""
    client = ClientFactory(client_id="ttv")
    OnboardingPlanFactory(client=client)
    m2(client, days_to_achieve=19)
    result = tool("get_client_overview", {"client_id": "ttv"})
    assert result["client_overview"]["onboarding"]["ttv_days"] == 19
    assert "client_overview.onboarding.ttv_days" not in {g["field"] for g in result["data_gaps"]}


# --- support, retention, feedback ----------------------------------------------------------------------------


def test_support_summary_open_tickets_and_sla_breaches():
    client = ClientFactory()
    TicketFactory(
        client=client, status="open", priority="P1", created_at=days_before(5)
    )  # no response: breached
    TicketFactory(
        client=client,
        status="in_progress",
        priority="P3",
        created_at=days_before(3),
        first_response_at=days_before(3, hour=13),
        resolution_due_at=NOON + dt.timedelta(days=3650),
    )
    TicketFactory(
        client=client,
        status="resolved",
        priority="P3",
        created_at=days_before(2),
        first_response_at=days_before(2, hour=13),
        resolved_at=days_before(1),
    )
    TicketFactory(client=client, status="closed", created_at=days_before(40))  # breached, outside 30 days
    TicketFactory(status="open")  # another client
    part = support_selectors.client_summary(client=client, as_of=AS_OF)
    assert part["blocks"] == {
        "support": {"open_tickets": 2, "open_by_priority": {"P1": 1, "P3": 1}, "sla_breaches_30d": 1}
    }
    assert part["data_gaps"] == []


def test_retention_summary_open_escalations():
    client = ClientFactory()
    EscalationFactory(client=client, status="open")
    EscalationFactory(client=client, status="in_progress")
    EscalationFactory(client=client, status="resolved", resolved_at=timezone.now())
    part = retention_selectors.client_summary(client=client, as_of=AS_OF)
    assert part["blocks"] == {"support": {"open_escalations": 2}}


def test_feedback_summary_csat_latest_per_respondent_and_detractors():
    client = ClientFactory()
    Contact.objects.create(client=client, email="boss@x.example", name="Boss", role="decision_maker")
    SurveyResponseFactory(
        client=client,
        survey_type="csat",
        score=2,
        respondent_email="a@x.example",
        responded_at=days_before(30),
    )
    SurveyResponseFactory(
        client=client,
        survey_type="csat",
        score=5,
        respondent_email="A@x.example",
        responded_at=days_before(10),
    )
    SurveyResponseFactory(
        client=client,
        survey_type="csat",
        score=3,
        respondent_email="b@x.example",
        responded_at=days_before(5),
    )
    SurveyResponseFactory(
        client=client,
        survey_type="csat",
        score=1,
        respondent_email="c@x.example",
        responded_at=days_before(95),
    )
    SurveyResponseFactory(
        client=client,
        survey_type="nps",
        score=4,
        respondent_email="boss@x.example",
        responded_at=days_before(7),
    )
    SurveyResponseFactory(client=client, survey_type="nps", score=9, responded_at=days_before(7))
    part = feedback_selectors.client_summary(client=client, as_of=AS_OF)
    assert part["blocks"] == {"support": {"csat_90d_pct": 50.0}}  # latest of a (5) and b (3): 1 of 2 ≥ 4
    assert part["facts"] == {"detractor_scores": [4], "decision_maker_detractor": True}
    assert part["data_gaps"] == []


def test_feedback_summary_without_csat_is_null_with_gap():
    part = feedback_selectors.client_summary(client=ClientFactory(), as_of=AS_OF)
    assert part["blocks"] == {"support": {"csat_90d_pct": None}}
    assert part["facts"] == {"detractor_scores": [], "decision_maker_detractor": False}
    assert [(g["field"], g["reason"]) for g in part["data_gaps"]] == [
        ("client_overview.support.csat_90d_pct", "no_survey_responses")
    ]


# --- expansion, communication ---------------------------------------------------------------------------------


def test_expansion_summary_pipeline_opportunities_and_renewal():
    client = ClientFactory()
    first = ExpansionOpportunityFactory(client=client, amount=Decimal("25000"), probability=0.75)
    second = ExpansionOpportunityFactory(
        client=client,
        opportunity_type="user_expansion",
        target_tier="",
        target_seats=20,
        amount=Decimal("10000"),
        probability=None,
        stage="proposal",
    )
    ExpansionOpportunityFactory(client=client, stage="closed_won", closed_at=timezone.now())
    RenewalFactory(contract=ContractFactory(client=client), probability=0.65, status="at_risk")
    part = expansion_selectors.client_summary(client=client, as_of=AS_OF)
    assert part["blocks"]["revenue"] == {
        "open_pipeline_weighted": 18750.0
    }  # 25,000 × 0.75; no probability: out
    assert part["blocks"]["opportunities"] == [
        {
            "kind": "expansion_opportunity",
            "id": first.opportunity_id,
            "type": "tier_upgrade",
            "stage": "identified",
            "value": 25000.0,
            "probability": 0.75,
        },
        {
            "kind": "expansion_opportunity",
            "id": second.opportunity_id,
            "type": "user_expansion",
            "stage": "proposal",
            "value": 10000.0,
            "probability": None,
        },
    ]
    assert part["facts"] == {"renewal_open": True, "renewal_probability": 0.65}


def test_communication_summary_ebrs_and_emails():
    client = ClientFactory()
    ExecutiveReviewFactory(
        client=client, status="completed", scheduled_date=days_before(21), completed_at=days_before(20)
    )
    ExecutiveReviewFactory(client=client, status="scheduled", scheduled_date=NOON + dt.timedelta(days=10))
    ExecutiveReviewFactory(client=client, status="cancelled", scheduled_date=NOON + dt.timedelta(days=3))
    EmailMessageFactory(client=client, sent_at=days_before(1), opened_at=days_before(0, hour=13))
    EmailMessageFactory(client=client, sent_at=days_before(2))
    EmailMessageFactory(client=client, sent_at=days_before(3), track_opens=False)
    EmailMessageFactory(client=client, sent_at=days_before(2), is_internal=True)
    EmailMessageFactory(client=client, sent_at=days_before(45))
    part = communication_selectors.client_summary(client=client, as_of=AS_OF)
    assert part["blocks"] == {
        "engagement": {"last_ebr_date": "2026-05-12", "next_ebr_date": "2026-06-11"},
        "communication": {
            "emails_sent_30d": 3,
            "emails_opened_30d": 1,
            "last_email_at": days_before(1).isoformat(),
        },
    }
    assert part["facts"] == {"ebr_data_available": True, "last_completed_ebr_days_ago": 20}
    assert part["data_gaps"] == []


# --- health ------------------------------------------------------------------------------------------------


def test_health_summary_churn_prediction_uses_the_calculate_health_score_keys():
    """Defect 6: the overview said ``churn_probability`` where ``calculate_health_score`` says ``probability``."""
    client = ClientFactory()
    ChurnPrediction.objects.create(
        client=client,
        as_of=AS_OF,
        probability=0.61234,
        risk_level="high",
        method="churn-heuristic-v1",
        horizon_days=90,
        drivers=[{"component": "usage", "risk_contribution": 20.0}],
        data_coverage=0.8,
        created_at=timezone.now(),
    )
    part = health_selectors.client_summary(client=client, as_of=AS_OF)
    assert part["result"]["churn_prediction"] == {
        "probability": 0.6123,
        "risk_level": "high",
        "method": "churn-heuristic-v1",
        "calibrated": False,
        "horizon_days": 90,
        "drivers": [{"component": "usage", "risk_contribution": 20.0}],
        "predicted_churn_date": None,
        "data_coverage": 0.8,
        "model_metrics": None,
    }
    assert (part["facts"]["churn_level"], part["facts"]["churn_probability"]) == ("high", 0.6123)
    gaps = {g["field"]: g["reason"] for g in part["data_gaps"]}
    assert gaps["churn_prediction.model_metrics"] == "not_applicable"
    assert gaps["health_components"] == "no_score"
    assert gaps["client_overview.product_usage.mau"] == "no_usage_events"
    assert part["blocks"]["product_usage"]["mau"] is None


# --- composition -------------------------------------------------------------------------------------------


def test_overview_without_a_provider_leaves_its_paths_null_with_gaps(tool, monkeypatch):
    ClientFactory(client_id="lonely")
    TicketFactory(client__client_id="other")
    providers = {k: v for k, v in summaries.summary_providers().items() if k != "support"}
    monkeypatch.setattr(summaries, "_PROVIDERS", providers)
    result = tool("get_client_overview", {"client_id": "lonely"})
    support = result["client_overview"]["support"]
    assert (support["open_tickets"], support["open_by_priority"], support["sla_breaches_30d"]) == (
        None,
        None,
        None,
    )
    assert support["open_escalations"] == 0  # retention still publishes its part of the block
    gaps = {g["field"]: g["reason"] for g in result["data_gaps"]}
    assert gaps["client_overview.support.open_tickets"] == "not_applicable"
    assert gaps["client_overview.support.sla_breaches_30d"] == "not_applicable"


# --- list_clients columns ------------------------------------------------------------------------------------


def test_list_columns_providers_are_registered():
    assert set(summaries.list_column_providers()) == {"health", "support"}


def test_support_list_columns_open_tickets_per_client():
    busy, quiet = ClientFactory(), ClientFactory()
    TicketFactory(client=busy, status="open")
    TicketFactory(client=busy, status="waiting_on_customer")
    TicketFactory(client=busy, status="closed")
    part = support_selectors.client_list_columns(
        clients=Client.objects.all(), page=[busy, quiet], as_of=AS_OF
    )
    assert part == {
        "rows": {busy.pk: {"support_tickets_open": 2}, quiet.pk: {"support_tickets_open": 0}},
        "totals": {},
        "data_gaps": [],
    }


def test_health_list_columns_mau_and_set_total():
    active, idle, unseen = (
        ClientFactory(client_id="a"),
        ClientFactory(client_id="i"),
        ClientFactory(client_id="u"),
    )
    for user, days_ago in [("u1", 0), ("u1", 3), ("u2", 29), ("u3", 30)]:
        UserActivityDaily.objects.create(
            client=active, user_id=user, date=AS_OF - dt.timedelta(days=days_ago), counting_events=1
        )
    UserActivityDaily.objects.create(
        client=idle, user_id="x", date=AS_OF - dt.timedelta(days=45), counting_events=1
    )
    part = health_selectors.client_list_columns(
        clients=Client.objects.all(), page=[active, idle, unseen], as_of=AS_OF
    )
    assert part["rows"] == {
        active.pk: {"active_users": 2},  # u1, u2 in the 30 days ending AS_OF; u3 is day 31
        idle.pk: {"active_users": 0},
        unseen.pk: {"active_users": None},
    }
    assert part["totals"] == {"total_active_users": 2}
    assert [(g["field"], g["reason"]) for g in part["data_gaps"]] == [
        ("clients[2].active_users", "no_usage_events")
    ]


def test_list_without_a_provider_leaves_its_columns_null_with_gaps(tool, monkeypatch):
    ClientFactory(client_id="solo")
    providers = {k: v for k, v in summaries.list_column_providers().items() if k != "support"}
    monkeypatch.setattr(summaries, "_LIST_PROVIDERS", providers)
    result = tool("list_clients", {})
    assert result["clients"][0]["support_tickets_open"] is None
    gaps = {g["field"]: g["reason"] for g in result["data_gaps"]}
    assert gaps["clients[0].support_tickets_open"] == "not_applicable"
