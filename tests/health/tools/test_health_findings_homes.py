"""HLT-03 and HLT-08 have one home, customers.rules (issue 8, defect 5): calculate_health_score and the client
overview build them through the same functions, with the caller's risk threshold for HLT-03."""

import pytest

from customers import rules
from tests.customers.factories import ContactFactory
from tests.feedback.factories import SurveyResponseFactory

from .conftest import at, days_ago
from .test_calculate_health_score import world  # noqa: F401 - the fixture (health 74, medium)

pytestmark = pytest.mark.django_db

COMPONENTS = {"usage": 90.0, "engagement": 90.0, "support": 90.0, "satisfaction": 90.0, "payment": 90.0}


def _hlt03(**kwargs):
    found = rules.health_findings(health_trend=None, components=COMPONENTS, **kwargs)
    return [f for f in found if f["rule_id"] == "HLT-03"]


def test_hlt03_uses_the_callers_threshold_else_the_setting(settings):
    settings.CS_RULES = {**settings.CS_RULES, "at_risk_threshold": 60}
    assert _hlt03(health_score=55, risk_threshold=50) == []
    assert _hlt03(health_score=74, risk_threshold=80.0)[0]["evidence"] == {
        "health_score": 74,
        "threshold": 80.0,
    }
    assert _hlt03(health_score=74, risk_threshold=80.0)[0]["priority"] == "high"
    assert _hlt03(health_score=45, risk_threshold=80.0)[0]["priority"] == "critical"
    assert _hlt03(health_score=55)[0]["evidence"] == {"health_score": 55, "threshold": 60}
    settings.CS_RULES = {**settings.CS_RULES, "at_risk_threshold": 50}
    assert _hlt03(health_score=55) == []


def test_hlt08_is_one_finding_for_both_callers():
    detail = {"score": 3.0, "role": "decision_maker", "respondent_email": "cfo@acme.test"}
    expected = {
        "rule_id": "HLT-08",
        "title": "Decision-maker detractor",
        "action": "Hold an executive call with cfo@acme.test.",
        "priority": "high",
        "evidence": {"decision_maker_detractor": True, **detail},
        "tool_hint": "conduct_executive_review",
    }
    assert rules.decision_maker_detractor_finding(detail) == expected
    overview = rules.risk_findings(
        health_score=None,
        days_until_renewal=None,
        payment_status=None,
        primary_contact_changed_days_ago=None,
        days_since_engagement=None,
        open_escalations=None,
        sla_breaches_30d=None,
        detractor_scores=[3],
        decision_maker_detractor=detail,
    )
    assert [f for f in overview if f["rule_id"] == "HLT-08"] == [expected]
    anonymous = rules.decision_maker_detractor_finding()
    assert anonymous["action"] == "Hold an executive call with the respondent."
    assert anonymous["evidence"] == {"decision_maker_detractor": True}


def test_calculate_health_score_threshold_below_the_setting_gives_no_hlt03(world, call, settings):  # noqa: F811
    settings.CS_RULES = {**settings.CS_RULES, "at_risk_threshold": 80}
    out = call("calculate_health_score", client_id="acme", risk_threshold=70)
    assert out["current_health_score"] == 74
    assert not [f for f in out["recommended_actions"] if f["rule_id"] == "HLT-03"]
    assert out["automated_alerts"] == []


def test_calculate_health_score_decision_maker_detractor(world, call, T):  # noqa: F811
    contact = ContactFactory(client=world, role="decision_maker", email="cfo@acme.test")
    SurveyResponseFactory(
        client=world, contact=contact, respondent_email="cfo@acme.test", score=4, responded_at=at(days_ago(5))
    )
    out = call("calculate_health_score", client_id="acme")
    assert out["status"] == "success", out
    evidence = {
        "score": 4.0,
        "responded_at": at(days_ago(5)).isoformat(),
        "role": "decision_maker",
        "respondent_email": "cfo@acme.test",
    }
    hlt08 = [f for f in out["recommended_actions"] if f["rule_id"] == "HLT-08"]
    assert hlt08 == [rules.decision_maker_detractor_finding(evidence)]
    assert hlt08[0]["evidence"]["decision_maker_detractor"] is True
    indicators = [i for i in out["risk_indicators"] if i["indicator"] == "decision_maker_detractor"]
    assert indicators == [{"indicator": "decision_maker_detractor", "severity": "high", "evidence": evidence}]
