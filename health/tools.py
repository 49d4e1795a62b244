"""The 10 health & segmentation tools (TOOLS §3): thin adapters over the read modules (health.reads.*), the
writes (health.services, health.segments) and the health engine (health.scoring via
health.services_score.health_score_calculate)."""

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field

from cs_project.core.errors import InvalidParameter
from cs_project.core.registry import ToolContext, enum_of, tool
from customers.choices import LifecycleStage
from customers.models import CLIENT_ID_PATTERN
from customers.tool_params import ClientId, OptionalClientId

from . import results, segments, services, services_score
from .choices import SegmentationType
from .reads import adoption, lifecycle, milestones, patterns, reports, trends, usage, value_tiers

PatternType = Literal["temporal", "feature_usage", "communication", "support"]


@tool(name="track_usage_engagement", category="health", title="Track usage and engagement", read_only=True)
def track_usage_engagement(
    ctx: ToolContext,
    *,
    client_id: ClientId,
    period_start: Annotated[dt.date, Field(description="First day of the period (YYYY-MM-DD)")],
    period_end: Annotated[
        dt.date, Field(description="Last day of the period; after the start, span ≤ 365 days")
    ],
    granularity: Annotated[
        Literal["hourly", "daily", "weekly", "monthly"],
        Field(description="Series granularity; hourly needs a span ≤ 7 days inside raw retention"),
    ] = "daily",
    include_feature_breakdown: Annotated[bool, Field(description="Feature adoption timeline")] = True,
    include_user_segmentation: Annotated[bool, Field(description="User cohorts")] = True,
    benchmark_comparison: Annotated[bool, Field(description="Peer benchmarks (same product tier)")] = True,
) -> results.TrackUsageEngagementResult:
    """Usage and engagement analytics for one account over a period, from ingested usage events."""
    return usage.usage_engagement(
        client_id=client_id,
        period_start=period_start,
        period_end=period_end,
        granularity=granularity,
        include_feature_breakdown=include_feature_breakdown,
        include_user_segmentation=include_user_segmentation,
        benchmark_comparison=benchmark_comparison,
    )


@tool(
    name="calculate_health_score",
    category="health",
    title="Calculate health score",
    read_only=False,
    destructive=False,
    idempotent=True,
    open_world=False,
)
def calculate_health_score(
    ctx: ToolContext,
    *,
    client_id: ClientId,
    scoring_model: Annotated[
        Literal["weighted_composite", "ml_predictive", "custom"], Field(description="Scoring model")
    ] = "weighted_composite",
    component_weights: Annotated[
        dict[str, Any] | None,
        Field(
            description="usage_weight, engagement_weight, support_weight, satisfaction_weight, payment_weight: "
            "all five, each 0–1, sum 1.00 ± 0.01; required for custom (makes the result a preview)"
        ),
    ] = None,
    lookback_period_days: Annotated[int, Field(ge=1, le=365, description="Window W in days")] = 30,
    include_predictions: Annotated[bool, Field(description="Churn prediction and projected scores")] = True,
    risk_threshold: Annotated[
        float, Field(ge=0, le=100, description="Health below this raises an alert")
    ] = 60.0,
) -> results.CalculateHealthScoreResult:
    """Compute the weighted health score with explanation, risk and churn prediction; store the daily snapshot."""
    return services_score.health_score_calculate(
        actor=ctx.actor,
        client_id=client_id,
        scoring_model=scoring_model,
        component_weights=component_weights,
        lookback_period_days=lookback_period_days,
        include_predictions=include_predictions,
        risk_threshold=risk_threshold,
    )


@tool(
    name="segment_customers",
    category="health",
    title="Segment customers",
    read_only=False,
    destructive=False,
    idempotent=True,
    open_world=False,
)
def segment_customers(
    ctx: ToolContext,
    *,
    segmentation_type: Annotated[
        enum_of(SegmentationType), Field(description="Segmentation type (RULES §6.2)")
    ],
    criteria: Annotated[
        dict[str, Any],
        Field(description="{} allowed; segments (custom: [{name, filter}]), population_filter (FILTER)"),
    ],
    min_segment_size: Annotated[int, Field(ge=1, description="Smaller segments are not persisted")] = 5,
    include_recommendations: Annotated[bool, Field(description="SEG-01 / SEG-02 findings")] = True,
    benchmark_analysis: Annotated[bool, Field(description="Segment performance")] = True,
) -> results.SegmentCustomersResult:
    """Segment the active customer base and save segment membership with entry and exit dates."""
    return segments.segment_customers_run(
        actor=ctx.actor,
        segmentation_type=segmentation_type,
        criteria=criteria,
        min_segment_size=min_segment_size,
        include_recommendations=include_recommendations,
        benchmark_analysis=benchmark_analysis,
    )


