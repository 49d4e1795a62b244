"""factory_boy factories for the communication app, built on tests/customers/factories.py."""

import datetime as dt

import factory
from django.utils import timezone

from communication import models
from communication.choices import (
    CommunityType,
    ContributionType,
    EmailStatus,
    EmailTemplateType,
    WorkflowKind,
    WorkflowTriggerType,
)
from tests.customers.factories import ClientFactory

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


class EmailCampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.EmailCampaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    template_type = EmailTemplateType.PRODUCT_UPDATE
    subject_line = "What's new"
    body_text = "Hello {{ contact_name }}"
    sender_email = "cs@example.com"


class EmailMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.EmailMessage

    client = factory.SubFactory(ClientFactory)
    campaign = factory.SubFactory(EmailCampaignFactory)
    recipient_email = factory.Sequence(lambda n: f"recipient{n}@example.com")
    subject = "What's new"
    body_text = "Hello"
    status = EmailStatus.SENT
    sent_at = NOW


class EmailSuppressionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.EmailSuppression

    email = factory.Sequence(lambda n: f"unsubscribed{n}@example.com")


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Workflow

    kind = WorkflowKind.COMMUNICATION
    name = factory.Sequence(lambda n: f"Workflow {n}")
    trigger_type = WorkflowTriggerType.HEALTH_SCORE
    trigger_config = factory.LazyFunction(lambda: {"below": 60})
    actions = factory.LazyFunction(
        lambda: [{"type": "create_task", "config": {"title": "Call", "due_in_days": 2}}]
    )


class WorkflowEnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.WorkflowEnrollment

    workflow = factory.SubFactory(WorkflowFactory)
    client = factory.SubFactory(ClientFactory)
    enrolled_at = NOW


class WorkflowRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.WorkflowRun

    workflow = factory.SubFactory(WorkflowFactory)
    client = factory.SubFactory(ClientFactory)
    triggered_at = NOW


class CommunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Community

    name = factory.Sequence(lambda n: f"Community {n}")
    community_type = CommunityType.FORUM


class CommunityMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CommunityMember

    community = factory.SubFactory(CommunityFactory)
    client = factory.SubFactory(ClientFactory)
    email = factory.Sequence(lambda n: f"member{n}@example.com")
    name = factory.Sequence(lambda n: f"Member {n}")
    joined_at = NOW


class CommunityPostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CommunityPost

    member = factory.SubFactory(CommunityMemberFactory)
    community = factory.SelfAttribute("member.community")
    content = "Hello community"
    posted_at = NOW
    published_at = NOW


class AdvocateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Advocate

    client = factory.SubFactory(ClientFactory)
    contact_name = factory.Sequence(lambda n: f"Advocate {n}")
    contact_email = factory.Sequence(lambda n: f"advocate{n}@example.com")
    enrolled_at = NOW


class AdvocateContributionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AdvocateContribution

    advocate = factory.SubFactory(AdvocateFactory)
    contribution_type = ContributionType.REVIEW
    points = 30
    contributed_at = NOW


class ExecutiveReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ExecutiveReview

    client = factory.SubFactory(ClientFactory)
    scheduled_date = NOW + dt.timedelta(days=14)


class ExecutiveReviewActionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ExecutiveReviewActionItem

    review = factory.SubFactory(ExecutiveReviewFactory)
    title = factory.Sequence(lambda n: f"Action {n}")
    owner = "CSM"


class NewsletterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Newsletter

    name = factory.Sequence(lambda n: f"Newsletter {n}")
    edition_number = 1
    subject_line = "Monthly news"
    sections = factory.LazyFunction(lambda: [{"type": "tip", "title": "Tip", "body": "Use shortcuts"}])


class NewsletterSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.NewsletterSubscription

    client = factory.SubFactory(ClientFactory)
    series = "Product News"
    email = factory.Sequence(lambda n: f"reader{n}@example.com")
    subscribed_at = factory.LazyFunction(timezone.now)
