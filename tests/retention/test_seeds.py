"""The data migration seeds exactly the campaign templates of RULES §11.2; fixed tables match §11.3–11.4."""

import pytest

from customers.choices import Severity
from retention.choices import (
    AUTOMATION_TEMPLATE_CAMPAIGNS,
    ESCALATION_PLAN_STEPS,
    ESCALATION_SLA_HOURS,
    TICKET_PRIORITY_TO_SEVERITY,
    CampaignType,
    RetentionActionType,
)
from retention.models import CampaignTemplate

pytestmark = pytest.mark.django_db


def test_campaign_templates_match_rules_11_2():
    templates = {t.campaign_type: t for t in CampaignTemplate.objects.all()}
    actions = {kind: [(a["action"], a["offset_days"]) for a in t.actions] for kind, t in templates.items()}
    assert actions == {
        "proactive_outreach": [("csm_check_in_call", 2), ("health_review", 5)],
        "value_reinforcement": [("value_summary_prepared", 1), ("roi_review_meeting", 7)],
        "success_planning": [("success_plan_workshop", 5), ("success_plan_documented", 10)],
        "executive_engagement": [("exec_sponsor_outreach", 2), ("executive_review_scheduled", 14)],
        "re_onboarding": [("re_onboarding_plan_created", 3), ("refresher_training", 10)],
        "renewal_save": [
            ("renewal_risk_review", 1),
            ("commercial_options_prepared", 5),
            ("decision_maker_meeting", 10),
        ],
    }
    assert set(templates) == set(CampaignType.values)
    for template in templates.values():
        assert template.active
        assert (template.target_health_uplift, template.target_health_floor) == (10, 65)
        assert template.evaluation_window_days == 60
        assert all(a["action"] in RetentionActionType.values for a in template.actions)


def test_automation_template_mapping_matches_rules_11_3():
    assert AUTOMATION_TEMPLATE_CAMPAIGNS == {
        "standard_intervention": ("proactive_outreach", "standard"),
        "light_touch": ("proactive_outreach", "light"),
        "value_reinforcement": ("value_reinforcement", "standard"),
        "executive_save": ("executive_engagement", "aggressive"),
        "renewal_save": ("renewal_save", "aggressive"),
    }


def test_escalation_tables_match_rules_11_4():
    assert ESCALATION_SLA_HOURS == {"critical": 4, "high": 24, "medium": 24, "low": 24}
    assert TICKET_PRIORITY_TO_SEVERITY == {
        "P0": Severity.CRITICAL,
        "P1": Severity.HIGH,
        "P2": Severity.MEDIUM,
        "P3": Severity.LOW,
        "P4": Severity.LOW,
    }
    assert [fraction for _, fraction in ESCALATION_PLAN_STEPS] == [0.1, 0.5, 0.8, 0.9, 1.0]
