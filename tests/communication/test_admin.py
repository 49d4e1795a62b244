"""Every communication admin changelist and change page renders for a superuser with a bounded query count.

Changelists must run the same number of queries for 1 and for 4 rows (no N+1).
"""

import itertools

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from communication import models
from communication.choices import EbrStatus, WorkflowKind

from .factories import (
    NOW,
    AdvocateContributionFactory,
    CommunityMemberFactory,
    CommunityPostFactory,
    EmailMessageFactory,
    EmailSuppressionFactory,
    ExecutiveReviewActionItemFactory,
    ExecutiveReviewFactory,
    NewsletterFactory,
    NewsletterSubscriptionFactory,
    WorkflowEnrollmentFactory,
    WorkflowFactory,
    WorkflowRunFactory,
)

pytestmark = pytest.mark.django_db

MAX_CHANGELIST_QUERIES = 12
MAX_CHANGE_PAGE_QUERIES = 30
_counter = itertools.count(1)


def populate():
    """One full, independent graph of communication rows."""
    next(_counter)
    message = EmailMessageFactory()
    client = message.client
    EmailSuppressionFactory()
    workflow = WorkflowFactory(client=client, kind=WorkflowKind.RETENTION)
    enrollment = WorkflowEnrollmentFactory(workflow=workflow, client=client)
    WorkflowRunFactory(workflow=workflow, enrollment=enrollment, client=client)
    member = CommunityMemberFactory(client=client)
    CommunityPostFactory(member=member)
    AdvocateContributionFactory.create_batch(2, advocate__client=client)
    previous = ExecutiveReviewFactory(
        client=client, status=EbrStatus.COMPLETED, completed_at=NOW, satisfaction_rating=4
    )
    ExecutiveReviewActionItemFactory.create_batch(2, review=previous)
    ExecutiveReviewFactory(client=client, previous_review=previous)
    NewsletterFactory()
    NewsletterSubscriptionFactory(client=client)


APP_MODELS = sorted(
    (m for m in admin.site._registry if m._meta.app_label == "communication"),
    key=lambda m: m._meta.model_name,
)


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _get(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_every_communication_model_is_registered():
    expected = {
        "EmailCampaign",
        "EmailMessage",
        "EmailSuppression",
        "Workflow",
        "WorkflowEnrollment",
        "WorkflowRun",
        "Community",
        "CommunityMember",
        "CommunityPost",
        "Advocate",
        "AdvocateContribution",
        "ExecutiveReview",
        "ExecutiveReviewActionItem",
        "Newsletter",
        "NewsletterSubscription",
    }
    assert {m.__name__ for m in APP_MODELS} == expected


@pytest.mark.parametrize("model", APP_MODELS, ids=lambda m: m.__name__)
def test_changelist_query_count_is_constant(admin_client, model):
    populate()
    url = _url(model, "changelist")
    one = _get(admin_client, url)
    for _ in range(3):
        populate()
    four = _get(admin_client, url)
    assert four == one, f"{model.__name__} changelist: {one} queries for 1 set, {four} for 4"
    assert four <= MAX_CHANGELIST_QUERIES


@pytest.mark.parametrize("model", APP_MODELS, ids=lambda m: m.__name__)
def test_change_and_add_pages_render(admin_client, model):
    populate()
    obj = model.objects.order_by("-pk").first()
    assert _get(admin_client, _url(model, "change", obj.pk)) <= MAX_CHANGE_PAGE_QUERIES
    assert _get(admin_client, _url(model, "add")) <= MAX_CHANGE_PAGE_QUERIES


def test_inlines_on_parent_pages(admin_client):
    populate()
    review = models.ExecutiveReview.objects.filter(action_items__isnull=False).first()
    body = admin_client.get(_url(models.ExecutiveReview, "change", review.pk)).content.decode()
    assert "action_items-TOTAL_FORMS" in body
    advocate = models.Advocate.objects.first()
    body = admin_client.get(_url(models.Advocate, "change", advocate.pk)).content.decode()
    assert "contributions-TOTAL_FORMS" in body
    community = models.CommunityPost.objects.first().community
    body = admin_client.get(_url(models.Community, "change", community.pk)).content.decode()
    assert "posts-TOTAL_FORMS" in body and "members-TOTAL_FORMS" in body


def test_message_changelist_search_by_client(admin_client):
    populate()
    message = models.EmailMessage.objects.select_related("client").first()
    response = admin_client.get(_url(models.EmailMessage, "changelist"), {"q": message.client.client_id})
    assert message.message_id in response.content.decode()
