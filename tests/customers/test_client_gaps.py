"""Every null client column of the core tools carries its data gap (TOOLS §0.6, RULES §15.2): not scored yet
(``no_score``), scored without a score (``not_enough_data``), scored without a comparison snapshot (trend
``insufficient_history``), no CSM (``no_csm``), no contract dates (``no_contract``)."""

import pytest
from django.utils import timezone

from .factories import ClientFactory

pytestmark = pytest.mark.django_db

NOT_SCORED = "The client has not been scored yet."


def _gaps(result: dict, prefix: str) -> dict[str, tuple[str, str]]:
    return {
        g["field"]: (g["reason"], g["detail"]) for g in result["data_gaps"] if g["field"].startswith(prefix)
    }


def test_register_client_names_every_null_of_the_record(tool):
    result = tool(
        "register_client",
        {
            "client_name": "Gap Co",
            "company_name": "Gap Co Ltd",
            "contract_value": 12000,
            "primary_contact_email": "ann@gap.example",
            "primary_contact_name": "Ann",
        },
    )
    assert result["status"] == "success", result
    record = result["client_record"]
    assert (record["csm_assigned"], record["risk_level"], record["health_trend"]) == (None, None, None)
    assert _gaps(result, "client_record.") == {
        "client_record.users_provisioned": ("no_seat_data", "The contract states no seat count."),
        "client_record.active_users": ("no_usage_events", "No usage event has been received yet."),
        "client_record.feature_adoption_rate": ("no_usage_events", "No usage event has been received yet."),
        "client_record.satisfaction_score": ("no_survey_responses", "No survey response yet."),
        "client_record.health_score": ("no_score", NOT_SCORED),
        "client_record.risk_level": ("no_score", NOT_SCORED),
        "client_record.health_trend": ("no_score", NOT_SCORED),
        "client_record.csm_assigned": ("no_csm", "No CSM assigned."),
    }


def test_update_client_info_names_the_trend_and_the_csm(tool, staff_user):
    ClientFactory(
        client_id="upd",
        health_score=72,
        risk_level="medium",
        health_trend="",
        health_as_of=timezone.localdate(),
        primary_contact_email="pat@upd.example",
    )
    result = tool("update_client_info", {"client_id": "upd", "updates": {"industry": "Retail"}})
    assert result["status"] == "success", result
    assert result["data_gaps"] == [
        {
            "field": "updated_record.health_trend",
            "reason": "insufficient_history",
            "detail": "No official snapshot 7–14 days back.",
        },
        {"field": "updated_record.csm_assigned", "reason": "no_csm", "detail": "No CSM assigned."},
    ]
    assigned = tool("update_client_info", {"client_id": "upd", "updates": {"csm_assigned": "csm"}})
    assert assigned["updated_record"]["csm_assigned"] == "csm"
    assert [g["field"] for g in assigned["data_gaps"]] == ["updated_record.health_trend"]


def test_trend_gap_states_the_configured_window(tool, settings):
    settings.CS_RULES = {**settings.CS_RULES, "health_trend_days": 10}
    ClientFactory(client_id="w", health_score=90, risk_level="low", health_as_of=timezone.localdate())
    result = tool("list_clients", {})
    assert _gaps(result, "clients[0].health_trend") == {
        "clients[0].health_trend": ("insufficient_history", "No official snapshot 10–20 days back.")
    }


def test_list_clients_scored_without_a_score_is_not_enough_data(tool):
    ClientFactory(client_id="low", health_score=None, health_as_of=timezone.localdate())
    result = tool("list_clients", {})
    detail = "The latest calculation had too little data for a score."
    assert {k: v for k, v in _gaps(result, "clients[0].").items() if "health" in k or "risk" in k} == {
        "clients[0].health_score": ("not_enough_data", detail),
        "clients[0].risk_level": ("not_enough_data", detail),
        "clients[0].health_trend": ("not_enough_data", detail),
    }


def test_overview_of_a_bare_client_names_its_nulls(tool):
    ClientFactory(client_id="bare", contract_end_date=None, renewal_date=None, contract_start_date=None)
    result = tool("get_client_overview", {"client_id": "bare"})
    gaps = {g["field"]: g["reason"] for g in result["data_gaps"]}
    assert {k: gaps[k] for k in gaps if k.count(".") == 1 and k.startswith("client_overview.")} == {
        "client_overview.health_score": "no_score",
        "client_overview.risk_level": "no_score",
        "client_overview.health_trend": "no_score",
        "client_overview.health_as_of": "no_score",
        "client_overview.stage_entered_at": "insufficient_history",
        "client_overview.payment_status": "no_contract",
        "client_overview.auto_renew": "no_contract",
        "client_overview.days_until_renewal": "no_contract",
        "client_overview.contract_start_date": "no_contract",
        "client_overview.contract_end_date": "no_contract",
        "client_overview.renewal_probability": "no_score",
        "client_overview.renewal_risk_level": "no_score",
        "client_overview.onboarding": "not_applicable",
    }
