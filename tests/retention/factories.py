"""factory_boy factories for the retention app, building on the customers and support factories."""

import datetime as dt

import factory

from customers.choices import Severity
from retention import models
from retention.choices import (
    CampaignStatus,
    CampaignType,
    EscalationStatus,
    InterventionLevel,
    RetentionActionType,
)
from tests.customers.factories import ClientFactory
from tests.support.factories import BASE_TIME


class RetentionCampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.RetentionCampaign

    client = factory.SubFactory(ClientFactory)
    template = factory.LazyAttribute(
        lambda o: models.CampaignTemplate.objects.filter(campaign_type=o.campaign_type).first()
    )
    campaign_type = CampaignType.PROACTIVE_OUTREACH
    intervention_level = InterventionLevel.STANDARD
    status = CampaignStatus.ACTIVE
    baseline_health = 52
    target_health = 65
    started_at = BASE_TIME
    evaluation_date = factory.LazyAttribute(lambda o: o.started_at.date() + dt.timedelta(days=60))


class RetentionActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.RetentionAction

    campaign = factory.SubFactory(RetentionCampaignFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    action_type = RetentionActionType.CSM_CHECK_IN_CALL
    offset_days = 2
    due_date = factory.LazyAttribute(
        lambda o: o.campaign.started_at.date() + dt.timedelta(days=o.offset_days)
    )


class EscalationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Escalation

    client = factory.SubFactory(ClientFactory)
    title = factory.Sequence(lambda n: f"Outage impact {n}")
    severity = Severity.HIGH
    status = EscalationStatus.OPEN
    opened_at = BASE_TIME
    due_at = factory.LazyAttribute(lambda o: o.opened_at + dt.timedelta(hours=24))


class ChurnPostmortemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ChurnPostmortem

    client = factory.SubFactory(ClientFactory)
    churn_date = dt.date(2026, 6, 30)
    observed_reasons = factory.LazyFunction(
        lambda: [{"reason": "low_adoption", "weight": 1.0, "details": "usage 40"}]
    )
    stated_reasons = factory.LazyFunction(lambda: ["pricing"])
    lost_arr = 25000
