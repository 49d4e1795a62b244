"""factory_boy factories for the customers app; other apps' factories build on these."""

import datetime as dt

import factory

from customers import models
from customers.choices import ContactRole


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Client

    client_id = factory.Sequence(lambda n: f"client_{n}")
    client_name = factory.Sequence(lambda n: f"Client {n}")
    company_name = factory.LazyAttribute(lambda o: f"{o.client_name} Inc")
    contract_value = 25000
    contract_start_date = dt.date(2026, 1, 1)
    contract_end_date = dt.date(2027, 1, 1)
    renewal_date = dt.date(2027, 1, 1)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Contact

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")
    role = ContactRole.END_USER


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Contract

    client = factory.SubFactory(ClientFactory)
    value = 25000
    start_date = dt.date(2026, 1, 1)
    end_date = dt.date(2027, 1, 1)
    included_users = 20


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Alert

    client = factory.SubFactory(ClientFactory)
    type = "risk"
    reason = factory.Sequence(lambda n: f"reason_{n}")
    priority = "medium"
    due_at = factory.LazyFunction(lambda: dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    first_triggered_at = factory.LazyFunction(lambda: dt.datetime(2026, 5, 27, tzinfo=dt.UTC))
    last_triggered_at = factory.LazyFunction(lambda: dt.datetime(2026, 5, 27, tzinfo=dt.UTC))


class TimelineEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TimelineEvent

    client = factory.SubFactory(ClientFactory)
    occurred_at = factory.LazyFunction(lambda: dt.datetime(2026, 5, 27, 12, tzinfo=dt.UTC))
    event_type = "account"
    title = factory.Sequence(lambda n: f"Event {n}")
