"""Result types of the 5 core tools (TOOLS §1) and the shapes other apps' results reuse.

Each tool in ``customers/tools.py`` names its type as its return annotation; the registry publishes the envelope
schema generated from it (``cs_project.core.results``). Keys and nesting follow the tool's "Returns" line in
TOOLS.md; ``X | None`` where the value can be missing (with a data gap, TOOLS §0.6); ``dict[str, Any]`` where
TOOLS.md leaves the inner shape open. A key that is not in TOOLS.md is marked as such in a comment.
"""

from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from cs_project.core.results import Finding, MutatingResult, ToolResult

RiskLevel = Literal["low", "medium", "high", "critical"]
Trend = Literal["improving", "stable", "declining"]


class SideEffect(TypedDict):
    type: str
    id: str | int | None


# --- churn prediction (published by get_client_overview here and by the health tools) -----------------------


class HeuristicDriver(TypedDict):
    """RULES §5.1: a component ordered by its risk contribution ``(100 − s_i) × w'_i``."""

    component: str
    risk_contribution: float


class ModelDriver(TypedDict):
    """RULES §5.2: a feature of the active trained model, by |coefficient × standardised value|."""

    feature: str
    value: float
    standardised_value: float
    contribution: float
    direction: Literal["increases_risk", "decreases_risk"]


ChurnDriver = HeuristicDriver | ModelDriver


class ChurnPredictionSummary(TypedDict):
    """The latest stored churn prediction as the overview shows it (TOOLS §1.2 names it, RULES §5 shapes it)."""

    probability: float | None
    risk_level: RiskLevel | None
    method: str
    calibrated: NotRequired[bool | None]
    horizon_days: NotRequired[int | None]
    drivers: list[ChurnDriver] | None
    predicted_churn_date: str | None
    data_coverage: NotRequired[float | None]
    model_metrics: NotRequired[dict[str, Any] | None]
    as_of: NotRequired[str]


# --- client fields ------------------------------------------------------------------------------------------


class ClientFields(TypedDict):
    """The stored fields of an account (TOOLS §0.8 "key client fields")."""

    client_id: str
    client_name: str
    company_name: str
    industry: str
    tier: str
    value_tier: str | None
    status: str
    lifecycle_stage: str
    health_score: int | None
    health_trend: Trend | None
    risk_level: RiskLevel | None
    contract_value: float
    currency: str
    contract_start_date: str | None
    contract_end_date: str | None
    renewal_date: str | None
    primary_contact_email: str | None
    primary_contact_name: str | None
    csm_assigned: str | None
    created_at: str
    updated_at: str  # not in TOOLS §1.1's list; returned by both client_record and updated_record


class ClientRecord(ClientFields):
    users_provisioned: int | None
    active_users: int | None
    feature_adoption_rate: float | None
    support_tickets_open: int | None  # null when no app publishes support data
    satisfaction_score: float | None


class RegisterSummary(TypedDict):
    tier: str
    contract_value: float
    contract_value_display: str
    contract_term: str
    contract_term_days: int
    days_until_renewal: int | None
    lifecycle_stage: str


class RegisterClientResult(MutatingResult):
    message: str
    client_id: str
    client_record: ClientRecord
    summary: RegisterSummary
    next_steps: list[Finding]


# --- get_client_overview -------------------------------------------------------------------------------------


class PrimaryContact(TypedDict):
    name: str | None
    email: str | None


class Identity(TypedDict):
    client_id: str
    client_name: str
    company_name: str
    industry: str
    tier: str
    value_tier: str | None
    status: str
    csm_assigned: str | None
    primary_contact: PrimaryContact


class OnboardingBlock(TypedDict):
    plan_id: str | None
    status: str | None
    progress_status: str | None
    completion_pct: float | None
    ttv_days: int | float | None


class EngagementBlock(TypedDict):
    last_engagement_date: str | None
    engagement_events_30d: int | None
    last_ebr_date: str | None
    next_ebr_date: str | None


class SupportBlock(TypedDict):
    open_tickets: int | None
    open_by_priority: dict[str, int] | None  # null when no app publishes support data
    sla_breaches_30d: int | None
    open_escalations: int | None
    csat_90d_pct: float | None


