"""track_usage_engagement's peer benchmarks read all peers in a fixed number of GROUP BY queries: the query count
of a call does not depend on how many peers the client has."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.customers.factories import ClientFactory, ContractFactory
from tests.health.factories import client_day, user_day

from .conftest import days_ago

pytestmark = pytest.mark.django_db


def _client(client_id):
    c = ClientFactory(client_id=client_id, tier="standard")
    ContractFactory(client=c, included_users=10, start_date=days_ago(400), end_date=days_ago(-200))
    for n in (1, 3, 5):
        user_day(c, "u1", days_ago(n))
        client_day(c, days_ago(n), active_users=1)
    return c


def _queries(call, T):
    with CaptureQueriesContext(connection) as ctx:
        out = call(
            "track_usage_engagement",
            client_id="acme",
            period_start=days_ago(13).isoformat(),
            period_end=T.isoformat(),
        )
    assert out["status"] == "success", out
    return len(ctx.captured_queries), out["benchmark_insights"][0]["peer_group"]["size"]


def test_usage_benchmark_query_count_does_not_grow_with_peers(call, T):
    _client("acme")
    for i in range(3):
        _client(f"peer{i}")
    few, size_few = _queries(call, T)
    for i in range(3, 12):
        _client(f"peer{i}")
    many, size_many = _queries(call, T)
    assert (size_few, size_many) == (3, 12)
    assert many == few
