"""segment_customers: value/health/custom segmentation, FILTER grammar, membership change recording, query count."""

import pytest
from django.contrib.auth import get_user_model

from customers.models import AuditEvent, Client, TimelineEvent
from health.models import Segment, SegmentMembership
from tests.conftest import audit_lock_queries
from tests.customers.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    csm = get_user_model().objects.create_user("csm1", "csm1@example.com", "x", is_staff=True)
    rows = [
        # client_id, ARR, health, industry, csm
        ("a1", 250000, 90, "Fintech", csm),
        ("a2", 120000, 70, "Fintech", None),
        ("a3", 60000, 55, "Retail", csm),
        ("a4", 20000, 45, "retail", None),
        ("a5", 15000, None, "Health", None),
        ("a6", 5000, 82, "Health", csm),
    ]
    for cid, arr, health, industry, user in rows:
        ClientFactory(
            client_id=cid, contract_value=arr, health_score=health, industry=industry, csm_assigned=user
        )
    ClientFactory(client_id="gone", contract_value=300000, status="churned")
    return rows


def _seg(out, key):
    return next(s for s in out["segments"] if s["key"] == key)


def test_value_based_known_answer(world, call):
    out = call("segment_customers", segmentation_type="value_based", criteria={}, min_segment_size=1)
    assert out["status"] == "success", out
    assert out["total_customers_analyzed"] == 6  # churned client outside the default population
    assert [s["key"] for s in out["segments"]] == [
        "strategic",
        "enterprise",
        "professional",
        "standard",
        "starter",
    ]
    std = _seg(out, "standard")
    assert std["client_ids"] == ["a4", "a5"]
    assert (std["customer_count"], std["total_arr"], std["avg_health_score"]) == (2, 35000.0, 45.0)
    assert std["engagement_strategy"] == {
        "touch_cadence": "monthly",
        "ebr_cadence": "annual",
        "source": "value_tier:standard",
    }
    assert std["targets"] == {"health": 80, "nps": 50, "grr": 0.9}
    assert std["segment_id"].startswith("seg_")
    assert out["segment_distribution"]["standard"] == 0.3333
    assert out["segment_characteristics"]["standard"]["median_arr"] == 17500.0
    assert (
        out["cross_segment_analysis"]["top_20pct_arr_share"] == 0.7872
    )  # ceil(20 % of 6) = 2 clients: (250k + 120k) / 470k
    assert out["cross_segment_analysis"]["health_gap"] == 45.0  # strategic 90 vs standard 45
    # SEG-01: professional (55) and standard (45) below 65; SEG-02: enterprise (weekly) without CSM
    assert sorted((f["rule_id"], f["evidence"]["segment"]) for f in out["recommendations"]) == [
        ("SEG-01", "professional"),
        ("SEG-01", "standard"),
        ("SEG-02", "enterprise"),
    ]
    assert out["segment_migration"]["entered"] == 6 and out["segment_migration"]["exited"] == 0
    assert SegmentMembership.objects.filter(exited_at__isnull=True).count() == 6
    assert AuditEvent.objects.get(event_id=out["audit_event_id"]).action == "health.segmentation.run"
    assert TimelineEvent.objects.filter(event_type="account", source_type="segmentation").count() == 6


def test_min_segment_size_and_health_bands(world, call):
    out = call("segment_customers", segmentation_type="health_based", criteria={}, min_segment_size=2)
    assert [(s["key"], s["client_ids"]) for s in out["segments"]] == [
        ("healthy", ["a1", "a6"]),
    ]
    assert out["segments_below_min_size"] == [
        {"key": "moderate", "customer_count": 1},
        {"key": "at_risk", "customer_count": 1},
        {"key": "critical", "customer_count": 1},
        {"key": "not_scored", "customer_count": 1},
    ]
    assert list(Segment.objects.values_list("key", flat=True)) == ["healthy"]


def test_membership_changes_only(world, call):
    first = call("segment_customers", segmentation_type="value_based", criteria={}, min_segment_size=1)
    rows_before = dict(SegmentMembership.objects.values_list("client__client_id", "entered_at"))
    again = call("segment_customers", segmentation_type="value_based", criteria={}, min_segment_size=1)
    assert again["segment_migration"] == {"entered": 0, "exited": 0, "by_segment": {}}
    assert again["audit_event_id"] is None
    assert again["segmentation_id"] == first["segmentation_id"]
    assert SegmentMembership.objects.count() == 6
    # a4 grows from standard to professional: one exit, one entry, other rows untouched
    Client.objects.filter(client_id="a4").update(contract_value=55000)
    moved = call("segment_customers", segmentation_type="value_based", criteria={}, min_segment_size=1)
    assert moved["segment_migration"] == {
        "entered": 1,
        "exited": 1,
        "by_segment": {"professional": {"entered": 1, "exited": 0}, "standard": {"entered": 0, "exited": 1}},
    }
    closed = SegmentMembership.objects.get(client__client_id="a4", segment__key="standard")
    assert closed.exited_at is not None
    assert (
        SegmentMembership.objects.get(client__client_id="a4", exited_at__isnull=True).segment.key
        == "professional"
    )
    for cid in ("a1", "a2", "a3", "a5", "a6"):
        m = SegmentMembership.objects.get(client__client_id=cid)
        assert (m.entered_at, m.exited_at) == (rows_before[cid], None)
    assert TimelineEvent.objects.filter(client__client_id="a4", source_type="segmentation").count() == 2


