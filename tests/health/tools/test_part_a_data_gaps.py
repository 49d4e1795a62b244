"""Every null value of the four part-A health tools carries a data gap (RULES §1, §15.2), apart from the keys the
spec documents as nullable by design and the parts other modules own (listed in ``NOT_HERE``)."""

import re

import pytest

from .conftest import days_ago
from .test_part_a_parameter_grid import world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

NOT_HERE = (
    "scope.",  # client_id / segment_by null = not requested (TOOLS §3.9)
    "segments",  # null without segment_by
    "movers",  # portfolio only
    "explanation.",  # the engine's explanation payload (health.scoring)
    "health_metrics.",  # the engine's inputs of every sub-score (health.scoring)
    "content.explanation.",
    "content.summary.",  # the same object as the top-level summary, whose gaps name ``summary.…``
    "benchmark_insights[].peer_",  # health.common.benchmark reports the percentile's gap only
)


def _nulls(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nulls(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _nulls(item, f"{path}[]")
    elif value is None:
        yield path


def _uncovered(out):
    fields = [re.sub(r"\[\d+\]", "[]", g["field"]) for g in out["data_gaps"]]
    return sorted(
        {
            p
            for p in _nulls(out)
            if not p.startswith(NOT_HERE)
            and not any(p == f or p.startswith((f + ".", f + "[")) for f in fields)
        }
    )


def _gap(out, field):
    return next((g["reason"] for g in out["data_gaps"] if g["field"] == field), None)


def test_usage_nulls_have_gaps(world, call, T):  # noqa: F811
    recent = call(
        "track_usage_engagement",
        client_id="c1",
        period_start=days_ago(7).isoformat(),
        period_end=T.isoformat(),
    )
    assert _uncovered(recent) == []
    old = call(
        "track_usage_engagement",
        client_id="c1",
        period_start=days_ago(300).isoformat(),
        period_end=T.isoformat(),
    )
    assert _uncovered(old) == []
    assert _gap(old, "engagement_patterns.peak_hour") == "raw_events_expired"
    assert _gap(old, "feature_adoption_timeline[].users") == "raw_events_expired"
    assert _gap(old, "usage_analytics.usage_trend") == "insufficient_history"  # nothing in P


def test_score_nulls_have_gaps(world, call):  # noqa: F811
    scored = call("calculate_health_score", client_id="c1")
    assert _uncovered(scored) == []
    assert _gap(scored, "churn_prediction.predicted_churn_date") == "not_applicable"
    assert _gap(scored, "component_scores.effective_weights.payment_weight") == "not_applicable"
    blank = call("calculate_health_score", client_id="c2")  # usage missing → coverage < 0.50 → no score
    assert blank["current_health_score"] is None
    assert _uncovered(blank) == []
    for field in ("risk_level", "health_trend", "score_change", "churn_prediction.risk_level"):
        assert _gap(blank, field) == "not_enough_data", field
    assert _gap(blank, "historical_scores[].score") == "not_enough_data"  # today's snapshot has no score


def test_trends_nulls_have_gaps(world, call):  # noqa: F811
    call("calculate_health_score", client_id="c2")  # today's official snapshot without a score
    client = call("analyze_health_trends", client_id="c2", granularity="daily", lookback_days=30)
    assert _uncovered(client) == []
    assert _gap(client, "series[].score") == "not_enough_data"
    assert _gap(client, "series[].components.usage") == "not_enough_data"
    assert _uncovered(call("analyze_health_trends", segment_by="tier")) == []


@pytest.mark.parametrize("report_type", ["portfolio", "at_risk", "movers"])
def test_report_rows_nulls_have_gaps(world, call, report_type):  # noqa: F811
    out = call("generate_health_reports", report_type=report_type, period="90d", min_change=1)
    assert out["status"] == "success", out
    assert _uncovered(out) == []


def test_account_report_nulls_have_gaps(world, call):  # noqa: F811
    call("calculate_health_score", client_id="c2")
    out = call("generate_health_reports", report_type="account", client_id="c2")
    assert out["summary"]["health_score"] is None
    assert _uncovered(out) == []
    assert _gap(out, "summary.health_score") == "no_score"
    assert _gap(out, "content.components[].score") == "not_enough_data"
    assert _gap(out, "content.renewal") == "not_applicable"
