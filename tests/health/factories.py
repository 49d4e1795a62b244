"""factory_boy factories and world builders for the health app."""

import datetime as dt
from decimal import Decimal

import factory

from health import models
from health.rollups import day_bounds
from tests.customers.factories import ClientFactory


class FeatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Feature
        django_get_or_create = ("feature_key",)

    feature_key = factory.Sequence(lambda n: f"feature_{n}")
    name = factory.LazyAttribute(lambda o: o.feature_key)
    category = "core"
    is_core = False
    min_tier = "starter"
    counts_as_activity = True


class UsageEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.UsageEvent

    client = factory.SubFactory(ClientFactory)
    user_id = "u1"
    event_name = "Report Exported"
    feature_key = "reports.export"
    occurred_at = factory.LazyFunction(lambda: dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC))
    quantity = Decimal("1")
    source = "api"
    message_id = factory.Sequence(lambda n: f"msg-{n}")
    received_at = factory.LazyAttribute(lambda o: o.occurred_at)


def user_day(client, user_id, day, *, counting=1, events=None):
    return models.UserActivityDaily.objects.create(
        client=client,
        user_id=user_id,
        date=day,
        events=events if events is not None else max(counting, 1),
        counting_events=counting,
        features_used=1,
    )


def client_day(client, day, *, active_users, events=5):
    return models.ClientUsageDaily.objects.create(
        client=client, date=day, events=events, counting_events=events, active_users=active_users
    )


def feature_day(client, key, day, *, events=1, users=1):
    return models.FeatureUsageDaily.objects.create(
        client=client, feature_key=key, date=day, events=events, active_users=users
    )


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return day_bounds(day)[0] + dt.timedelta(hours=hour)
