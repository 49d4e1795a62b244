"""Every retention admin changelist and change page renders for a superuser with constant query counts."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from retention import models
from tests.support.factories import SupportAgentFactory, TicketFactory, UserFactory

from .factories import (
    ChurnPostmortemFactory,
    EscalationFactory,
    RetentionActionFactory,
    RetentionCampaignFactory,
)

pytestmark = pytest.mark.django_db

MAX_CHANGELIST_QUERIES = 15
MAX_CHANGE_PAGE_QUERIES = 25


def _campaign():
    campaign = RetentionCampaignFactory(created_by=UserFactory())
    owner = UserFactory()
    RetentionActionFactory(campaign=campaign, sequence=1, owner=owner)
    RetentionActionFactory(
        campaign=campaign, sequence=2, action_type="health_review", offset_days=5, owner=owner
    )
    return campaign


def _action():
    return RetentionActionFactory(sequence=1, owner=UserFactory())


def _escalation():
    campaign = RetentionCampaignFactory()
    ticket = TicketFactory(client=campaign.client, assigned_agent=SupportAgentFactory())
    return EscalationFactory(
        client=campaign.client, ticket=ticket, campaign=campaign, assigned_to=UserFactory()
    )


#: model → builder of one more row; None for the seeded campaign templates.
BUILDERS = {
    models.CampaignTemplate: None,
    models.RetentionCampaign: _campaign,
    models.RetentionAction: _action,
    models.Escalation: _escalation,
    models.ChurnPostmortem: lambda: ChurnPostmortemFactory(),
}


def test_every_retention_model_is_registered():
    assert set(apps.get_app_config("retention").get_models()) == set(BUILDERS)
    assert all(admin.site.is_registered(model) for model in BUILDERS)


def _url(model, name, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{name}", args=args)


def _get(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx)


@pytest.mark.parametrize("model", list(BUILDERS), ids=lambda m: m.__name__)
def test_changelist_renders_with_constant_queries(admin_client, model):
    build = BUILDERS[model]
    if build:
        build()
    url = _url(model, "changelist")
    few = _get(admin_client, url)
    if build:
        for _ in range(4):
            build()
    many = _get(admin_client, url)
    assert many == few
    assert many <= MAX_CHANGELIST_QUERIES
    assert _get(admin_client, url + "?q=abc") <= MAX_CHANGELIST_QUERIES


@pytest.mark.parametrize("model", list(BUILDERS), ids=lambda m: m.__name__)
def test_change_and_add_pages_render(admin_client, model):
    build = BUILDERS[model]
    obj = build() if build else model.objects.first()
    assert _get(admin_client, _url(model, "change", obj.pk)) <= MAX_CHANGE_PAGE_QUERIES
    assert _get(admin_client, _url(model, "add")) <= MAX_CHANGE_PAGE_QUERIES
