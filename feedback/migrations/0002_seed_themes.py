"""Seed the feedback themes of RULES §13.4 (editable in the admin afterwards).

The ``competitor`` theme has no stored keywords: its words are the ``competitor_names`` setting (empty by
default), read at run time through ``keywords_setting``.
"""

from django.db import migrations

THEMES = [
    ("support", "Support", ["support", "help", "agent", "ticket", "response"], ""),
    ("features", "Features", ["feature", "functionality", "missing", "request", "roadmap"], ""),
    ("performance", "Performance", ["slow", "fast", "latency", "performance", "timeout", "speed"], ""),
    ("ui_ux", "UI / UX", ["ui", "interface", "design", "usability", "confusing", "navigation"], ""),
    ("pricing", "Pricing", ["price", "pricing", "cost", "expensive", "discount"], ""),
    ("integration", "Integration", ["integration", "api", "sync", "connector", "webhook"], ""),
    ("reliability", "Reliability", ["bug", "crash", "error", "outage", "broken", "downtime"], ""),
    ("onboarding", "Onboarding", ["onboarding", "setup", "training", "documentation"], ""),
    ("competitor", "Competitor", [], "competitor_names"),
]


def seed(apps, schema_editor):
    Theme = apps.get_model("feedback", "Theme")
    for key, name, keywords, setting in THEMES:
        Theme.objects.update_or_create(
            key=key,
            defaults={
                "name": name,
                "keywords": keywords,
                "keywords_setting": setting,
                "description": "Seeded from RULES §13.4.",
                "active": True,
            },
        )


def unseed(apps, schema_editor):
    Theme = apps.get_model("feedback", "Theme")
    Theme.objects.filter(key__in=[key for key, *_ in THEMES], feedback_items__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("feedback", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
