"""Result types of the 10 health & segmentation tools (TOOLS §3).

Each tool in ``health/tools.py`` names its type as its return annotation; the registry publishes the envelope
schema generated from it (``cs_project.core.results``). Keys and nesting follow the tool's "Returns" line in
TOOLS.md; ``X | None`` where the value can be missing (with a data gap) or where TOOLS.md says "(or null)";
``dict[str, Any]`` where TOOLS.md leaves the inner shape open (keyed by segment, tier, stage, milestone …).
A key that is not in TOOLS.md is marked as such in a comment.
"""

from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from cs_project.core.results import Benchmark, Finding, MutatingResult, ToolResult
from customers.results import ChurnDriver, RiskLevel, SideEffect, Trend

Component = Literal["usage", "engagement", "support", "satisfaction", "payment"]
Direction = Literal["increasing", "stable", "decreasing"]

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
    users: int


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
    by_hour: list[int]
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
    users: int
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


# --- calculate_health_score ----------------------------------------------------------------------------------


class Weights(TypedDict):
    usage_weight: float | None
    engagement_weight: float | None
    support_weight: float | None
    satisfaction_weight: float | None
    payment_weight: float | None


class ComponentScores(TypedDict):
    usage: float | None
    engagement: float | None
    support: float | None
    satisfaction: float | None
    payment: float | None
    weights: Weights
    effective_weights: Weights
    missing_components: list[Component]


class ExplainedComponent(TypedDict):
    """RULES §4.6 ``explanation.components[]``."""

    component: Component
    status: str
    score: float | None
    base_weight: float | None
    effective_weight: float | None
    contribution: float | None
    previous_score: float | None
    previous_contribution: float | None
    contribution_change: float | None
    inputs: NotRequired[dict[str, Any]]


class TopDriver(TypedDict):
    component: Component
    contribution_change: float | None


class Explanation(TypedDict):
    """RULES §4.6: the explanation payload returned with every score."""

    formula_version: str
    scorecard: dict[str, Any] | None
    comparison: dict[str, Any] | None
    components: list[ExplainedComponent]
    missing_components: list[Component]
    top_drivers: list[TopDriver]
    score_change: int | float | None
    low_confidence: bool


class ChurnPrediction(TypedDict):
    """RULES §5: heuristic (``churn-heuristic-v1``) or trained model (``churn-logreg-<date>``) drivers."""

    probability: float | None
    risk_level: RiskLevel | None
    method: str
    calibrated: bool
    horizon_days: int | None
    drivers: list[ChurnDriver]
    predicted_churn_date: str | None
    data_coverage: float | None
    model_metrics: dict[str, Any] | None


class ScoreAsOf(TypedDict):
    as_of: str
    score: int | None
    risk_level: RiskLevel | None


class PredictedScore(TypedDict):
    week: int | str
    score: float
    lower: float
    upper: float


class ComponentScore(TypedDict):
    component: Component
    score: float


class ContributingFactors(TypedDict):
    positive_factors: list[ComponentScore]
    negative_factors: list[ComponentScore]
    neutral_factors: list[ComponentScore]


class CalculateHealthScoreResult(MutatingResult):
    client_id: str
    calculation_timestamp: str
    as_of: str
    persisted: bool
    current_health_score: int | None
    health_trend: Trend | None
    score_change: int | float | None
    risk_level: RiskLevel | None
    low_confidence: bool
    component_scores: ComponentScores
    explanation: Explanation
    health_metrics: dict[str, dict[str, Any]]
    risk_indicators: list[dict[str, Any]]
    churn_prediction: ChurnPrediction | None
    historical_scores: list[ScoreAsOf]
    predicted_scores: list[PredictedScore] | None
    contributing_factors: ContributingFactors
    improvement_opportunities: list[Finding]
    automated_alerts: list[dict[str, Any]]
    recommended_actions: list[Finding]


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
    users_or_clients: int
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
    service_level_recommendations: dict[str, ServiceLevel] | None
    csm_allocation: dict[str, Any] | None
    tier_performance: dict[str, dict[str, Any]]
    upgrade_candidates: list[dict[str, Any]]
    downgrade_risks: list[dict[str, Any]]
    tier_optimization: list[Finding]
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


# --- analyze_health_trends ------------------------------------------------------------------------------------


class TrendScope(TypedDict):
    client_id: str | None
    segment_by: str | None


class DatePeriod(TypedDict):
    start: str
    end: str


class PortfolioBucket(TypedDict):
    bucket_start: str
    avg_score: float | None
    median_score: float | None
    clients_scored: int
    band_distribution: dict[str, int]


class ClientBucket(TypedDict):
    bucket_start: str
    score: int | None
    risk_level: RiskLevel | None
    components: dict[str, float | None]


class ComponentTrend(TypedDict):
    start: float | None
    end: float | None
    change: float | None
    direction: Trend | None


class Movers(TypedDict):
    improving: list[dict[str, Any]]
    declining: list[dict[str, Any]]


class ForecastPoint(TypedDict):
    bucket_start: str
    score: float
    lower: float
    upper: float


class Forecast(TypedDict):
    method: Literal["ols_linear"]
    points: list[ForecastPoint]
    r2: float | None
    n_points: int


class TrendSummary(TypedDict):
    start_value: float | None
    end_value: float | None
    change: float | None
    direction: Trend | None


class AnalyzeHealthTrendsResult(ToolResult):
    scope: TrendScope
    period: DatePeriod
    granularity: str
    series: list[PortfolioBucket] | list[ClientBucket]
    segments: dict[str, list[PortfolioBucket]] | None
    component_trends: dict[str, ComponentTrend] | None
    band_migrations: dict[str, int]
    movers: Movers | None
    forecast: Forecast | None
    summary: TrendSummary


# --- generate_health_reports ---------------------------------------------------------------------------------


class ReportPeriod(TypedDict):
    start: str
    end: str
    label: str


class GenerateHealthReportsResult(ToolResult):
    report_id: str
    report_type: Literal["portfolio", "account", "at_risk", "movers"]
    period: ReportPeriod
    generated_at: str
    format: Literal["json", "markdown", "csv"]
    content: dict[str, Any] | str
    summary: dict[str, Any]
    row_count: int
    truncated: bool
