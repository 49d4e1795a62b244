"""The shared tool contract (tests/harness.py) for the 10 health tools, each on a seeded demo world."""

import datetime as dt

import pytest

from cs_project.core.registry import execute_tool, get_tool
from cs_project.core.results import result_errors
from health.common import today
from tests.harness import ToolContractTests, demo_world


class TestTrackUsageEngagement(ToolContractTests):
    tool_name = "track_usage_engagement"

    def arguments(self, world):
        end = today()
        return {
            "client_id": world["client_id"],
            "period_start": (end - dt.timedelta(days=27)).isoformat(),
            "period_end": end.isoformat(),
        }


class TestCalculateHealthScore(ToolContractTests):
    tool_name = "calculate_health_score"
    nullable_without_gap = (
        "audit_event_id",  # the demo world already stored today's identical snapshot: nothing changed
        "churn_prediction.predicted_churn_date",  # RULES §5.1: only when p ≥ 0.50
        "health_metrics.payment.oldest_unpaid_due",  # nothing unpaid
        "explanation.components[].inputs.oldest_unpaid_due",
    )

    def arguments(self, world):
        return {"client_id": world["client_id"]}


class TestSegmentCustomers(ToolContractTests):
    tool_name = "segment_customers"
    nullable_without_gap = ("segments[].targets",)  # RULES §6.1: the starter tier's targets are "not set"

    def arguments(self, world):
        return {"segmentation_type": "value_based", "criteria": {}, "min_segment_size": 1}


class TestTrackFeatureAdoption(ToolContractTests):
    tool_name = "track_feature_adoption"
    nullable_without_gap = ("scope.client_id", "scope.feature_id")  # the arguments, echoed


class TestTrackFeatureAdoptionOfOneClient(ToolContractTests):
    tool_name = "track_feature_adoption"
    nullable_without_gap = ("scope.feature_id", "adoption_by_tier", "adoption_by_lifecycle")  # portfolio only

    def arguments(self, world):
        return {"client_id": world["client_id"]}


class TestManageLifecycleStages(ToolContractTests):
    tool_name = "manage_lifecycle_stages"
    nullable_without_gap = (
        "audit_event_id",
        "transition_triggers[].to",
    )  # analyze writes nothing; rules as data


class TestManageLifecycleStagesTransition(ToolContractTests):
    tool_name = "manage_lifecycle_stages"
    nullable_without_gap = (
        "history_entry.exited_at",
        "history_entry.rule_id",
    )  # open stint, manual transition

    def arguments(self, world):
        return {
            "action": "transition",
            "client_id": world["client_id"],
            "new_stage": "at_risk",
            "reason": "QBR",
        }

    def repeat_arguments(self, world):
        return {
            "action": "transition",
            "client_id": world["client_id"],
            "new_stage": "active",
            "reason": "Saved",
        }


class TestManageLifecycleStagesHistory(ToolContractTests):
    tool_name = "manage_lifecycle_stages"
    nullable_without_gap = (  # get_history writes nothing; first stint, open stint, manual transitions
        "audit_event_id",
        "history[].from_stage",
        "history[].exited_at",
        "history[].rule_id",
    )

    def arguments(self, world):
        return {"action": "get_history", "client_id": world["client_id"]}


class TestTrackAdoptionMilestones(ToolContractTests):
    tool_name = "track_adoption_milestones"
    # One set-based query (first feature use of the clients still awaiting such a milestone) runs only when
    # some client is waiting: it depends on the data, not on the number of accounts.
    extra_queries_allowed = 1
    nullable_without_gap = (
        "benchmark_comparison",  # client scope only
        "customer_progress[].milestones.*.achieved_at",  # not achieved (status says which)
        "customer_progress[].milestones.*.days_to_achieve",
    )


