"""factory_boy factories for the feedback app, built on the customers factories."""

import datetime as dt

import factory

from customers.choices import Priority, Sentiment
from feedback import models
from feedback.choices import (
    FeedbackStatus,
    FeedbackType,
    InsightStatus,
    InsightType,
    InvitationSource,
    RoutingTeam,
    SurveySource,
    SurveyType,
    VocAudience,
    VocLoopStatus,
    VocReportType,
)
from tests.customers.factories import ClientFactory

BASE_TIME = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def theme(key: str) -> models.Theme:
    """A seeded theme (RULES §13.4) by key."""
    return models.Theme.objects.get(key=key)


class ThemeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Theme
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"theme_{n}")
    name = factory.Sequence(lambda n: f"Theme {n}")
    keywords = factory.LazyFunction(lambda: ["example"])


class FeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Feedback

    client = factory.SubFactory(ClientFactory)
    submitter_email = factory.Sequence(lambda n: f"submitter{n}@example.com")
    submitter_name = factory.Sequence(lambda n: f"Submitter {n}")
    feedback_type = FeedbackType.PRODUCT_FEEDBACK
    source = "email"
    title = factory.Sequence(lambda n: f"Reports are slow ({n})")
    content = "The reports page takes a minute to load."
    category = "product"
    priority = Priority.MEDIUM
    status = FeedbackStatus.NEW
    voc_status = VocLoopStatus.RECEIVED
    assigned_team = RoutingTeam.CS_TEAM
    sentiment = Sentiment.NEGATIVE
    sentiment_score = -0.3
    created_at = BASE_TIME


class SurveyResponseFactory(factory.django.DjangoModelFactory):
    """An NPS promoter by default; pass ``survey_type`` and ``score`` for CSAT/CES."""

    class Meta:
        model = models.SurveyResponse

    client = factory.SubFactory(ClientFactory)
    respondent_email = factory.Sequence(lambda n: f"respondent{n}@example.com")
    survey_type = SurveyType.NPS
    score = 9
    source = SurveySource.SURVEY
    responded_at = BASE_TIME


class SurveyTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SurveyTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    survey_type = SurveyType.NPS
    questions = factory.LazyFunction(
        lambda: [{"key": "score", "text": "How likely are you to recommend us?", "kind": "scale"}]
    )


class SurveyInvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SurveyInvitation

    client = factory.SubFactory(ClientFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    survey_type = SurveyType.NPS
    source = InvitationSource.API
    sent_at = BASE_TIME


class ProductInsightFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ProductInsight
        skip_postgeneration_save = True

    insight_type = InsightType.PERFORMANCE_FEEDBACK
    title = factory.Sequence(lambda n: f"Report performance ({n})")
    description = "Several accounts report slow reports."
    priority = Priority.HIGH
    status = InsightStatus.SUBMITTED
    created_at = BASE_TIME

    @factory.post_generation
    def feedback(self, create, extracted, **kwargs):
        if create and extracted:
            self.feedback.set(extracted)

    @factory.post_generation
    def affected_clients(self, create, extracted, **kwargs):
        if create and extracted:
            self.affected_clients.set(extracted)


class VocReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.VocReport

    report_type = VocReportType.MONTHLY
    target_audience = VocAudience.ALL
    period_start = dt.date(2026, 2, 1)
    period_end = dt.date(2026, 3, 2)
    generated_at = BASE_TIME
    content = factory.LazyFunction(lambda: {"volumes": {}})
