"""Result types of the health tools (TOOLS §3.2, 3.9, 3.10): the health score, its trends and reports."""

from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from cs_project.core.results import Finding, MutatingResult, ToolResult
from customers.results import ChurnDriver, RiskLevel, Trend

from .common import Component

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
