"""Seed the SLA matrix (RULES §10.1) and the routing table (RULES §10.3)."""

from django.db import migrations

SLA_MATRIX = [
    # priority, first response minutes, resolution minutes
    ("P0", 5, 60),
    ("P1", 15, 240),
    ("P2", 60, 1440),
    ("P3", 240, 2880),
    ("P4", 480, 4320),
]

ROUTING_TABLE = [
    # position, name, priority, category, team
    (10, "priority_p0", "P0", "", "Escalation Team"),
    (20, "priority_p1", "P1", "", "Escalation Team"),
    (30, "category_technical_issue", "", "technical_issue", "Technical Support"),
    (40, "category_bug_report", "", "bug_report", "Engineering Support"),
    (50, "category_feature_request", "", "feature_request", "Product Support"),
    (60, "category_how_to_question", "", "how_to_question", "Customer Success"),
    (70, "category_account_billing", "", "account_billing", "Billing Support"),
    (80, "category_integration_support", "", "integration_support", "Integration Team"),
    (90, "category_training_request", "", "training_request", "Training Team"),
    (100, "category_data_issue", "", "data_issue", "Data Support"),
    (110, "category_performance", "", "performance", "Technical Support"),
    (120, "category_other", "", "other", "Customer Success"),
]


def seed(apps, schema_editor):
    SlaPolicy = apps.get_model("support", "SlaPolicy")
    RoutingRule = apps.get_model("support", "RoutingRule")
    for priority, first_response, resolution in SLA_MATRIX:
        SlaPolicy.objects.update_or_create(
            priority=priority,
            defaults={"first_response_minutes": first_response, "resolution_minutes": resolution},
        )
    for position, name, priority, category, team in ROUTING_TABLE:
        RoutingRule.objects.update_or_create(
            name=name,
            defaults={"position": position, "priority": priority, "category": category, "team": team, "active": True},
        )


def unseed(apps, schema_editor):
    apps.get_model("support", "SlaPolicy").objects.filter(priority__in=[row[0] for row in SLA_MATRIX]).delete()
    apps.get_model("support", "RoutingRule").objects.filter(name__in=[row[1] for row in ROUTING_TABLE]).delete()


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
