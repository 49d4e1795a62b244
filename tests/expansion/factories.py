"""factory_boy factories for the expansion app, built on the customers factories."""

import datetime as dt
from decimal import Decimal

import factory

from customers.choices import Tier
from expansion import models
from expansion.choices import (
    ExpansionStage,
    ExpansionType,
    NegotiationStrategy,
    ProductPricing,
    ProposalStatus,
    ReminderOffset,
    RenewalStatus,
)
from tests.customers.factories import ClientFactory, ContractFactory

BASE_TIME = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Product
        django_get_or_create = ("product_key",)

    product_key = factory.Sequence(lambda n: f"product-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    family = "analytics"
    annual_list_price = Decimal("5000.00")
    pricing = ProductPricing.FLAT
    min_tier = Tier.STARTER
    signal_feature_keys = factory.LazyFunction(lambda: ["reports", "dashboards"])


class ExpansionOpportunityFactory(factory.django.DjangoModelFactory):
    """A tier upgrade starter → standard identified by EXP-01."""

    class Meta:
        model = models.ExpansionOpportunity

    client = factory.SubFactory(ClientFactory, tier=Tier.STARTER)
    opportunity_type = ExpansionType.TIER_UPGRADE
    stage = ExpansionStage.IDENTIFIED
    target_tier = Tier.STANDARD
    amount = Decimal("25000.00")
    probability = 0.75
    identified_at = BASE_TIME
    rule_id = "EXP-01"
    evidence = factory.LazyFunction(lambda: {"health_score": 88})


class RenewalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Renewal

    contract = factory.SubFactory(ContractFactory)
    client = factory.SelfAttribute("contract.client")
    renewal_date = factory.SelfAttribute("contract.end_date")
    target_arr = factory.SelfAttribute("contract.value")
    status = RenewalStatus.ON_TRACK
    probability = 0.92
    created_at = BASE_TIME


class RenewalReminderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.RenewalReminder

    renewal = factory.SubFactory(RenewalFactory)
    days_before = ReminderOffset.D90
    due_date = factory.LazyAttribute(lambda o: o.renewal.renewal_date - dt.timedelta(days=o.days_before))


class RenewalProposalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.RenewalProposal

    renewal = factory.SubFactory(RenewalFactory)
    strategy = NegotiationStrategy.VALUE_REINFORCEMENT
    status = ProposalStatus.DRAFT
    base_arr = factory.SelfAttribute("renewal.target_arr")
    proposed_arr = factory.SelfAttribute("renewal.target_arr")
    discount = Decimal("0")
    term_months = 12
    package = factory.LazyFunction(lambda: {"talking_points": []})
    created_at = BASE_TIME