class ProductUsageBlock(TypedDict):
    mau: int | None
    dau_avg: float | None
    stickiness: float | None
    seats: int | None
    utilization_rate: float | None
    core_breadth_rate: float | None
    usage_change_rate: float | None
    last_activity_at: str | None


class RevenueBlock(TypedDict):
    arr: float
    expansion_arr_12m: float | None
    contraction_arr_12m: float | None
    open_pipeline_weighted: float | None


class CommunicationBlock(TypedDict):
    emails_sent_30d: int | None
    emails_opened_30d: int | None
    last_email_at: str | None


class TimelineSource(TypedDict):
    type: str | None
    id: str | int | None


class TimelineEntry(TypedDict):
    event_id: str
    timestamp: str
    event_type: str
    title: str
    description: str
    impact: str
    severity: str
    source: TimelineSource
    actor: str | None


class ClientOverview(TypedDict):
    identity: Identity
    health_score: int | None
    health_trend: Trend | None
    risk_level: RiskLevel | None
    health_as_of: str | None
    lifecycle_stage: str
    stage_entered_at: str | None
    days_in_stage: int | None
    contract_value: float
    currency: str
    contract_start_date: str | None
    contract_end_date: str | None
    days_until_renewal: int | None
    auto_renew: bool | None
    payment_status: str | None
    renewal_probability: float | None
    renewal_risk_level: str | None
    onboarding: OnboardingBlock | None
    engagement: EngagementBlock
    support: SupportBlock
    product_usage: ProductUsageBlock
    revenue: RevenueBlock
    communication: CommunicationBlock
    risks: list[dict[str, Any]]
    opportunities: list[dict[str, Any]]
    recent_activity: list[TimelineEntry]


class HealthComponents(TypedDict):
    usage: float | None
    engagement: float | None
    support: float | None
    satisfaction: float | None
    payment: float | None


class Strength(TypedDict):
    component: str
    score: float


class OverviewInsights(TypedDict):
    overall_status: str
    key_strengths: list[Strength]
    attention_areas: list[Finding]
    recommended_actions: list[Finding]


class ClientOverviewResult(ToolResult):
    client_overview: ClientOverview
    health_components: HealthComponents | None
    explanation: dict[str, Any] | None
    churn_prediction: ChurnPredictionSummary | None
    insights: OverviewInsights


# --- update_client_info ---------------------------------------------------------------------------------------


class UpdateAudit(TypedDict):
    updated_at: str | None
    fields_changed: list[str]
    previous_values: dict[str, Any]


class UpdateClientInfoResult(MutatingResult):
    message: str
    client_id: str
    updated_fields: list[str]
    updated_record: ClientFields
    audit: UpdateAudit
    side_effects: list[SideEffect]


# --- list_clients ---------------------------------------------------------------------------------------------


class ClientRow(TypedDict):
    client_id: str
    client_name: str
    tier: str
    lifecycle_stage: str
    status: str
    health_score: int | None
    health_trend: Trend | None
    risk_level: RiskLevel | None
    contract_value: float
    days_until_renewal: int | None
    csm_assigned: str | None
    active_users: int | None
    support_tickets_open: int | None  # null when no app publishes support data


class Pagination(TypedDict):
    total_count: int
    limit: int
    offset: int
    returned_count: int
    has_more: bool


class ListSummary(TypedDict):
    total_clients: int
    average_health_score: float | None
    total_arr: float
    total_active_users: int | None


class ListClientsResult(ToolResult):
    clients: list[ClientRow]
    pagination: Pagination
    filters_applied: dict[str, Any]
    summary: ListSummary


# --- get_client_timeline -------------------------------------------------------------------------------------


class TimelinePeriod(TypedDict):
    start_date: str
    end_date: str


class TimelineSummary(TypedDict):
    total_events: int
    returned_events: int
    event_type_breakdown: dict[str, int]


class TimelineInsights(TypedDict):
    negative_events: int
    positive_events: int
    high_severity_events: int
    last_engagement_at: str | None
    busiest_event_type: str | None


class ClientTimelineResult(ToolResult):
    client_id: str
    period: TimelinePeriod  # not in TOOLS §1.5's Returns (the resolved date range)
    timeline: list[TimelineEntry]
    summary: TimelineSummary
    insights: TimelineInsights