@tool(name="track_feature_adoption", category="health", title="Track feature adoption", read_only=True)
def track_feature_adoption(
    ctx: ToolContext,
    *,
    client_id: OptionalClientId = None,
    feature_id: Annotated[
        str | None, Field(max_length=100, description="A catalogued feature_key; null = all active features")
    ] = None,
    time_period_days: Annotated[int, Field(ge=1, le=365, description="Window in days")] = 90,
    adoption_threshold: Annotated[
        float, Field(ge=0, le=1, description="Underutilised below this rate")
    ] = 0.2,
    include_user_personas: Annotated[bool, Field(description="User cohorts")] = True,
    optimization_recommendations: Annotated[bool, Field(description="ADP findings")] = True,
) -> results.TrackFeatureAdoptionResult:
    """Feature adoption for one account or the whole portfolio."""
    return adoption.feature_adoption(
        client_id=client_id,
        feature_id=feature_id,
        time_period_days=time_period_days,
        adoption_threshold=adoption_threshold,
        include_user_personas=include_user_personas,
        optimization_recommendations=optimization_recommendations,
    )


@tool(
    name="manage_lifecycle_stages",
    category="health",
    title="Manage lifecycle stages",
    read_only=False,
    destructive=True,
    idempotent=False,
    open_world=False,
)
def manage_lifecycle_stages(
    ctx: ToolContext,
    *,
    action: Annotated[
        Literal["analyze", "transition", "get_history"], Field(description="What to do")
    ] = "analyze",
    client_id: Annotated[
        str | None, Field(pattern=CLIENT_ID_PATTERN, description="Required for transition and get_history")
    ] = None,
    current_stage: Annotated[enum_of(LifecycleStage) | None, Field(description="analyze filter")] = None,
    new_stage: Annotated[enum_of(LifecycleStage) | None, Field(description="Required for transition")] = None,
    reason: Annotated[
        str | None, Field(min_length=1, max_length=1000, description="Required for transition")
    ] = None,
    include_transitions: Annotated[bool, Field(description="Transition counts (90 days)")] = True,
    intervention_planning: Annotated[bool, Field(description="Stage playbooks (RULES §7.3)")] = True,
    automation_rules: Annotated[bool, Field(description="Automation mode, rules and workflows")] = True,
) -> results.ManageLifecycleStagesResult:
    """Lifecycle analytics, stage transitions and stage history."""
    if action in ("transition", "get_history") and not client_id:
        raise InvalidParameter(f"client_id is required for action '{action}'.", field="client_id")
    if action == "transition":
        if not new_stage:
            raise InvalidParameter("new_stage is required for a transition.", field="new_stage")
        if not reason or not reason.strip():
            raise InvalidParameter("reason is required for a transition.", field="reason")
        return services.lifecycle_transition_run(
            actor=ctx.actor, client_id=client_id, new_stage=new_stage, reason=reason.strip()
        )
    if action == "get_history":
        return lifecycle.lifecycle_history(client_id=client_id)
    return lifecycle.lifecycle_analyze(
        current_stage=current_stage,
        include_transitions=include_transitions,
        intervention_planning=intervention_planning,
        automation_rules=automation_rules,
    )


@tool(name="track_adoption_milestones", category="health", title="Track adoption milestones", read_only=True)
def track_adoption_milestones(
    ctx: ToolContext,
    *,
    client_id: Annotated[
        str | None, Field(pattern=CLIENT_ID_PATTERN, description="Client id; null = all active clients")
    ] = None,
    milestone_framework: Annotated[
        Literal["standard", "custom", "industry_specific"], Field(description="Framework")
    ] = "standard",
    custom_milestones: Annotated[
        list[dict[str, Any]] | None,
        Field(
            max_length=1000,
            description="Required for custom: [{id, name, typical_days, importance, category, criterion}]",
        ),
    ] = None,
    include_benchmarks: Annotated[bool, Field(description="Days to milestone vs the portfolio")] = True,
    celebration_recommendations: Annotated[bool, Field(description="ADP-04 findings")] = True,
) -> results.TrackAdoptionMilestonesResult:
    """Progress of accounts against the adoption milestone framework (RULES §8)."""
    return milestones.adoption_milestones(
        client_id=client_id,
        milestone_framework=milestone_framework,
        custom_milestones=custom_milestones,
        include_benchmarks=include_benchmarks,
        celebration_recommendations=celebration_recommendations,
    )


