"""The database itself rejects support rows that break the domain's invariants."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from support.choices import KbArticleStatus, PortalResourceType, PortalScope, SupportTeam, TicketStatus
from support.models import KbArticle, PortalConfig, RoutingRule, SlaPolicy, Ticket

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


def _rejects(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_valid_rows_are_accepted():
    ticket = TicketFactory(
        status=TicketStatus.RESOLVED,
        resolved_at=BASE_TIME + dt.timedelta(hours=2),
        first_response_at=BASE_TIME + dt.timedelta(minutes=3),
        satisfaction_rating=5,
        external_id="12345",
    )
    TicketCommentFactory(ticket=ticket)
    article = KbArticleFactory(status=KbArticleStatus.PUBLISHED, published_at=BASE_TIME)
    KbArticleVersionFactory(article=article, version=1)
    KbVoteFactory(article=article)
    KbSearchLogFactory(results_count=0)
    PortalConfigFactory()
    PortalConfig.objects.create(scope=PortalScope.GLOBAL)
    PortalResourceFactory(resource_type=PortalResourceType.KB_ARTICLE, kb_article=article, url="")
    PortalActivityFactory()
    SupportAgentFactory()
    assert ticket.ticket_id == f"TKT-{ticket.pk}"
    assert article.article_id == f"KB-{article.pk}"


@pytest.mark.parametrize("rating", [0, 6])
def test_ticket_rating_outside_1_5_rejected(rating):
    _rejects(lambda: TicketFactory(satisfaction_rating=rating))


def test_ticket_resolved_before_created_rejected():
    _rejects(lambda: TicketFactory(resolved_at=BASE_TIME - dt.timedelta(minutes=1)))


def test_ticket_closed_or_answered_before_created_rejected():
    _rejects(
        lambda: TicketFactory(
            status=TicketStatus.CLOSED, resolved_at=BASE_TIME, closed_at=BASE_TIME - dt.timedelta(minutes=1)
        )
    )
    _rejects(lambda: TicketFactory(first_response_at=BASE_TIME - dt.timedelta(seconds=1)))


def test_ticket_due_times_after_created():
    _rejects(lambda: TicketFactory(first_response_due_at=BASE_TIME))
    _rejects(lambda: TicketFactory(resolution_due_at=BASE_TIME - dt.timedelta(minutes=5)))


def test_ticket_bad_enums_rejected():
    _rejects(lambda: TicketFactory(priority="P5"))
    _rejects(lambda: TicketFactory(status="pending"))
    _rejects(lambda: TicketFactory(category="misc"))
    _rejects(lambda: TicketFactory(assigned_team="Night Shift"))


def test_ticket_status_consistency():
    _rejects(lambda: TicketFactory(status=TicketStatus.RESOLVED, resolved_at=None))
    _rejects(lambda: TicketFactory(status=TicketStatus.OPEN, closed_at=BASE_TIME + dt.timedelta(hours=1)))
    _rejects(lambda: TicketFactory(escalated=False, escalated_at=BASE_TIME))


def test_ticket_empty_subject_and_negative_reopen_rejected():
    _rejects(lambda: TicketFactory(subject=""))
    _rejects(lambda: Ticket.objects.filter(pk=TicketFactory().pk).update(reopened_count=-1))


def test_ticket_external_id_unique_when_set():
    TicketFactory(external_id="")
    TicketFactory(external_id="")
    TicketFactory(external_id="zd-1")
    _rejects(lambda: TicketFactory(external_id="zd-1"))


def test_customer_comment_cannot_be_internal_and_body_required():
    _rejects(lambda: TicketCommentFactory(author_kind="customer", is_public=False))
    _rejects(lambda: TicketCommentFactory(body=""))
    _rejects(lambda: TicketCommentFactory(author_kind="robot"))


def test_duplicate_sla_priority_rejected():
    _rejects(lambda: SlaPolicy.objects.create(priority="P0", first_response_minutes=1, resolution_minutes=2))


def test_sla_minutes_must_be_positive_and_ordered():
    SlaPolicy.objects.all().delete()
    _rejects(lambda: SlaPolicy.objects.create(priority="P0", first_response_minutes=0, resolution_minutes=60))
    _rejects(lambda: SlaPolicy.objects.create(priority="P0", first_response_minutes=5, resolution_minutes=0))
    _rejects(lambda: SlaPolicy.objects.create(priority="P0", first_response_minutes=60, resolution_minutes=5))
    _rejects(lambda: SlaPolicy.objects.create(priority="P9", first_response_minutes=5, resolution_minutes=60))


def test_routing_rule_needs_exactly_one_condition_and_unique_match():
    team = SupportTeam.CUSTOMER_SUCCESS
    _rejects(lambda: RoutingRule.objects.create(position=500, name="none", team=team))
    _rejects(
        lambda: RoutingRule.objects.create(
            position=500, name="both", priority="P2", category="other", team=team
        )
    )
    _rejects(lambda: RoutingRule.objects.create(position=500, name="dup", category="other", team=team))
    _rejects(lambda: RoutingRule.objects.create(position=500, name="dup_p", priority="P0", team=team))
    _rejects(lambda: RoutingRule.objects.create(position=10, name="dup_pos", priority="P2", team=team))
    _rejects(lambda: RoutingRule.objects.create(position=500, name="bad_team", priority="P2", team="Nobody"))


def test_agent_capacity_and_team():
    _rejects(lambda: SupportAgentFactory(max_open_tickets=0))
    _rejects(lambda: SupportAgentFactory(team="Nobody"))


def test_duplicate_kb_version_rejected():
    article = KbArticleFactory()
    KbArticleVersionFactory(article=article, version=1)
    _rejects(lambda: KbArticleVersionFactory(article=article, version=1))
    _rejects(lambda: KbArticleVersionFactory(article=article, version=0))


def test_kb_counters_cannot_be_negative():
    article = KbArticleFactory()
    for field in ("view_count", "helpful_count", "not_helpful_count", "version"):
        _rejects(lambda field=field: KbArticle.objects.filter(pk=article.pk).update(**{field: -1}))
    _rejects(lambda: KbArticle.objects.filter(pk=article.pk).update(version=0))


def test_kb_slug_unique_and_published_needs_date():
    KbArticleFactory(slug="reset")
    _rejects(lambda: KbArticleFactory(slug="reset"))
    _rejects(lambda: KbArticleFactory(status=KbArticleStatus.PUBLISHED, published_at=None))
    _rejects(lambda: KbArticleFactory(status="deleted"))


def test_one_vote_per_voter_and_article():
    article = KbArticleFactory()
    KbVoteFactory(article=article, voter="a@example.com")
    KbVoteFactory(voter="a@example.com")  # another article: fine
    _rejects(lambda: KbVoteFactory(article=article, voter="a@example.com", helpful=False))


def test_search_log_results_non_negative():
    log = KbSearchLogFactory()
    _rejects(lambda: type(log).objects.filter(pk=log.pk).update(results_count=-1))


def test_portal_config_one_per_client_and_one_global():
    config = PortalConfigFactory()
    _rejects(lambda: PortalConfigFactory(client=config.client))
    PortalConfig.objects.create(scope=PortalScope.GLOBAL)
    _rejects(lambda: PortalConfig.objects.create(scope=PortalScope.GLOBAL))
    _rejects(lambda: PortalConfig.objects.create(scope=PortalScope.CLIENT, client=None))
    _rejects(lambda: PortalConfigFactory(scope=PortalScope.GLOBAL))


def test_portal_resource_kb_link_matches_type():
    _rejects(lambda: PortalResourceFactory(resource_type=PortalResourceType.KB_ARTICLE, kb_article=None))
    _rejects(lambda: PortalResourceFactory(kb_article=KbArticleFactory()))
    _rejects(lambda: PortalResourceFactory(resource_type="podcast"))


def test_portal_activity_type_valid():
    _rejects(lambda: PortalActivityFactory(activity_type="hover"))
