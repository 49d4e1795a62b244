"""factory_boy factories for the support app, building on the customers factories."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from support import models
from support.choices import (
    CommentAuthorKind,
    KbArticleStatus,
    PortalActivityType,
    PortalResourceType,
    SupportTeam,
    TicketCategory,
    TicketPriority,
    TicketStatus,
)
from tests.customers.factories import ClientFactory

BASE_TIME = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"agent{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    is_staff = True


class SupportAgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SupportAgent

    user = factory.SubFactory(UserFactory)
    team = SupportTeam.TECHNICAL
    max_open_tickets = 10
    skills = factory.LazyFunction(lambda: ["api", "sso"])


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Ticket

    client = factory.SubFactory(ClientFactory)
    subject = factory.Sequence(lambda n: f"Cannot log in ({n})")
    description = "The login page returns an error."
    priority = TicketPriority.P3
    status = TicketStatus.OPEN
    category = TicketCategory.TECHNICAL_ISSUE
    requester_email = factory.Sequence(lambda n: f"requester{n}@example.com")
    assigned_team = SupportTeam.TECHNICAL
    created_at = BASE_TIME
    first_response_due_at = factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(minutes=240))
    resolution_due_at = factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(minutes=2880))


class TicketCommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TicketComment

    ticket = factory.SubFactory(TicketFactory)
    body = "We are looking into it."
    is_public = True
    author_kind = CommentAuthorKind.AGENT
    created_at = factory.LazyAttribute(lambda o: o.ticket.created_at + dt.timedelta(minutes=10))


class KbArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.KbArticle

    title = factory.Sequence(lambda n: f"How to reset your password {n}")
    slug = factory.Sequence(lambda n: f"how-to-reset-your-password-{n}")
    summary = "Reset steps."
    content = "1. Open settings\n2. Click reset"
    status = KbArticleStatus.DRAFT
    category = "account"
    tags = factory.LazyFunction(lambda: ["password", "login"])


class KbArticleVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.KbArticleVersion

    article = factory.SubFactory(KbArticleFactory)
    version = 1
    title = factory.LazyAttribute(lambda o: o.article.title)
    content = factory.LazyAttribute(lambda o: o.article.content)


class KbVoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.KbVote

    article = factory.SubFactory(KbArticleFactory)
    voter = factory.Sequence(lambda n: f"reader{n}@example.com")
    helpful = True


class KbSearchLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.KbSearchLog

    query = "reset password"
    normalized_query = "reset password"
    results_count = 1
    client = factory.SubFactory(ClientFactory)


class PortalConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PortalConfig

    client = factory.SubFactory(ClientFactory)
    features = factory.LazyFunction(lambda: {"tickets": True, "kb": True, "chat": False})
    branding = factory.LazyFunction(lambda: {"primary_color": "#112233"})


class PortalResourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PortalResource

    client = factory.SubFactory(ClientFactory)
    resource_type = PortalResourceType.DOCUMENT
    title = factory.Sequence(lambda n: f"Admin guide {n}")
    url = "https://docs.example.com/admin-guide.pdf"


class PortalActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PortalActivity

    client = factory.SubFactory(ClientFactory)
    user_email = factory.Sequence(lambda n: f"user{n}@example.com")
    activity_type = PortalActivityType.LOGIN
    occurred_at = BASE_TIME
