"""Every support admin changelist and change page renders for a superuser with constant query counts."""

import datetime as dt

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from support import models
from support.choices import KbArticleStatus, PortalResourceType, PortalScope, TicketStatus

from .factories import (
    BASE_TIME,
    KbArticleFactory,
    KbArticleVersionFactory,
    KbSearchLogFactory,
    KbVoteFactory,
    PortalActivityFactory,
    PortalConfigFactory,
    PortalResourceFactory,
    SupportAgentFactory,
    TicketCommentFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db

MAX_CHANGELIST_QUERIES = 15
MAX_CHANGE_PAGE_QUERIES = 25


def _ticket():
    agent = SupportAgentFactory()
    ticket = TicketFactory(
        assigned_agent=agent,
        status=TicketStatus.RESOLVED,
        resolved_at=BASE_TIME + dt.timedelta(hours=3),
        satisfaction_rating=4,
    )
    TicketCommentFactory(ticket=ticket)
    TicketCommentFactory(ticket=ticket, is_public=False, body="internal note")
    return ticket


def _article():
    article = KbArticleFactory(status=KbArticleStatus.PUBLISHED, published_at=BASE_TIME)
    KbArticleVersionFactory(article=article, version=1)
    KbArticleVersionFactory(article=article, version=2)
    return article


def _portal_resource():
    return PortalResourceFactory(
        resource_type=PortalResourceType.KB_ARTICLE, kb_article=KbArticleFactory(), url=""
    )


def _portal_config():
    if not models.PortalConfig.objects.filter(scope=PortalScope.GLOBAL).exists():
        return models.PortalConfig.objects.create(scope=PortalScope.GLOBAL, features={"chat": False})
    return PortalConfigFactory()


def _agent():
    return SupportAgentFactory()


def _activity():
    return PortalActivityFactory(portal_resource=PortalResourceFactory())


#: model → builder of one more row; None for the seeded config tables (SLA matrix, routing), listed as seeded.
BUILDERS = {
    models.SupportAgent: _agent,
    models.SlaPolicy: None,
    models.RoutingRule: None,
    models.Ticket: _ticket,
    models.TicketComment: lambda: TicketCommentFactory(ticket=_ticket()),
    models.KbArticle: _article,
    models.KbArticleVersion: lambda: KbArticleVersionFactory(article=KbArticleFactory()),
    models.KbVote: lambda: KbVoteFactory(),
    models.KbSearchLog: lambda: KbSearchLogFactory(),
    models.PortalConfig: _portal_config,
    models.PortalResource: _portal_resource,
    models.PortalActivity: _activity,
}


def test_every_support_model_is_registered():
    from django.apps import apps

    assert set(apps.get_app_config("support").get_models()) == set(BUILDERS)
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
    # search and filters work too
    assert _get(admin_client, url + "?q=abc") <= MAX_CHANGELIST_QUERIES


@pytest.mark.parametrize("model", list(BUILDERS), ids=lambda m: m.__name__)
def test_change_and_add_pages_render(admin_client, model):
    build = BUILDERS[model]
    obj = build() if build else model.objects.first()
    obj = obj if isinstance(obj, model) else model.objects.order_by("-pk").first()
    assert _get(admin_client, _url(model, "change", obj.pk)) <= MAX_CHANGE_PAGE_QUERIES
    assert _get(admin_client, _url(model, "add")) <= MAX_CHANGE_PAGE_QUERIES
