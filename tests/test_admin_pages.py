"""Every admin changelist and change page renders for staff on a seeded world, at a bounded query count.

A changelist shows up to 100 rows, so an N+1 query in ``list_display`` would blow far past the bound.
"""

import datetime as dt

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db

CHANGELIST_MAX_QUERIES = 20
CHANGE_PAGE_MAX_QUERIES = 40
OUR_APPS = {
    "customers",
    "health",
    "onboarding",
    "retention",
    "communication",
    "support",
    "expansion",
    "feedback",
    "core",
}


@pytest.fixture
def seeded_admin_client(client, staff_user):
    call_command(
        "seed_demo", accounts=40, days=14, seed=5, as_of=dt.date(2026, 11, 20), quiet=True, no_score=True
    )
    client.force_login(staff_user)
    return client


def _our_models():
    return sorted(
        (m for m in admin.site._registry if m._meta.app_label in OUR_APPS), key=lambda m: m._meta.label
    )


def test_every_model_of_our_apps_is_registered():
    from django.apps import apps

    missing = [
        m._meta.label
        for app in OUR_APPS
        for m in apps.get_app_config(app).get_models()
        if m not in admin.site._registry and not m._meta.auto_created
    ]
    assert missing == []


def test_changelists_and_change_pages_render(seeded_admin_client):
    failures = []
    for model in _our_models():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        with CaptureQueriesContext(connection) as ctx:
            response = seeded_admin_client.get(url)
        if response.status_code != 200:
            failures.append(f"{url}: HTTP {response.status_code}")
            continue
        if len(ctx.captured_queries) > CHANGELIST_MAX_QUERIES:
            failures.append(f"{url}: {len(ctx.captured_queries)} queries")
        obj = model._default_manager.order_by("pk").first()
        if obj is None:
            continue
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        with CaptureQueriesContext(connection) as ctx:
            response = seeded_admin_client.get(change_url)
        if response.status_code != 200:
            failures.append(f"{change_url}: HTTP {response.status_code}")
        elif len(ctx.captured_queries) > CHANGE_PAGE_MAX_QUERIES:
            failures.append(f"{change_url}: {len(ctx.captured_queries)} queries")
    assert failures == []


def test_admin_requires_staff_login(client, django_user_model):
    assert client.get("/admin/customers/client/").status_code == 302
    user = django_user_model.objects.create_user("plain", password="plain-pass-123!")
    client.force_login(user)
    assert client.get("/admin/customers/client/").status_code == 302


def test_client_page_shows_health_chart_and_explanation_link(client, superuser):
    import datetime as dt

    from health.scoring import score_client
    from tests.customers.factories import ClientFactory

    acme = ClientFactory(client_id="acme")
    score_client("acme", as_of=dt.date(2026, 11, 1))
    score_client("acme", as_of=dt.date.today())
    client.force_login(superuser)
    page = client.get(reverse("admin:customers_client_change", args=[acme.pk])).content.decode()
    assert "<svg" in page
    assert "Health history" in page
    history = client.get(f"/admin/health/healthsnapshot/client/{acme.pk}/")
    assert history.status_code == 200
    assert "<svg" in history.content.decode()


def _fieldset(page: str, title: str) -> str:
    """The HTML of the change page's fieldset headed ``title``."""
    start = page.index(f'class="fieldset-heading">{title}</h2>')
    return page[start : page.index("</fieldset>", start)]


def test_client_change_page_shows_the_health_panel_health_registers(client, superuser):
    """health adds its 90-day chart to the Client page through customers.admin_hooks (customers imports no
    health module): in the Health fieldset, one dot per official snapshot of the last 90 days, and the link to
    the client's health history page."""
    from django.utils import timezone

    from customers.admin_hooks import HEALTH_FIELDSET
    from health.models import HealthSnapshot
    from tests.customers.factories import ClientFactory

    acme = ClientFactory(client_id="acme", health_score=58, risk_level="high")
    bare = ClientFactory(client_id="bare")
    today = timezone.localdate()
    for days_ago, score, band in ((200, 90, "low"), (20, 72, "medium"), (5, 58, "high")):
        HealthSnapshot.objects.create(
            client=acme,
            as_of=today - dt.timedelta(days=days_ago),
            health_score=score,
            risk_level=band,
            calculated_at=timezone.now(),
        )
    client.force_login(superuser)

    page = client.get(reverse("admin:customers_client_change", args=[acme.pk])).content.decode()
    health = _fieldset(page, HEALTH_FIELDSET)
    assert 'class="form-row field-health_history"' in health
    assert "<label>Health history (90 days):</label>" in health
    assert health.count("<svg") == 1 and health.count("<circle") == 2
    assert f"<title>{today - dt.timedelta(days=20)}: 72</title>" in health
    assert f"<title>{today - dt.timedelta(days=5)}: 58</title>" in health
    assert ": 90</title>" not in health
    assert f'<a href="/admin/health/healthsnapshot/client/{acme.pk}/">Health history (58)</a>' in health

    empty = _fieldset(
        client.get(reverse("admin:customers_client_change", args=[bare.pk])).content.decode(), HEALTH_FIELDSET
    )
    assert "No health snapshot yet." in empty and "<svg" not in empty