class TestSegmentByValueTier(ToolContractTests):
    tool_name = "segment_by_value_tier"
    nullable_without_gap = (
        "tier_definitions[].max",  # the open-ended top tier
        "csm_allocation.*.target_accounts_per_csm",  # RULES §6.1: optional column, null = no capacity target
        "service_level_recommendations.*.targets",  # RULES §6.1: the starter tier's targets are "not set"
    )

    def arguments(self, world):
        return {"segmentation_criteria": {}}


class TestAnalyzeEngagementPatterns(ToolContractTests):
    tool_name = "analyze_engagement_patterns"


class TestAnalyzeHealthTrends(ToolContractTests):
    tool_name = "analyze_health_trends"
    nullable_without_gap = (
        "scope.client_id",
        "scope.segment_by",
        "segments",
    )  # arguments echoed; no segment_by


class TestGenerateHealthReports(ToolContractTests):
    tool_name = "generate_health_reports"
    nullable_without_gap = ("content.clients[].active_campaign",)  # no active campaign


class TestGenerateAtRiskReport(ToolContractTests):
    tool_name = "generate_health_reports"
    nullable_without_gap = ("content.clients[].active_campaign",)

    def arguments(self, world):
        return {"report_type": "at_risk"}


VARIANTS = {
    "usage_without_options": (
        "track_usage_engagement",
        lambda w: {
            **TestTrackUsageEngagement().arguments(w),
            "granularity": "weekly",
            "include_feature_breakdown": False,
            "include_user_segmentation": False,
            "benchmark_comparison": False,
        },
    ),
    "score_without_predictions": (
        "calculate_health_score",
        lambda w: {"client_id": w["client_id"], "include_predictions": False},
    ),
    "score_preview_custom_weights": (
        "calculate_health_score",
        lambda w: {
            "client_id": w["client_id"],
            "scoring_model": "custom",
            "component_weights": {
                "usage_weight": 0.2,
                "engagement_weight": 0.2,
                "support_weight": 0.2,
                "satisfaction_weight": 0.2,
                "payment_weight": 0.2,
            },
        },
    ),
    "adoption_without_options": (
        "track_feature_adoption",
        lambda w: {"include_user_personas": False, "optimization_recommendations": False},
    ),
    "lifecycle_without_options": (
        "manage_lifecycle_stages",
        lambda w: {"include_transitions": False, "intervention_planning": False, "automation_rules": False},
    ),
    "milestones_of_one_client": ("track_adoption_milestones", lambda w: {"client_id": w["client_id"]}),
    "tiers_without_options": (
        "segment_by_value_tier",
        lambda w: {
            "segmentation_criteria": {"primary_dimension": "arr"},
            "service_level_mapping": False,
            "vip_identification": False,
            "resource_planning": False,
        },
    ),
    "patterns_of_one_client": (
        "analyze_engagement_patterns",
        lambda w: {
            "analysis_scope": "individual",
            "scope_filter": {"client_id": w["client_id"]},
            "anomaly_detection": False,
            "predictive_insights": False,
        },
    ),
    "trends_of_one_client": ("analyze_health_trends", lambda w: {"client_id": w["client_id"]}),
    "trends_of_one_client_without_components": (
        "analyze_health_trends",
        lambda w: {"client_id": w["client_id"], "include_components": False},
    ),
    "trends_by_tier": ("analyze_health_trends", lambda w: {"segment_by": "tier", "granularity": "daily"}),
    "account_report_markdown": (
        "generate_health_reports",
        lambda w: {"report_type": "account", "client_id": w["client_id"], "format": "markdown"},
    ),
    "movers_report_csv": ("generate_health_reports", lambda w: {"report_type": "movers", "format": "csv"}),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_match_their_schema(variant, db, superuser):
    """Other branches of the same tools (options off, one client, another format) against the same schema."""
    name, arguments = VARIANTS[variant]
    world = demo_world(4)
    envelope = execute_tool(name, arguments(world), user=superuser, channel="api")
    assert envelope["status"] == "success", envelope
    assert result_errors(get_tool(name).result_type, envelope) == []
