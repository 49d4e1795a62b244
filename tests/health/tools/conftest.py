"""World builders for the health tool tests: dates are relative to the real 'today' (official snapshots are
always for today), numbers are hand-computed in each test."""

import datetime as dt

import pytest

from cs_project.core.registry import execute_tool
from customers.models import TimelineEvent
from health.common import today
from health.models import HealthSnapshot
from health.rollups import day_bounds


@pytest.fixture
def T() -> dt.date:
    return today()


@pytest.fixture
def call(superuser):
    def _call(name, **args):
        return execute_tool(name, args, user=superuser, channel="api")

    return _call


def days_ago(n: int) -> dt.date:
    return today() - dt.timedelta(days=n)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return day_bounds(day)[0] + dt.timedelta(hours=hour)


def engagement(client, day: dt.date):
    return TimelineEvent.objects.create(
        client=client,
        occurred_at=at(day),
        event_type="communication",
        title="Call",
        counts_as_engagement=True,
    )


def snapshot(client, day: dt.date, score: int | None, **components):
    from health.scoring import risk_band

    values = {
        f"{c}_score": components.get(c) for c in ("usage", "engagement", "support", "satisfaction", "payment")
    }
    return HealthSnapshot.objects.create(
        client=client,
        as_of=day,
        health_score=score,
        risk_level=risk_band(score) or None,
        calculated_at=at(day),
        weights={"usage": 0.35, "engagement": 0.25, "support": 0.15, "satisfaction": 0.15, "payment": 0.10},
        effective_weights={
            "usage": 0.35,
            "engagement": 0.25,
            "support": 0.15,
            "satisfaction": 0.15,
            "payment": 0.10,
        },
        **values,
    )