def test_custom_filter_first_match_wins(world, call):
    criteria = {
        "segments": [
            {
                "name": "Big fintech",
                "filter": {
                    "all": [
                        {"field": "industry", "op": "=", "value": "FINTECH"},
                        {"field": "contract_value", "op": ">=", "value": 100000},
                    ]
                },
            },
            {
                "name": "Needs attention",
                "filter": {
                    "any": [
                        {"field": "health_score", "op": "<", "value": 60},
                        {"field": "health_score", "op": "=", "value": None},
                    ]
                },
            },
            {
                "name": "Retail",
                "filter": {"all": [{"field": "industry", "op": "contains", "value": "retail"}]},
            },
        ]
    }
    out = call("segment_customers", segmentation_type="custom", criteria=criteria, min_segment_size=1)
    assert out["status"] == "success", out
    assert [(s["key"], s["client_ids"]) for s in out["segments"]] == [
        ("big_fintech", ["a1", "a2"]),
        ("needs_attention", ["a3", "a4", "a5"]),
    ]
    assert out["segments_below_min_size"] == [{"key": "retail", "customer_count": 0}]
    assert out["total_customers_analyzed"] == 6


def test_population_filter(world, call):
    out = call(
        "segment_customers",
        segmentation_type="industry",
        criteria={
            "population_filter": {"all": [{"field": "status", "op": "in", "value": ["active", "churned"]}]}
        },
        min_segment_size=1,
    )
    assert out["total_customers_analyzed"] == 7
    assert {s["key"]: s["customer_count"] for s in out["segments"]} == {
        "fintech": 2,
        "health": 2,
        "retail": 2,
        "technology": 1,
    }


@pytest.mark.parametrize(
    ("type_", "criteria", "field"),
    [
        ("custom", {}, "criteria.segments"),
        (
            "custom",
            {"segments": [{"name": "x", "filter": {"all": [{"field": "color", "op": "=", "value": "red"}]}}]},
            "criteria.segments[0].filter.all[0].field",
        ),
        (
            "custom",
            {"segments": [{"name": "x", "filter": {"all": [{"field": "tier", "op": "~", "value": "a"}]}}]},
            "criteria.segments[0].filter.all[0].op",
        ),
        (
            "value_based",
            {"population_filter": {"any": [{"field": "mau", "op": ">", "value": "many"}]}},
            "criteria.population_filter.any[0].value",
        ),
        ("value_based", {"colour": 1}, "criteria.colour"),
        ("tiers", {}, "segmentation_type"),
    ],
)
def test_validation(world, call, type_, criteria, field):
    out = call("segment_customers", segmentation_type=type_, criteria=criteria)
    assert out["status"] == "failed"
    assert (out["error"]["code"], out["error"]["field"]) == ("INVALID_PARAMETER", field)


def _portfolio(n):
    for i in range(n):
        ClientFactory(contract_value=5000 + 20000 * (i % 6), health_score=40 + (i * 7) % 60)


@pytest.mark.parametrize("size", [5, 40])
def test_query_count_does_not_grow(db, call, size, django_assert_max_num_queries):
    _portfolio(size)
    call(
        "segment_customers", segmentation_type="health_based", criteria={}, min_segment_size=1
    )  # warm: all enter
    Client.objects.filter(health_score__lt=60).update(health_score=85)
    with django_assert_max_num_queries(26 + audit_lock_queries(2)):
        out = call(
            "segment_customers",
            segmentation_type="health_based",
            criteria={
                "population_filter": {
                    "all": [
                        {"field": "mau", "op": ">=", "value": 0},
                        {"field": "open_tickets", "op": "<", "value": 5},
                        {"field": "nps_latest", "op": "=", "value": None},
                    ]
                }
            },
            min_segment_size=1,
        )
    assert out["status"] == "success", out
    assert out["segment_migration"]["entered"] > 0


def test_segment_falling_below_min_size_is_retired(world, call):
    call("segment_customers", segmentation_type="health_based", criteria={}, min_segment_size=1)
    assert SegmentMembership.objects.filter(segment__key="critical", exited_at__isnull=True).count() == 1
    out = call("segment_customers", segmentation_type="health_based", criteria={}, min_segment_size=2)
    assert out["segment_migration"]["exited"] == 4  # moderate, at_risk, critical, not_scored
    assert out["segment_migration"]["entered"] == 0
    assert not Segment.objects.get(key="critical").is_active
    assert SegmentMembership.objects.filter(exited_at__isnull=True).count() == 2  # healthy: a1, a6


def test_value_tier_sql_case_agrees_with_the_python_lookup():
    """The value tier of an ARR is computed in SQL for segments (health.segmentation.value_tier_case) and in
    Python for single accounts (health.selectors.value_tier_for_arr): same band at every boundary."""
    from decimal import Decimal

    from health.segmentation import value_tier_case
    from health.selectors import value_tier_bands, value_tier_for_arr

    bands = value_tier_bands()
    edges = sorted({b["min"] for b in bands} | {b["max"] for b in bands if b["max"] is not None})
    amounts = sorted({Decimal("0")} | set(edges) | {e - Decimal("0.01") for e in edges if e > 0})
    amounts.append(edges[-1] * 10)
    for i, amount in enumerate(amounts):
        ClientFactory(client_id=f"vt{i}", contract_value=amount)
    got = dict(
        Client.objects.filter(client_id__startswith="vt")
        .annotate(vt=value_tier_case(bands))
        .values_list("contract_value", "vt")
    )
    assert len(got) == len(amounts) >= 5
    assert got == {a: value_tier_for_arr(a) for a in amounts}
