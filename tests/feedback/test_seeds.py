"""The data migration seeds exactly the themes and keywords of RULES §13.4."""

import pytest

from feedback.models import Theme

pytestmark = pytest.mark.django_db

SPEC_THEMES = {
    "support": ["support", "help", "agent", "ticket", "response"],
    "features": ["feature", "functionality", "missing", "request", "roadmap"],
    "performance": ["slow", "fast", "latency", "performance", "timeout", "speed"],
    "ui_ux": ["ui", "interface", "design", "usability", "confusing", "navigation"],
    "pricing": ["price", "pricing", "cost", "expensive", "discount"],
    "integration": ["integration", "api", "sync", "connector", "webhook"],
    "reliability": ["bug", "crash", "error", "outage", "broken", "downtime"],
    "onboarding": ["onboarding", "setup", "training", "documentation"],
    "competitor": [],
}


def test_seeded_themes_match_rules_13_4():
    seeded = {t.key: t.keywords for t in Theme.objects.all()}
    assert seeded == SPEC_THEMES
    assert all(Theme.objects.values_list("active", flat=True))


def test_competitor_keywords_come_from_the_setting():
    competitor = Theme.objects.get(key="competitor")
    assert competitor.keywords == []
    assert competitor.keywords_setting == "competitor_names"
    assert set(Theme.objects.exclude(key="competitor").values_list("keywords_setting", flat=True)) == {""}


def test_no_uncategorized_row_is_seeded():
    assert not Theme.objects.filter(key="uncategorized").exists()
