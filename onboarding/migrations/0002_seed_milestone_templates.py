"""Seed the onboarding milestone template M1–M6 (RULES §9.1). Rows stay editable in the admin."""

from django.db import migrations

MILESTONE_TEMPLATES = [
    {
        "key": "M1",
        "name": "Kickoff & Setup",
        "sequence": 1,
        "template_week": 1,
        "is_final": False,
        "estimated_hours": 8,
        "inclusion": "always",
        "depends_on": [],
        "tasks": ["Kickoff meeting held", "Admin users provisioned", "Success plan agreed"],
        "success_criteria": "m1 achieved",
        "success_rule": "m1_achieved",
    },
    {
        "key": "M2",
        "name": "Core Training",
        "sequence": 2,
        "template_week": 2,
        "is_final": False,
        "estimated_hours": 12,
        "inclusion": "always",
        "depends_on": ["M1"],
        "tasks": ["Training sessions delivered", "Assessments taken"],
        "success_criteria": "trained users ≥ 80 % of team_size and mean assessment ≥ 0.75",
        "success_rule": "training_coverage_and_score",
    },
    {
        "key": "M3",
        "name": "Integration & First Value",
        "sequence": 3,
        "template_week": 3,
        "is_final": False,
        "estimated_hours": 16,
        "inclusion": "always",
        "depends_on": ["M2"],
        "tasks": ["Integration configured", "Primary use case live"],
        "success_criteria": "m5 or m2 achieved",
        "success_rule": "m5_or_m2_achieved",
    },
    {
        "key": "M4",
        "name": "Optimization & Success",
        "sequence": 4,
        "template_week": 4,
        "is_final": False,
        "estimated_hours": 10,
        "inclusion": "always",
        "depends_on": ["M3"],
        "tasks": ["Adoption review", "CSAT pulse"],
        "success_criteria": "mean CSAT during the plan > 4.0 and core breadth ≥ 0.70",
        "success_rule": "csat_and_core_breadth",
    },
    {
        "key": "M5",
        "name": "Advanced Configuration",
        "sequence": 5,
        "template_week": None,
        "is_final": True,
        "estimated_hours": 20,
        "inclusion": "enterprise_tier",
        "depends_on": ["M3"],
        "tasks": ["SSO", "Role-based access", "Custom API"],
        "success_criteria": "m6 achieved or marked complete",
        "success_rule": "m6_achieved_or_marked_complete",
    },
    {
        "key": "M6",
        "name": "Technical Deep Dive",
        "sequence": 6,
        "template_week": None,
        "is_final": True,
        "estimated_hours": 24,
        "inclusion": "high_complexity",
        "depends_on": ["M3"],
        "tasks": ["Architecture review", "Performance review"],
        "success_criteria": "marked complete",
        "success_rule": "marked_complete",
    },
]


def seed(apps, schema_editor):
    MilestoneTemplate = apps.get_model("onboarding", "MilestoneTemplate")
    for row in MILESTONE_TEMPLATES:
        values = {k: v for k, v in row.items() if k != "key"}
        MilestoneTemplate.objects.update_or_create(key=row["key"], defaults=values)


def unseed(apps, schema_editor):
    MilestoneTemplate = apps.get_model("onboarding", "MilestoneTemplate")
    MilestoneTemplate.objects.filter(key__in=[row["key"] for row in MILESTONE_TEMPLATES]).delete()


class Migration(migrations.Migration):
    dependencies = [("onboarding", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
