"""Seed the default health scorecard (RULES §4.4), the five value tiers (§6.1) and the `standard` adoption
framework (§8). Idempotent: existing rows (by natural key) are left as edited in the admin."""

from decimal import Decimal

from django.db import migrations

VALUE_TIERS = [
    # name, min, max (exclusive), colour, priority, touch, ebr, health, nps, grr
    ("strategic", "200000", None, "platinum", 1, "weekly", "quarterly", 90, 60, "0.98"),
    ("enterprise", "100000", "200000", "gold", 2, "weekly", "quarterly", 90, 60, "0.98"),
    ("professional", "50000", "100000", "silver", 3, "every_2_weeks", "semi_annual", 85, 55, "0.95"),
    ("standard", "10000", "50000", "bronze", 4, "monthly", "annual", 80, 50, "0.90"),
    ("starter", "0", "10000", "standard", 5, "quarterly_digital", "none", None, None, None),
]

STANDARD_MILESTONES = [
    {
        "id": "m1",
        "name": "Account Activated",
        "typical_days": 3,
        "importance": "critical",
        "category": "activation",
        "criterion": {"type": "first_counting_event"},
    },
    {
        "id": "m2",
        "name": "First Value Achieved",
        "typical_days": 14,
        "importance": "critical",
        "category": "value_realization",
        "criterion": {
            "any": [{"type": "value_event_used"}, {"type": "onboarding_milestone_completed", "key": "M3"}],
        },
    },
    {
        "id": "m3",
        "name": "Team Onboarded",
        "typical_days": 30,
        "importance": "high",
        "category": "adoption",
        "criterion": {
            "all": [
                {"type": "active_users_at_least", "n": 5, "window_days": 30},
                {"type": "training_passed_at_least", "n": 1},
            ],
        },
    },
    {
        "id": "m4",
        "name": "Core Features Adopted",
        "typical_days": 60,
        "importance": "high",
        "category": "adoption",
        "criterion": {"type": "core_breadth_at_least", "ratio": 0.7, "window_days": 30},
    },
    {
        "id": "m5",
        "name": "Integration Connected",
        "typical_days": 45,
        "importance": "medium",
        "category": "integration",
        "criterion": {"type": "feature_category_used", "category": "integration"},
    },
    {
        "id": "m6",
        "name": "Advanced Features Explored",
        "typical_days": 90,
        "importance": "medium",
        "category": "expansion",
        "criterion": {"type": "feature_category_used", "category": "advanced"},
    },
    {
        "id": "m7",
        "name": "Business Impact Measured",
        "typical_days": 120,
        "importance": "critical",
        "category": "value_realization",
        "criterion": {
            "any": [{"type": "ebr_completed", "min_rating": 4}, {"type": "onboarding_success_criteria_met"}],
        },
    },
    {
        "id": "m8",
        "name": "Champion Developed",
        "typical_days": 180,
        "importance": "high",
        "category": "advocacy",
        "criterion": {
            "any": [
                {"type": "advocate_enrolled"},
                {"type": "nps_promoter", "roles": ["champion", "decision_maker", "executive_sponsor"]},
            ],
        },
    },
]


def seed(apps, schema_editor):
    HealthScorecard = apps.get_model("health", "HealthScorecard")
    ValueTier = apps.get_model("health", "ValueTier")
    AdoptionFramework = apps.get_model("health", "AdoptionFramework")

    if not HealthScorecard.objects.filter(is_default=True, is_active=True).exists():
        HealthScorecard.objects.create(
            name="Default",
            priority=100,
            usage_weight=Decimal("0.35"),
            engagement_weight=Decimal("0.25"),
            support_weight=Decimal("0.15"),
            satisfaction_weight=Decimal("0.15"),
            payment_weight=Decimal("0.10"),
            is_active=True,
            is_default=True,
        )
    for name, low, high, colour, priority, touch, ebr, health, nps, grr in VALUE_TIERS:
        ValueTier.objects.get_or_create(
            name=name,
            defaults={
                "min_arr": Decimal(low),
                "max_arr": Decimal(high) if high else None,
                "colour": colour,
                "priority": priority,
                "touch_cadence": touch,
                "ebr_cadence": ebr,
                "target_health": health,
                "target_nps": nps,
                "target_grr": Decimal(grr) if grr else None,
            },
        )
    AdoptionFramework.objects.get_or_create(
        key="standard",
        defaults={"name": "Standard adoption milestones", "industry": None, "milestones": STANDARD_MILESTONES},
    )


class Migration(migrations.Migration):
    dependencies = [("health", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
