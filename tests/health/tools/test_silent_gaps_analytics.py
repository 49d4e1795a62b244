"""Every null of the health analytics tools that comes from missing data names its reason (TOOLS §0.6, RULES
§15.2): peer quartiles below the minimum peers, segments and value tiers without a CSM, a score, an NPS answer or
a year of ARR history, features no client is eligible for, lifecycle stages without clients or closed stints.
Each test fails on the code before these gaps existed (the nulls were silent)."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from customers.models import LifecycleStageHistory
from health.common import benchmark
from health.rollups import rebuild_range
from tests.customers.factories import ClientFactory
from tests.health.factories import FeatureFactory, UsageEventFactory

from .conftest import at, days_ago


def _gaps(out, prefix: str) -> dict[str, str]:
    """{field: reason} of the data gaps under ``prefix``."""
    return {g["field"]: g["reason"] for g in out["data_gaps"] if g["field"].startswith(prefix)}


# --- RULES §15.1 benchmarks ----------------------------------------------------------------------------------


def test_too_few_peers_gaps_the_percentile_and_each_quartile(settings):
    settings.CS_RULES = {**settings.CS_RULES, "benchmark_min_peers": 5}
    gaps: list = []
    out = benchmark("stickiness", 0.25, [0.1, 0.3], "tier", "standard", gaps, "benchmark_insights[0]")
    assert (out["percentile"], out["peer_p25"], out["peer_median"], out["peer_p75"]) == (
        None,
        None,
        None,
        None,
    )
    assert gaps == [
        {
            "field": f"benchmark_insights[0].{key}",
            "reason": "peer_group_too_small",
            "detail": "2 peers (< 5).",
        }
        for key in ("percentile", "peer_p25", "peer_median", "peer_p75")
    ]


def test_a_missing_own_value_gaps_the_value_and_its_percentile(settings):
    settings.CS_RULES = {**settings.CS_RULES, "benchmark_min_peers": 5}
    gaps: list = []
    out = benchmark("utilisation", None, [1.0, 2.0, 3.0, 4.0, 5.0], "tier", "pro", gaps, "b[1]")
    assert (out["percentile"], out["peer_p25"], out["peer_median"], out["peer_p75"]) == (None, 2.0, 3.0, 4.0)
    assert [(g["field"], g["reason"]) for g in gaps] == [
        ("b[1].value", "not_enough_data"),
        ("b[1].percentile", "not_enough_data"),
    ]


# --- segment_customers ----------------------------------------------------------------------------------------


@pytest.fixture
def segment_world(db):
    """strategic a1 (CSM, 90), enterprise a2 (no CSM, 70), standard a4 (no CSM, unscored), starter a6 (CSM, 82).
    No ARR movements and no NPS answers at all."""
    csm = get_user_model().objects.create_user("csm1", "csm1@example.com", "x", is_staff=True)
    for cid, arr, health, user in (
        ("a1", 250000, 90, csm),
        ("a2", 120000, 70, None),
        ("a4", 20000, None, None),
        ("a6", 5000, 82, csm),
    ):
        ClientFactory(client_id=cid, contract_value=arr, health_score=health, csm_assigned=user)


def test_segment_customers_gaps(segment_world, call):
    out = call("segment_customers", segmentation_type="value_based", criteria={}, min_segment_size=1)
    assert out["status"] == "success", out
    assert [s["key"] for s in out["segments"]] == ["strategic", "enterprise", "standard", "starter"]
    assert out["resource_allocation"]["enterprise"]["accounts_per_csm"] is None
    assert _gaps(out, "resource_allocation") == {
        "resource_allocation.enterprise.accounts_per_csm": "no_csm",
        "resource_allocation.standard.accounts_per_csm": "no_csm",
    }
    assert out["segment_performance"]["starter"]["logo_retention_12m"] is None
    performance = _gaps(out, "segment_performance")
    for key in ("strategic", "enterprise", "standard", "starter"):
        assert performance.pop(f"segment_performance.{key}.logo_retention_12m") == "insufficient_history"
        assert performance.pop(f"segment_performance.{key}.grr_12m") == "insufficient_history"
        assert performance.pop(f"segment_performance.{key}.nps") == "no_survey_responses"
    assert performance == {"segment_performance.standard.avg_health_score": "no_score"}
    # segments is a list: the gap names the standard segment by its index, not by its key
    assert out["segments"][2]["avg_health_score"] is None
    assert _gaps(out, "segments") == {"segments[2].avg_health_score": "no_score"}
    # RULES §6.1: starter targets are "not set" — a legitimate null, no gap
    assert out["segments"][3]["targets"] == {"health": None, "nps": None, "grr": None}


def test_segment_customers_single_scored_segment_gaps_best_and_worst(segment_world, call):
    out = call(
        "segment_customers",
        segmentation_type="value_based",
        criteria={"population_filter": {"all": [{"field": "contract_value", "op": ">=", "value": 200000}]}},
        min_segment_size=1,
    )
    assert out["status"] == "success", out
    assert out["cross_segment_analysis"]["best_segment"] is None
    assert _gaps(out, "cross_segment_analysis") == {
        "cross_segment_analysis.health_gap": "not_enough_data",
        "cross_segment_analysis.best_segment": "not_enough_data",
        "cross_segment_analysis.worst_segment": "not_enough_data",
    }


# --- segment_by_value_tier ------------------------------------------------------------------------------------


def test_value_tier_gaps(segment_world, call):
    """strategic a1, enterprise a2, standard a4 (unscored), starter a6; professional is empty."""
    out = call("segment_by_value_tier", segmentation_criteria={})
    assert out["status"] == "success", out
    metrics = _gaps(out, "tier_metrics")
    assert {k: v for k, v in metrics.items() if k.startswith("tier_metrics.professional.")} == {
        "tier_metrics.professional.avg_arr": "not_enough_data",
        "tier_metrics.professional.avg_health": "not_enough_data",
        "tier_metrics.professional.nps": "not_enough_data",
        "tier_metrics.professional.logo_retention_12m": "not_enough_data",
    }
    assert {k: v for k, v in metrics.items() if k.startswith("tier_metrics.standard.")} == {
        "tier_metrics.standard.avg_health": "no_score",
        "tier_metrics.standard.nps": "no_survey_responses",
        "tier_metrics.standard.logo_retention_12m": "insufficient_history",
    }
    assert out["tier_metrics"]["standard"]["avg_arr"] == 20000.0
    assert _gaps(out, "tier_performance") == {
        "tier_performance.professional.health_score": "not_enough_data",
        "tier_performance.standard.health_score": "no_score",
    }
    assert _gaps(out, "csm_allocation") == {
        "csm_allocation.enterprise.accounts_per_csm": "no_csm",
        "csm_allocation.professional.accounts_per_csm": "not_enough_data",
        "csm_allocation.standard.accounts_per_csm": "no_csm",
    }
    assert out["csm_allocation"]["strategic"]["accounts_per_csm"] == 1.0
    # RULES §6.1: no capacity target and starter targets "not set" are legitimate nulls
    assert out["csm_allocation"]["strategic"]["target_accounts_per_csm"] is None
    assert not _gaps(out, "service_level_recommendations")


def test_value_tier_performance_gaps_name_the_clv_reason(segment_world, call, settings):
    settings.CS_RULES = {**settings.CS_RULES, "gross_margin": None}
    out = call(
        "segment_by_value_tier",
        segmentation_criteria={"secondary_dimensions": ["clv"]},
        service_level_mapping=False,
        resource_planning=False,
    )
    assert out["status"] == "success", out
    assert out["tier_performance"]["strategic"]["clv"] is None
    assert _gaps(out, "tier_performance.strategic") == {
        "tier_performance.strategic.clv": "gross_margin_not_configured"
    }
    assert _gaps(out, "tier_performance.professional") == {
        "tier_performance.professional.clv": "not_enough_data"
    }
    assert not _gaps(out, "csm_allocation") and not _gaps(out, "service_level_recommendations")


def test_caller_defined_tiers_have_no_service_level(segment_world, call):
    tiers = [{"name": "big", "min": 100000}, {"name": "small", "min": 0, "max": 100000}]
    out = call("segment_by_value_tier", segmentation_criteria={}, tier_definitions=tiers)
    assert out["status"] == "success", out
    assert out["service_level_recommendations"] == {"big": None, "small": None}
    assert _gaps(out, "service_level_recommendations") == {
        "service_level_recommendations.big": "not_applicable",
        "service_level_recommendations.small": "not_applicable",
    }


# --- track_feature_adoption -----------------------------------------------------------------------------------


@pytest.fixture
def adoption_world(db):
    """Two standard clients; reports (starter+) used by one; exports needs professional: nobody is eligible."""
    FeatureFactory(feature_key="reports", is_core=True)
    FeatureFactory(feature_key="exports", min_tier="professional", category="advanced")
    acme = ClientFactory(client_id="acme", tier="standard", contract_start_date=days_ago(120))
    beta = ClientFactory(client_id="beta", tier="standard", contract_start_date=days_ago(120))
    UsageEventFactory(client=acme, user_id="u1", feature_key="reports", occurred_at=at(days_ago(3)))
    rebuild_range([acme.pk, beta.pk], days_ago(40), days_ago(0))


def test_feature_nobody_is_eligible_for_has_a_gap(adoption_world, call):
    out = call("track_feature_adoption", time_period_days=30)
    assert out["status"] == "success", out
    rows = [(x["feature_key"], x["adoption_rate"]) for x in out["feature_adoption_breakdown"]]
    assert rows == [("exports", None), ("reports", 0.5)]
    assert _gaps(out, "feature_adoption_breakdown[") == {
        "feature_adoption_breakdown[0].adoption_rate": "not_applicable",
        "feature_adoption_breakdown[].stage": "not_applicable",
    }


def test_client_window_beyond_raw_retention_gaps_the_user_counts(adoption_world, call, settings):
    settings.CS_RULES = {**settings.CS_RULES, "usage_raw_retention_days": 10}
    out = call("track_feature_adoption", client_id="acme", time_period_days=30)
    assert out["status"] == "success", out
    assert {x["users_or_clients"] for x in out["feature_adoption_breakdown"]} == {None}
    assert _gaps(out, "feature_adoption_breakdown[") == {
        "feature_adoption_breakdown[].adoption_rate": "raw_events_expired",
        "feature_adoption_breakdown[].users_or_clients": "raw_events_expired",
    }


# --- manage_lifecycle_stages analyze ---------------------------------------------------------------------------


@pytest.fixture
def lifecycle_world(db):
    """a: onboarding 100→40 days ago, then active (open); b: active, unscored, no stage record; c: at_risk (open)."""
    now = timezone.now()
    a = ClientFactory(client_id="a", lifecycle_stage="active", health_score=55)
    ClientFactory(client_id="b", lifecycle_stage="active", health_score=None)
    c = ClientFactory(client_id="c", lifecycle_stage="at_risk", health_score=50)

    def stint(client, frm, to, entered, exited=None):
        LifecycleStageHistory.objects.create(
            client=client,
            from_stage=frm,
            to_stage=to,
            actor="root",
            entered_at=now - dt.timedelta(days=entered),
            exited_at=now - dt.timedelta(days=exited) if exited is not None else None,
        )

    stint(a, "", "onboarding", 100, 40)
    stint(a, "onboarding", "active", 40)
    stint(c, "active", "at_risk", 10)


def test_lifecycle_analyze_gaps(lifecycle_world, call):
    out = call("manage_lifecycle_stages")
    assert out["status"] == "success", out
    characteristics = _gaps(out, "stage_characteristics")
    assert {k: v for k, v in characteristics.items() if ".renewal." in k} == {
        "stage_characteristics.renewal.avg_health_score": "not_enough_data",
        "stage_characteristics.renewal.median_arr": "not_enough_data",
        "stage_characteristics.renewal.avg_days_in_stage": "not_enough_data",
    }
    assert not [k for k in characteristics if ".active." in k]  # a is scored and has an open stage record
    assert out["stage_characteristics"]["active"]["avg_days_in_stage"] == 40.0  # b has no record: left out
    assert out["average_stage_duration"]["onboarding"] == 60.0
    assert _gaps(out, "average_stage_duration") == {
        f"average_stage_duration.{s}": "insufficient_history"
        for s in ("active", "at_risk", "expansion", "renewal", "churned")
    }
    success = _gaps(out, "stage_success_metrics")
    assert success == {  # onboarding (a) and active (c) have been left once each
        f"stage_success_metrics.{s}.{key}": "insufficient_history"
        for s in ("at_risk", "expansion", "renewal", "churned")
        for key in ("to_active_or_expansion_share", "to_churned_share")
    }


def test_lifecycle_stage_with_clients_but_no_score_or_record(lifecycle_world, call):
    ClientFactory(client_id="x", lifecycle_stage="expansion", health_score=None)
    out = call("manage_lifecycle_stages", current_stage="expansion")
    assert out["status"] == "success", out
    assert out["stage_characteristics"]["expansion"]["median_arr"] == 25000.0
    assert _gaps(out, "stage_characteristics") == {
        "stage_characteristics.expansion.avg_health_score": "no_score",
        "stage_characteristics.expansion.avg_days_in_stage": "insufficient_history",
    }


# --- analyze_engagement_patterns ------------------------------------------------------------------------------


def test_success_patterns_without_low_risk_clients_have_gaps(db, call):
    ClientFactory(client_id="solo", risk_level="high", health_score=55)
    out = call(
        "analyze_engagement_patterns",
        analysis_scope="individual",
        scope_filter={"client_id": "solo"},
        anomaly_detection=False,
        predictive_insights=False,
    )
    assert out["status"] == "success", out
    assert out["success_patterns"] == {
        "clients": 0,
        "median_stickiness": None,
        "median_core_breadth": None,
        "median_milestones_achieved": None,
    }
    assert _gaps(out, "success_patterns") == {
        "success_patterns.median_stickiness": "not_enough_data",
        "success_patterns.median_core_breadth": "not_enough_data",
        "success_patterns.median_milestones_achieved": "not_enough_data",
    }


def test_success_patterns_of_low_risk_clients_without_snapshots_gap_the_usage_medians(db, call):
    ClientFactory(client_id="calm", risk_level="low", health_score=90)
    out = call("analyze_engagement_patterns", anomaly_detection=False, predictive_insights=False)
    assert out["status"] == "success", out
    assert out["success_patterns"]["clients"] == 1
    assert out["success_patterns"]["median_milestones_achieved"] == 0
    assert _gaps(out, "success_patterns") == {
        "success_patterns.median_stickiness": "not_enough_data",
        "success_patterns.median_core_breadth": "not_enough_data",
    }
