"""The data migration seeds exactly the milestone template of RULES §9.1."""

import pytest

from onboarding.models import MilestoneTemplate

pytestmark = pytest.mark.django_db


def test_seed_has_exactly_m1_to_m6_in_order():
    assert list(MilestoneTemplate.objects.values_list("key", flat=True)) == [
        "M1",
        "M2",
        "M3",
        "M4",
        "M5",
        "M6",
    ]


def test_seed_values_match_rules_9_1():
    rows = {
        t.key: (t.name, t.template_week, t.is_final, t.estimated_hours, t.inclusion, t.depends_on)
        for t in MilestoneTemplate.objects.all()
    }
    assert rows == {
        "M1": ("Kickoff & Setup", 1, False, 8, "always", []),
        "M2": ("Core Training", 2, False, 12, "always", ["M1"]),
        "M3": ("Integration & First Value", 3, False, 16, "always", ["M2"]),
        "M4": ("Optimization & Success", 4, False, 10, "always", ["M3"]),
        "M5": ("Advanced Configuration", None, True, 20, "enterprise_tier", ["M3"]),
        "M6": ("Technical Deep Dive", None, True, 24, "high_complexity", ["M3"]),
    }


def test_seed_hours_totals():
    hours = dict(MilestoneTemplate.objects.values_list("key", "estimated_hours"))
    assert sum(hours[k] for k in ("M1", "M2", "M3", "M4")) == 46
    assert sum(hours.values()) == 90


def test_seed_tasks_and_measured_criteria():
    tasks = dict(MilestoneTemplate.objects.values_list("key", "tasks"))
    assert tasks["M1"] == ["Kickoff meeting held", "Admin users provisioned", "Success plan agreed"]
    assert tasks["M2"] == ["Training sessions delivered", "Assessments taken"]
    assert tasks["M3"] == ["Integration configured", "Primary use case live"]
    assert tasks["M4"] == ["Adoption review", "CSAT pulse"]
    assert tasks["M5"] == ["SSO", "Role-based access", "Custom API"]
    assert tasks["M6"] == ["Architecture review", "Performance review"]
    rules = dict(MilestoneTemplate.objects.values_list("key", "success_rule"))
    assert rules == {
        "M1": "m1_achieved",
        "M2": "training_coverage_and_score",
        "M3": "m5_or_m2_achieved",
        "M4": "csat_and_core_breadth",
        "M5": "m6_achieved_or_marked_complete",
        "M6": "marked_complete",
    }
