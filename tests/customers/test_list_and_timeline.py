"""list_clients (TOOLS §1.4) and get_client_timeline (TOOLS §1.5)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from health.models import UserActivityDaily
from tests.support.factories import TicketFactory

from .conftest import error_of
from .factories import ClientFactory, TimelineEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def portfolio():
    today = timezone.localdate()
    a = ClientFactory(
        client_id="a",
        client_name="Alpha",
        tier="enterprise",
        lifecycle_stage="active",
        health_score=85,
        risk_level="low",
        contract_value=200000,
        renewal_date=today + dt.timedelta(days=40),
    )
    b = ClientFactory(
        client_id="b",
        client_name="Beta",
        tier="enterprise",
        lifecycle_stage="at_risk",
        health_score=55,
        risk_level="high",
        contract_value=50000,
        renewal_date=None,
        contract_end_date=None,
    )
    c = ClientFactory(
        client_id="c",
        client_name="Gamma",
        tier="starter",
        lifecycle_stage="active",
        health_score=None,
        contract_value=5000.5,
    )
    for user, days_ago in [("u1", 0), ("u2", 3), ("u3", 29), ("u4", 30), ("u1", 5)]:
        UserActivityDaily.objects.create(
            client=a, user_id=user, date=today - dt.timedelta(days=days_ago), events=3, counting_events=2
        )
    UserActivityDaily.objects.create(
        client=b, user_id="z", date=today - dt.timedelta(days=45), counting_events=1
    )
    TicketFactory(client=a, status="open")
    TicketFactory(client=a, status="waiting_on_customer")
    TicketFactory(client=a, status="closed")
    return a, b, c


def test_list_known_answer(tool, portfolio):
    result = tool("list_clients", {})
    assert result["status"] == "success", result
    rows = {r["client_id"]: r for r in result["clients"]}
    assert [r["client_id"] for r in result["clients"]] == ["a", "b", "c"]  # by name
    assert rows["a"]["active_users"] == 3  # u1, u2, u3 in the last 30 days (u4 is 30 days ago)
    assert rows["b"]["active_users"] == 0  # usage history, none in the window
    assert rows["c"]["active_users"] is None  # never any usage
    assert rows["a"]["support_tickets_open"] == 2 and rows["c"]["support_tickets_open"] == 0
    assert rows["a"]["days_until_renewal"] == 40 and rows["b"]["days_until_renewal"] is None
    assert rows["c"]["contract_value"] == 5000.5
    assert result["summary"] == {
        "total_clients": 3,
        "average_health_score": 70.0,
        "total_arr": 255000.5,
        "total_active_users": 3,
    }
    assert result["pagination"] == {
        "total_count": 3,
        "limit": 50,
        "offset": 0,
        "returned_count": 3,
        "has_more": False,
    }
    gaps = {g["field"]: g["reason"] for g in result["data_gaps"]}
    assert gaps == {
        "clients[2].active_users": "no_usage_events",
        "clients[1].days_until_renewal": "no_contract",
        # every null client column has its gap (TOOLS §0.6): scored without a comparison snapshot, never scored,
        # no CSM
        "clients[0].health_trend": "insufficient_history",
        "clients[1].health_trend": "insufficient_history",
        "clients[2].health_score": "no_score",
        "clients[2].risk_level": "no_score",
        "clients[2].health_trend": "no_score",
        "clients[0].csm_assigned": "no_csm",
        "clients[1].csm_assigned": "no_csm",
        "clients[2].csm_assigned": "no_csm",
    }


def test_list_filters_are_anded_and_summary_covers_whole_set(tool, portfolio):
    result = tool(
        "list_clients", {"tier_filter": "enterprise", "health_score_min": 50, "limit": 1, "offset": 1}
    )
    assert [r["client_id"] for r in result["clients"]] == ["b"]
    assert result["pagination"] == {
        "total_count": 2,
        "limit": 1,
        "offset": 1,
        "returned_count": 1,
        "has_more": False,
    }
    assert result["summary"]["total_clients"] == 2
    assert result["summary"]["average_health_score"] == 70.0
    assert result["summary"]["total_arr"] == 250000.0
    assert result["filters_applied"] == {"tier_filter": "enterprise", "health_score_min": 50}
    only = tool("list_clients", {"lifecycle_stage_filter": "active", "health_score_max": 90})
    assert [r["client_id"] for r in only["clients"]] == ["a"]  # null health excluded by the health filter
    none = tool("list_clients", {"tier_filter": "professional"})
    assert none["clients"] == [] and none["summary"]["total_clients"] == 0


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"health_score_min": 80, "health_score_max": 20}, "health_score_max"),
        ({"health_score_min": 101}, "health_score_min"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"tier_filter": "gold"}, "tier_filter"),
        ({"lifecycle_stage_filter": "dormant"}, "lifecycle_stage_filter"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_list_validation(tool, args, field):
    assert error_of(tool("list_clients", args)) == ("INVALID_PARAMETER", field)


def test_list_query_count_does_not_grow_with_page_size(tool, django_assert_max_num_queries, staff_user):
    today = timezone.localdate()
    for i in range(60):
        client = ClientFactory(csm_assigned=staff_user, health_score=50 + i % 40)
        UserActivityDaily.objects.create(client=client, user_id=f"u{i}", date=today, counting_events=1)
        TicketFactory(client=client)
    counts = []
    for limit in (5, 60):
        with CaptureQueriesContext(connection) as ctx:
            result = tool("list_clients", {"limit": limit})
        assert result["pagination"]["returned_count"] == limit
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(counts[0]):
        tool("list_clients", {"limit": 1000})


# --- timeline -----------------------------------------------------------------------------------------


def _at(days_ago: int, hour: int = 12) -> dt.datetime:
    day = timezone.localdate() - dt.timedelta(days=days_ago)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
def history():
    client = ClientFactory(client_id="t")
    other = ClientFactory(client_id="other")
    TimelineEventFactory(
        client=client, occurred_at=_at(0), event_type="support", impact="negative", severity="high"
    )
    TimelineEventFactory(
        client=client, occurred_at=_at(1), event_type="support", impact="negative", severity="critical"
    )
    TimelineEventFactory(
        client=client,
        occurred_at=_at(2),
        event_type="communication",
        counts_as_engagement=True,
        impact="positive",
    )
    TimelineEventFactory(client=client, occurred_at=_at(10), event_type="health", severity="medium")
    TimelineEventFactory(
        client=client, occurred_at=_at(90, 0), event_type="account"
    )  # first day of the range
    TimelineEventFactory(client=client, occurred_at=_at(91), event_type="account")  # out of the default range
    TimelineEventFactory(client=other, occurred_at=_at(0), event_type="support")
    return client


def test_timeline_known_answer(tool, history):
    result = tool("get_client_timeline", {"client_id": "t"})
    assert result["status"] == "success", result
    assert [e["event_type"] for e in result["timeline"]] == [
        "support",
        "support",
        "communication",
        "health",
        "account",
    ]
    assert result["timeline"][0]["timestamp"] == _at(0).isoformat()
    assert set(result["timeline"][0]) == {
        "event_id",
        "timestamp",
        "event_type",
        "title",
        "description",
        "impact",
        "severity",
        "source",
        "actor",
    }
    assert result["summary"] == {
        "total_events": 5,
        "returned_events": 5,
        "event_type_breakdown": {"account": 1, "communication": 1, "health": 1, "support": 2},
    }
    assert result["insights"] == {
        "negative_events": 2,
        "positive_events": 1,
        "high_severity_events": 2,
        "last_engagement_at": _at(2).isoformat(),
        "busiest_event_type": "support",
    }
    assert result["data_gaps"] == []


def test_timeline_filters_and_limit(tool, history):
    today = timezone.localdate()
    result = tool(
        "get_client_timeline",
        {
            "client_id": "t",
            "start_date": (today - dt.timedelta(days=10)).isoformat(),
            "end_date": (today - dt.timedelta(days=1)).isoformat(),
            "event_types": ["support", "health"],
            "limit": 1,
        },
    )
    assert result["summary"]["total_events"] == 2
    assert result["summary"]["returned_events"] == 1
    assert result["summary"]["event_type_breakdown"] == {"health": 1, "support": 1}
    assert result["timeline"][0]["event_type"] == "support"
    assert result["insights"]["last_engagement_at"] is None
    assert {g["field"] for g in result["data_gaps"]} == {"insights.last_engagement_at"}


@pytest.mark.parametrize(
    ("args", "code", "field"),
    [
        ({"client_id": "ghost"}, "NOT_FOUND", "client_id"),
        (
            {"client_id": "t", "start_date": "2026-05-02", "end_date": "2026-05-01"},
            "INVALID_PARAMETER",
            "end_date",
        ),
        ({"client_id": "t", "event_types": ["support", "weather"]}, "INVALID_PARAMETER", "event_types[1]"),
        ({"client_id": "t", "limit": 1001}, "INVALID_PARAMETER", "limit"),
        ({"client_id": "t", "start_date": "yesterday"}, "INVALID_PARAMETER", "start_date"),
        ({"client_id": "bad id!"}, "INVALID_PARAMETER", "client_id"),
    ],
)
def test_timeline_errors(tool, history, args, code, field):
    assert error_of(tool("get_client_timeline", args)) == (code, field)
