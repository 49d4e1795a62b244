"""generate_health_reports: portfolio / account / at_risk / movers in json, markdown and csv; validation; queries."""

import csv
import io

import pytest

from health.models import ChurnPrediction
from tests.conftest import audit_lock_queries
from tests.customers.factories import AlertFactory, ClientFactory

from .conftest import days_ago, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(T):
    """Period 30d: start = T-29. Scores at the start → now:
    c1 70 → 85 (+15, medium → low), c2 75 → 58 (−17, medium → high), c3 "Smith, Jones & Co" 40 → 45 (critical),
    c4 never scored."""
    c1 = ClientFactory(client_id="c1", client_name="Alpha", contract_value=100000)
    c2 = ClientFactory(client_id="c2", client_name="Beta", contract_value=50000, renewal_date=days_ago(-45))
    c3 = ClientFactory(client_id="c3", client_name="Smith, Jones & Co", contract_value=20000)
    ClientFactory(client_id="c4", client_name="Delta", contract_value=10000)
    ClientFactory(client_id="c5", client_name="Gone", contract_value=99000, status="churned")
    for c, s0, s1 in ((c1, 70, 85), (c2, 75, 58), (c3, 40, 45)):
        snapshot(c, days_ago(29), s0, usage=s0, engagement=60, support=100)
        snapshot(c, T, s1, usage=s1 if c != c3 else None, engagement=60, support=100)
    for c, p, lvl in ((c2, 0.42, "medium"), (c3, 0.55, "high")):
        ChurnPrediction.objects.create(
            client=c,
            as_of=T,
            probability=p,
            risk_level=lvl,
            method="churn-heuristic-v1",
            drivers=[{"component": "usage", "risk_contribution": 20.0}],
            created_at=c.created_at,
        )
    AlertFactory(client=c2, reason="health_below_threshold", priority="high")
    return c1, c2, c3


def test_portfolio_json(world, call, T):
    out = call("generate_health_reports")
    assert out["status"] == "success", out
    assert out["period"] == {"start": days_ago(29).isoformat(), "end": T.isoformat(), "label": "30d"}
    assert out["summary"] == {
        "clients": 4,
        "clients_scored": 3,
        "mean_health": 62.7,  # (85 + 58 + 45) / 3
        "median_health": 58.0,
        "arr_at_risk": 70000.0,  # c2 high + c3 critical
    }
    content = out["content"]
    assert content["band_distribution"]["now"] == {
        "low": 1,
        "medium": 0,
        "high": 1,
        "critical": 1,
        "not_scored": 1,
    }
    assert content["band_distribution"]["period_start"] == {
        "low": 0,
        "medium": 2,
        "high": 0,
        "critical": 1,
        "not_scored": 1,
    }
    assert content["arr_by_band"]["low"] == 100000.0
    assert [x["client_id"] for x in content["top_movers"]["improving"]] == ["c1", "c3"]
    assert [x["client_id"] for x in content["top_movers"]["declining"]] == ["c2"]
    assert content["component_missing_share"]["usage"] == 0.1667  # 1 of 6 snapshots
    assert content["component_missing_share"]["satisfaction"] == 1.0
    assert out["row_count"] == 4 and out["truncated"] is False
    assert out["report_id"] == call("generate_health_reports")["report_id"]  # deterministic


def test_portfolio_csv_and_markdown(world, call):
    out = call("generate_health_reports", format="csv", limit=3)
    assert out["status"] == "success", out
    text = out["content"]
    assert text.startswith("client_id,client_name,health_score,risk_level,start_score,change,arr,")
    assert '"Smith, Jones & Co"' in text  # RFC 4180 quoting
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 4 and out["row_count"] == 3 and out["truncated"] is True
    assert rows[1][:7] == ["c1", "Alpha", "85", "low", "70", "15", "100000.0"]
    md = call("generate_health_reports", format="markdown")["content"]
    assert md.startswith("# Portfolio health report\n")
    assert "| mean_health | 62.7 |" in md
    assert "## Risk bands" in md and "## Clients" in md


