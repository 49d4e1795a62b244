"""Result types of the health tools (TOOLS §3.3, 3.5, 3.7): segments, lifecycle stages and value tiers."""

from typing import Any

from typing_extensions import TypedDict

from cs_project.core.results import Finding, MutatingResult, ToolResult
from customers.results import SideEffect

# --- segment_customers ----------------------------------------------------------------------------------------


class EngagementStrategy(TypedDict):
    touch_cadence: str | None
    ebr_cadence: str | None
    source: str | None


class SegmentTargets(TypedDict):
    health: int | float | None
    nps: int | float | None
    grr: float | None


class Segment(TypedDict):
    segment_id: str
    key: str
    name: str
    rule: dict[str, Any]
    customer_count: int
    client_ids: list[str]
    total_arr: float
    avg_health_score: float | None
    engagement_strategy: EngagementStrategy
    targets: SegmentTargets


class SegmentBelowMin(TypedDict):
    key: str
    customer_count: int


class SegmentMigration(TypedDict):
    entered: int
    exited: int
    by_segment: dict[str, Any]


class SegmentCustomersResult(MutatingResult):
    segmentation_id: str
    segmentation_type: str
    execution_timestamp: str
    total_customers_analyzed: int
    segments_created: int
    segments: list[Segment]
    segments_below_min_size: list[SegmentBelowMin]
    segment_distribution: dict[str, float]
    segment_characteristics: dict[str, dict[str, Any]]
    segment_performance: dict[str, dict[str, Any]] | None
    cross_segment_analysis: dict[str, Any]
    engagement_strategies: dict[str, EngagementStrategy]
    resource_allocation: dict[str, Any]
    segment_migration: SegmentMigration
    recommendations: list[Finding] | None


# --- segment_by_value_tier ------------------------------------------------------------------------------------


class TierShare(TypedDict):
    count: int
    share: float | None


class TierMetrics(TypedDict):
    total_arr: float
    avg_arr: float | None
    avg_health: float | None
    nps: float | None
    logo_retention_12m: float | None
    expansion_arr_12m: float | None


class ValueConcentration(TypedDict):
    top_10pct_arr_share: float | None
    top_20pct_arr_share: float | None
    gini: float | None


class TierCharacteristics(TypedDict):
    tier_mix: dict[str, float]
    top_industries: list[str]
    lifecycle_mix: dict[str, float]


class ServiceLevel(TypedDict):
    touch_cadence: str | None
    ebr_cadence: str | None
    targets: dict[str, Any]


class SegmentByValueTierResult(ToolResult):
    segmentation_id: str
    analysis_timestamp: str
    total_customers: int
    tier_definitions: list[dict[str, Any]]
    tier_distribution: dict[str, TierShare]
    tier_metrics: dict[str, TierMetrics]
    value_concentration: ValueConcentration
    vip_accounts: list[dict[str, Any]] | None
    tier_characteristics: dict[str, TierCharacteristics]
    service_level_recommendations: dict[str, ServiceLevel | None] | None
    csm_allocation: dict[str, Any] | None
    tier_performance: dict[str, dict[str, Any]]
    upgrade_candidates: list[dict[str, Any]]
    downgrade_risks: list[dict[str, Any]]
    tier_optimization: list[Finding]
    recommended_actions: list[Finding]


# --- manage_lifecycle_stages (three shapes, by action) ---------------------------------------------------------


class LifecycleAnalyzeResult(MutatingResult):
    management_id: str
    analysis_timestamp: str
    total_customers: int
    stage_distribution: dict[str, Any]
    stage_characteristics: dict[str, Any]
    stage_transitions: dict[str, int] | None
    transition_triggers: list[dict[str, Any]]
    average_stage_duration: dict[str, float | None]
    stage_success_metrics: dict[str, Any]
    at_risk_transitions: list[dict[str, Any]]
    expansion_opportunities: list[dict[str, Any]]
    intervention_playbooks: dict[str, Any] | None
    automated_workflows: dict[str, Any] | None
    recommended_actions: list[Finding]


class LifecycleTransitionResult(MutatingResult):
    client_id: str
    previous_stage: str
    new_stage: str
    transitioned_at: str
    reason: str
    side_effects: list[SideEffect]
    history_entry: dict[str, Any]


class StageStint(TypedDict):
    from_stage: str | None
    to_stage: str
    entered_at: str
    exited_at: str | None
    days_in_stage: int | None
    reason: str | None
    rule_id: str | None
    actor: str | None


class LifecycleHistoryResult(MutatingResult):
    client_id: str
    current_stage: str
    days_in_current_stage: int | None
    history: list[StageStint]


ManageLifecycleStagesResult = LifecycleAnalyzeResult | LifecycleTransitionResult | LifecycleHistoryResult
