"""Result types of the health tools (TOOLS §3.1, 3.4, 3.6, 3.8): usage, feature adoption, milestones and
engagement patterns."""

from typing import Any

from typing_extensions import TypedDict

from cs_project.core.results import Benchmark, Finding, ToolResult

from .common import Direction

# --- track_usage_engagement ----------------------------------------------------------------------------------


class AnalysisPeriod(TypedDict):
    start: str
    end: str
    days: int
    granularity: str


class ChangeVsPrevious(TypedDict):
    active_users_change_rate: float | None
    events_change_rate: float | None


class EngagementMetrics(TypedDict):
    total_known_users: int
    active_users: int
    dau_avg: float | None
    wau: int | None
    mau: int | None
    stickiness: float | None
    activation_rate: float | None
    engagement_rate: float | None
    logins: int
    session_minutes: float | None
    actions: int
    power_users: int
    regular_users: int
    at_risk_users: int
    inactive_users: int
    engagement_trend: Direction | None
    vs_previous_period: ChangeVsPrevious


class FeatureCount(TypedDict):
    feature_key: str
    events: int
    users: int | None  # null once the period's raw events are past retention (gap raw_events_expired)


class UsageAnalytics(TypedDict):
    total_usage_events: int
    total_quantity: float
    unique_features_used: int
    total_features_available: int
    feature_utilization_rate: float | None
    top_features: list[FeatureCount]
    underutilized_features: list[Any]
    new_feature_adoption: list[dict[str, Any]]
    integration_usage: int | None
    api_usage: int | None
    usage_trend: Direction | None
    usage_growth_rate: float | None


class UsageBucket(TypedDict):
    bucket_start: str
    events: int
    quantity: float
    active_users: int


class WeekHourPattern(TypedDict):
    by_weekday: list[int]
    by_hour: list[int] | None  # hours need raw events (gap raw_events_expired)
    peak_weekday: str | None
    peak_hour: int | None


class Cohort(TypedDict):
    count: int
    user_ids: list[str]


class UserCohorts(TypedDict):
    power: Cohort
    regular: Cohort
    at_risk: Cohort
    inactive: Cohort


class FeatureFirstUse(TypedDict):
    feature_key: str
    first_used_at: str | None
    users: int | None
    stage: str | None


class TrackUsageEngagementResult(ToolResult):
    client_id: str
    analysis_period: AnalysisPeriod
    engagement_metrics: EngagementMetrics
    usage_analytics: UsageAnalytics
    usage_trends: list[UsageBucket]
    engagement_patterns: WeekHourPattern
    user_cohorts: UserCohorts | None
    feature_adoption_timeline: list[FeatureFirstUse] | None
    activity_heatmap: dict[str, list[int]] | None
    benchmark_insights: list[Benchmark] | None
    recommendations: list[Finding]
    alerts: list[dict[str, Any]]


# --- track_feature_adoption ----------------------------------------------------------------------------------


class AdoptionScope(TypedDict):
    client_id: str | None
    feature_id: str | None
    window_days: int


class FeatureAdoptionRow(TypedDict):
    feature_key: str
    name: str
    is_core: bool
    adoption_rate: float | None
    users_or_clients: int | None
    events: int
    stage: str | None
    first_used_at: str | None
    last_used_at: str | None


class HighValueFeature(TypedDict):
    feature_key: str
    adopters_avg_health: float | None
    non_adopters_avg_health: float | None
    difference: float | None
    n_adopters: int
    n_non_adopters: int


class TrackFeatureAdoptionResult(ToolResult):
    analysis_id: str
    analysis_timestamp: str
    scope: AdoptionScope
    overall_adoption_rate: float | None
    feature_adoption_breakdown: list[FeatureAdoptionRow]
    adoption_by_tier: dict[str, float | None] | None
    adoption_by_lifecycle: dict[str, float | None] | None
    adoption_velocity: dict[str, float | None]
    adoption_patterns: list[dict[str, Any]]
    high_value_features: list[HighValueFeature]
    underutilized_features: list[Any]
    feature_stickiness: dict[str, float | None]
    adoption_barriers: list[Any]
    success_factors: list[Any]
    user_personas: dict[str, Any] | None
    optimization_opportunities: list[Finding] | None
    recommended_actions: list[Finding] | None


# --- track_adoption_milestones ------------------------------------------------------------------------------


class MilestoneStatus(TypedDict):
    status: str
    achieved_at: str | None
    days_to_achieve: int | None


class CustomerProgress(TypedDict):
    client_id: str
    client_name: str
    days_since_start: int | None
    completion_pct: float | None
    next_milestone: str | None
    milestones: dict[str, MilestoneStatus]


class TrackAdoptionMilestonesResult(ToolResult):
    tracking_id: str
    analysis_timestamp: str
    milestone_framework: str
    total_milestones: int
    milestone_definitions: list[dict[str, Any]]
    customer_progress: list[CustomerProgress]
    completion_rates: dict[str, float | None]
    time_to_milestone: dict[str, Any]
    milestone_correlation: dict[str, Any]
    stuck_customers: list[dict[str, Any]]
    fast_track_customers: list[dict[str, Any]]
    milestone_blockers: dict[str, Any]
    success_factors: list[Any]
    benchmark_comparison: dict[str, Any] | None
    celebration_opportunities: list[Finding] | None
    intervention_recommendations: list[Finding]
    recommended_actions: list[Finding]


# --- analyze_engagement_patterns ------------------------------------------------------------------------------


class Anomaly(TypedDict):
    client_id: str
    date: str
    metric: str
    value: float
    expected: float | None
    z: float | None
    kind: str


class AnalyzeEngagementPatternsResult(ToolResult):
    analysis_id: str
    analysis_timestamp: str
    analysis_scope: str
    customers_analyzed: int
    identified_patterns: list[dict[str, Any]]
    temporal_patterns: dict[str, Any] | None
    feature_usage_patterns: dict[str, Any] | None
    communication_patterns: dict[str, Any] | None
    support_patterns: dict[str, Any] | None
    user_personas: dict[str, Any]
    success_patterns: dict[str, Any]
    risk_patterns: list[Any]
    anomalies: list[Anomaly] | None
    pattern_transitions: dict[str, Any]
    predictive_insights: list[Any] | None
    engagement_optimization: list[Any]
    recommended_actions: list[Finding]