def test_at_risk_ordered_by_exposure(world, call):
    out = call("generate_health_reports", report_type="at_risk")
    rows = out["content"]["clients"]
    # c2: 50k × 0.42 = 21k; c3: 20k × 0.55 = 11k
    assert [(x["client_id"], x["exposure"]) for x in rows] == [("c2", 21000.0), ("c3", 11000.0)]
    assert rows[0]["alert_reasons"] == ["health_below_threshold"]
    assert rows[0]["days_to_renewal"] == 45
    assert rows[0]["top_drivers"] == ["usage"]


def test_movers(world, call):
    out = call("generate_health_reports", report_type="movers", min_change=10)
    assert [(x["client_id"], x["change"]) for x in out["content"]["clients"]] == [("c2", -17), ("c1", 15)]
    assert out["summary"] == {"movers": 2, "improving": 1, "declining": 1, "min_change": 10}
    assert call("generate_health_reports", report_type="movers", min_change=16)["row_count"] == 1


def test_account_report(world, call):
    out = call("generate_health_reports", report_type="account", client_id="c2", format="csv")
    assert out["status"] == "success", out
    rows = list(csv.reader(io.StringIO(out["content"])))
    assert rows[0] == [
        "component",
        "score",
        "base_weight",
        "effective_weight",
        "contribution",
        "start_score",
        "change",
    ]
    assert rows[1][:2] == ["usage", "58.0"] and rows[1][5:] == ["75.0", "-17.0"]
    assert out["row_count"] == 5
    js = call("generate_health_reports", report_type="account", client_id="c2")
    assert js["summary"]["change"] == -17
    assert [a["reason"] for a in js["content"]["open_alerts"]] == ["health_below_threshold"]
    assert js["content"]["churn_prediction"]["probability"] == 0.42


@pytest.mark.parametrize(
    ("args", "field", "code"),
    [
        ({"report_type": "account"}, "client_id", "INVALID_PARAMETER"),
        ({"report_type": "portfolio", "client_id": "c1"}, "client_id", "INVALID_PARAMETER"),
        ({"period": "2w"}, "period", "INVALID_PARAMETER"),
        ({"format": "pdf"}, "format", "INVALID_PARAMETER"),
        ({"limit": 0}, "limit", "INVALID_PARAMETER"),
        ({"report_type": "account", "client_id": "nobody"}, "client_id", "NOT_FOUND"),
    ],
)
def test_validation(world, call, args, field, code):
    out = call("generate_health_reports", **args)
    assert (out["status"], out["error"]["code"], out["error"]["field"]) == ("failed", code, field)


@pytest.mark.parametrize("size", [4, 40])
@pytest.mark.parametrize("report_type", ["portfolio", "at_risk", "movers"])
def test_query_count_does_not_grow(db, call, T, size, report_type, django_assert_max_num_queries):
    for i in range(size):
        c = ClientFactory(contract_value=10000 * (i + 1))
        snapshot(c, days_ago(29), 50 + i % 40, usage=50)
        snapshot(c, T, 30 + (i * 13) % 70, usage=None)
    with django_assert_max_num_queries(9 + audit_lock_queries(1)):
        out = call("generate_health_reports", report_type=report_type, format="csv")
    assert out["status"] == "success", out


@pytest.mark.parametrize("period", ["qtd", "ytd"])
def test_quarter_and_year_to_date_periods(world, call, T, period):
    """Regression: "qtd" / "ytd" end with "d" and were parsed as a day count (INTERNAL)."""
    out = call("generate_health_reports", period=period)
    assert out["status"] == "success", out
    first = (
        T.replace(month=3 * ((T.month - 1) // 3) + 1, day=1) if period == "qtd" else T.replace(month=1, day=1)
    )
    assert out["period"] == {"start": first.isoformat(), "end": T.isoformat(), "label": period}
