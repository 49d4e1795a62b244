"""Result types of the health tools (TOOLS §3.2, 3.9, 3.10): the health score, its trends and reports."""

from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from cs_project.core.results import Finding, MutatingResult, ToolResult
from customers.results import ChurnDriver, ChurnPredictionSummary, RiskLevel, Trend

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
    components: dict[str, float | None] | None  # null when include_components is false


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


class ReportClientRow(TypedDict):
    """One client in the portfolio, at-risk and movers reports (TOOLS §3.10 table)."""

    client_id: str
    client_name: str
    health_score: int | None
    risk_level: RiskLevel | None
    start_score: int | None
    change: int | None
    arr: float
    churn_probability: float | None
    churn_level: RiskLevel | None
    renewal_date: str | None
    days_to_renewal: int | None
    open_alerts: int
    active_campaign: str | None


class AtRiskRow(ReportClientRow):
    top_drivers: list[str]  # component or feature names of the stored churn drivers
    alert_reasons: list[str]
    exposure: float | None


class MoverRow(ReportClientRow):
    start_risk: RiskLevel | None


class PortfolioSummary(TypedDict):
    clients: int
    clients_scored: int
    mean_health: float | None
    median_health: float | None
    arr_at_risk: float


class PortfolioReport(TypedDict):
    summary: PortfolioSummary
    band_distribution: dict[str, dict[str, int]]
    arr_by_band: dict[str, float]
    arr_at_risk: float
    top_movers: dict[str, list[dict[str, Any]]]
    component_missing_share: dict[str, float | None]
    clients: list[ReportClientRow]


class AccountSummary(TypedDict):
    client_id: str
    health_score: int | None
    risk_level: RiskLevel | None
    health_trend: Trend | None
    start_score: int | None
    change: int | None
    as_of: str | None


class AccountReport(TypedDict):
    summary: AccountSummary
    components: list[dict[str, Any]]
    explanation: dict[str, Any] | None  # the stored snapshot's RULES §4.6 payload (older rows may be partial)
    vs_period_start: dict[str, Any]
    snapshots: list[ScoreAsOf]
    open_alerts: list[dict[str, Any]]
    churn_prediction: ChurnPredictionSummary | None
    renewal: dict[str, Any] | None


class AtRiskSummary(TypedDict):
    clients_at_risk: int
    arr_listed: float
    exposure_listed: float


class AtRiskReport(TypedDict):
    summary: AtRiskSummary
    clients: list[AtRiskRow]


class MoversSummary(TypedDict):
    movers: int
    improving: int
    declining: int
    min_change: int


class MoversReport(TypedDict):
    summary: MoversSummary
    clients: list[MoverRow]


class GenerateHealthReportsResult(ToolResult):
    report_id: str
    report_type: Literal["portfolio", "account", "at_risk", "movers"]
    period: ReportPeriod
    generated_at: str
    format: Literal["json", "markdown", "csv"]
    content: (
        PortfolioReport | AccountReport | AtRiskReport | MoversReport | str
    )  # a string for markdown / csv
    summary: PortfolioSummary | AccountSummary | AtRiskSummary | MoversSummary
    row_count: int
    truncated: bool
