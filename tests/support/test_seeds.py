"""The data migrations seed exactly the tables of RULES §10.1 and §10.3."""

import pytest

from support.choices import SupportTeam, TicketCategory, TicketPriority
from support.models import RoutingRule, SlaPolicy

pytestmark = pytest.mark.django_db


def test_sla_matrix_matches_rules_10_1():
    rows = {p.priority: (p.first_response_minutes, p.resolution_minutes) for p in SlaPolicy.objects.all()}
    assert rows == {
        "P0": (5, 60),
        "P1": (15, 240),
        "P2": (60, 1440),
        "P3": (240, 2880),
        "P4": (480, 4320),
    }
    assert set(rows) == set(TicketPriority.values)


def test_routing_table_matches_rules_10_3():
    rules = list(RoutingRule.objects.order_by("position"))
    assert all(rule.active for rule in rules)
    by_priority = {r.priority: r.team for r in rules if r.priority}
    by_category = {r.category: r.team for r in rules if r.category}
    assert by_priority == {"P0": "Escalation Team", "P1": "Escalation Team"}
    assert by_category == {
        "technical_issue": "Technical Support",
        "bug_report": "Engineering Support",
        "feature_request": "Product Support",
        "how_to_question": "Customer Success",
        "account_billing": "Billing Support",
        "integration_support": "Integration Team",
        "training_request": "Training Team",
        "data_issue": "Data Support",
        "performance": "Technical Support",
        "other": "Customer Success",
    }
    # every category is routed, and priority rules are evaluated before category rules
    assert set(by_category) == set(TicketCategory.values)
    first_category_position = min(r.position for r in rules if r.category)
    assert all(r.position < first_category_position for r in rules if r.priority)
    assert {r.team for r in rules} <= set(SupportTeam.values)
