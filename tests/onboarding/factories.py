"""factory_boy factories for the onboarding app, built on tests/customers/factories.py."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from onboarding import models
from onboarding.choices import (
    CertificationLevel,
    MilestoneStatus,
    PlanStatus,
    SuccessCriterionStatus,
    TrainingFormat,
    TrainingSessionStatus,
)
from tests.customers.factories import ClientFactory

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


class OnboardingPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.OnboardingPlan

    client = factory.SubFactory(ClientFactory)
    plan_name = factory.LazyAttribute(lambda o: f"{o.client.client_name} onboarding")
    customer_goals = factory.LazyFunction(lambda: ["Go live with the core workflow"])
    start_date = dt.date(2026, 3, 2)
    timeline_weeks = 4
    target_completion_date = factory.LazyAttribute(
        lambda o: o.start_date + dt.timedelta(days=7 * o.timeline_weeks - 1)
    )
    total_estimated_hours = 46
    status = PlanStatus.IN_PROGRESS


class OnboardingMilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.OnboardingMilestone

    plan = factory.SubFactory(OnboardingPlanFactory)
    key = factory.Sequence(lambda n: f"M{n % 6 + 1}")
    name = factory.LazyAttribute(lambda o: f"Milestone {o.key}")
    due_date = factory.LazyAttribute(lambda o: o.plan.start_date + dt.timedelta(days=6))
    estimated_hours = 8
    status = MilestoneStatus.NOT_STARTED


class OnboardingTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.OnboardingTask

    milestone = factory.SubFactory(OnboardingMilestoneFactory)
    title = factory.Sequence(lambda n: f"Task {n}")


class PlanSuccessCriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PlanSuccessCriterion

    plan = factory.SubFactory(OnboardingPlanFactory)
    key = factory.Sequence(lambda n: f"criterion_{n}")
    description = "All users trained"
    measured = True
    status = SuccessCriterionStatus.UNKNOWN


class OnboardingAutomationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.OnboardingAutomation

    plan = factory.SubFactory(OnboardingPlanFactory)


class TrainingModuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TrainingModule

    name = factory.Sequence(lambda n: f"Module {n}")
    certification_level = CertificationLevel.BASIC
    duration_minutes = 60
    content_url = "https://learn.example.com/module"


class TrainingSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TrainingSession

    client = factory.SubFactory(ClientFactory)
    module = factory.SubFactory(TrainingModuleFactory)
    format = TrainingFormat.LIVE_WEBINAR
    status = TrainingSessionStatus.SCHEDULED
    scheduled_at = NOW
    duration_minutes = 90


class TrainingAttendeeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TrainingAttendee

    session = factory.SubFactory(TrainingSessionFactory)
    email = factory.Sequence(lambda n: f"trainee{n}@example.com")
    invited_at = NOW


class TrainingCompletionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TrainingCompletion

    session = factory.SubFactory(TrainingSessionFactory)
    module = factory.SelfAttribute("session.module")
    client = factory.SelfAttribute("session.client")
    attendee_email = factory.Sequence(lambda n: f"trainee{n}@example.com")
    attended = True
    assessment_score = Decimal("0.8")
    passed = True
    attempt = 1
    completed_at = factory.LazyFunction(timezone.now)


class CertificationTrackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CertificationTrack

    level = CertificationLevel.BASIC
    client = None
    name = factory.LazyAttribute(lambda o: f"{o.level} track")

    @factory.post_generation
    def modules(self, create, extracted, **kwargs):
        if create and extracted:
            self.modules.set(extracted)


class CertificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Certification

    client = factory.SubFactory(ClientFactory)
    level = CertificationLevel.BASIC
    holder_email = factory.Sequence(lambda n: f"holder{n}@example.com")
    holder_name = "Holder"
    issued_at = factory.LazyFunction(timezone.now)