@tool(name="segment_by_value_tier", category="health", title="Segment by value tier", read_only=True)
def segment_by_value_tier(
    ctx: ToolContext,
    *,
    segmentation_criteria: Annotated[
        dict[str, Any],
        Field(description="primary_dimension (arr|clv), secondary_dimensions, population_filter (FILTER)"),
    ],
    tier_definitions: Annotated[
        list[dict[str, Any]] | None,
        Field(max_length=1000, description="[{name, min, max?, colour?, priority?}]; null = ValueTier table"),
    ] = None,
    service_level_mapping: Annotated[bool, Field(description="Service levels per tier")] = True,
    vip_identification: Annotated[bool, Field(description="VIP accounts")] = True,
    resource_planning: Annotated[bool, Field(description="CSM allocation")] = True,
) -> results.SegmentByValueTierResult:
    """Value tiers by ARR (or CLV), VIP accounts, service levels and CSM coverage."""
    return value_tiers.value_tier_segmentation(
        segmentation_criteria=segmentation_criteria,
        tier_definitions=tier_definitions,
        service_level_mapping=service_level_mapping,
        vip_identification=vip_identification,
        resource_planning=resource_planning,
    )


@tool(
    name="analyze_engagement_patterns", category="health", title="Analyze engagement patterns", read_only=True
)
def analyze_engagement_patterns(
    ctx: ToolContext,
    *,
    analysis_scope: Annotated[
        Literal["all_customers", "segment", "individual"], Field(description="Scope")
    ] = "all_customers",
    scope_filter: Annotated[
        dict[str, Any] | None,
        Field(description="segment: {segment_id} or FILTER; individual: {client_id}"),
    ] = None,
    pattern_types: Annotated[
        list[PatternType], Field(max_length=4, description="Subset of the four pattern types")
    ] = ["temporal", "feature_usage", "communication", "support"],  # noqa: B006 - pydantic copies defaults
    lookback_period_days: Annotated[int, Field(ge=7, le=365, description="Window in days")] = 90,
    anomaly_detection: Annotated[bool, Field(description="Daily anomalies (RULES §3.4)")] = True,
    predictive_insights: Annotated[bool, Field(description="PAT-04 projections")] = True,
) -> results.AnalyzeEngagementPatternsResult:
    """Behavioural patterns, anomalies and short-term projections across accounts."""
    return patterns.engagement_patterns(
        analysis_scope=analysis_scope,
        scope_filter=scope_filter,
        pattern_types=list(pattern_types),
        lookback_period_days=lookback_period_days,
        anomaly_detection=anomaly_detection,
        predictive_insights=predictive_insights,
    )


@tool(name="analyze_health_trends", category="health", title="Analyze health trends", read_only=True)
def analyze_health_trends(
    ctx: ToolContext,
    *,
    client_id: OptionalClientId = None,
    lookback_days: Annotated[int, Field(ge=7, le=730, description="Lookback in days")] = 90,
    granularity: Annotated[
        Literal["daily", "weekly", "monthly"], Field(description="Bucket size")
    ] = "weekly",
    include_forecast: Annotated[bool, Field(description="OLS forecast (≥ 6 buckets)")] = True,
    forecast_periods: Annotated[int, Field(ge=1, le=12, description="Buckets to forecast")] = 4,
    segment_by: Annotated[
        Literal["tier", "value_tier", "lifecycle_stage", "csm"] | None,
        Field(description="Portfolio only"),
    ] = None,
    include_components: Annotated[bool, Field(description="Component series and trends")] = True,
) -> results.AnalyzeHealthTrendsResult:
    """Health score trends over time for one account or the portfolio, with movers, band migration and a forecast."""
    return trends.health_trends(
        client_id=client_id,
        lookback_days=lookback_days,
        granularity=granularity,
        include_forecast=include_forecast,
        forecast_periods=forecast_periods,
        segment_by=segment_by,
        include_components=include_components,
    )


@tool(name="generate_health_reports", category="health", title="Generate health reports", read_only=True)
def generate_health_reports(
    ctx: ToolContext,
    *,
    report_type: Annotated[
        Literal["portfolio", "account", "at_risk", "movers"], Field(description="Report type")
    ] = "portfolio",
    client_id: Annotated[
        str | None,
        Field(pattern=CLIENT_ID_PATTERN, description="Required for account, not allowed otherwise"),
    ] = None,
    period: Annotated[Literal["7d", "30d", "90d", "qtd", "ytd"], Field(description="Period")] = "30d",
    format: Annotated[Literal["json", "markdown", "csv"], Field(description="Output format")] = "json",  # noqa: A002
    min_change: Annotated[int, Field(ge=1, le=100, description="movers only")] = 10,
    limit: Annotated[int, Field(ge=1, le=1000, description="Rows")] = 100,
) -> results.GenerateHealthReportsResult:
    """Render a health report (portfolio, one account, at-risk list, movers) as JSON, Markdown or CSV."""
    return reports.health_report(
        report_type=report_type,
        client_id=client_id,
        period=period,
        format=format,
        min_change=min_change,
        limit=limit,
    )
