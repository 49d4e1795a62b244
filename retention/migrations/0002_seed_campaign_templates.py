"""Seed the retention campaign templates (RULES §11.2): base actions with offsets in days from launch."""

from django.db import migrations

TEMPLATES = [
    (
        "proactive_outreach",
        "Proactive outreach",
        [("csm_check_in_call", 2), ("health_review", 5)],
    ),
    (
        "value_reinforcement",
        "Value reinforcement",
        [("value_summary_prepared", 1), ("roi_review_meeting", 7)],
    ),
    (
        "success_planning",
        "Success planning",
        [("success_plan_workshop", 5), ("success_plan_documented", 10)],
    ),
    (
        "executive_engagement",
        "Executive engagement",
        [("exec_sponsor_outreach", 2), ("executive_review_scheduled", 14)],
    ),
    (
        "re_onboarding",
        "Re-onboarding",
        [("re_onboarding_plan_created", 3), ("refresher_training", 10)],
    ),
    (
        "renewal_save",
        "Renewal save",
        [("renewal_risk_review", 1), ("commercial_options_prepared", 5), ("decision_maker_meeting", 10)],
    ),
]


def seed(apps, schema_editor):
    CampaignTemplate = apps.get_model("retention", "CampaignTemplate")
    for campaign_type, name, actions in TEMPLATES:
        CampaignTemplate.objects.update_or_create(
            campaign_type=campaign_type,
            defaults={
                "name": name,
                "actions": [{"action": action, "offset_days": offset} for action, offset in actions],
                "target_health_uplift": 10,
                "target_health_floor": 65,
                "evaluation_window_days": 60,
                "active": True,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("retention", "CampaignTemplate").objects.filter(
        campaign_type__in=[row[0] for row in TEMPLATES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("retention", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
