"""generate_health_reports (TOOLS §3.10): portfolio, account, at-risk and movers reports from the official
snapshots, churn predictions, alerts, retention campaigns and renewals, rendered as JSON, CSV or Markdown.

Portfolio-wide reports read one annotated Client query (correlated subqueries) plus a few aggregates, whatever the
number of clients. Nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import (
    Avg,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Abs, Cast, Coalesce
from django.utils import timezone

from cs_project.core.errors import InvalidParameter
from cs_project.core.formatting import iso, to_csv, to_markdown
from cs_project.core.stats import r
from customers.choices import AccountStatus, AlertStatus, RiskLevel
from customers.models import Alert, Client

from ..choices import COMPONENTS
from ..common import gap, money, resolve_client, stable_id, today
from ..models import ChurnPrediction, HealthSnapshot
from ..rules import churn_driver_name, null_column_gaps, report_period
from .report_account import report_account

BANDS = list(RiskLevel.values)


def _snap(field: str, on: dt.date):
    return Subquery(
        HealthSnapshot.objects.filter(client=OuterRef("pk"), as_of__lte=on)
        .order_by("-as_of")
        .values(field)[:1]
    )


def _portfolio_rows_qs(start: dt.date, end: dt.date):
    """Active clients annotated (correlated subqueries, one SQL statement) with their score now and at the
    start of the period, the latest churn prediction, open alerts and the active retention campaign."""
    campaign = apps.get_model("retention", "RetentionCampaign")
    churn = ChurnPrediction.objects.filter(client=OuterRef("pk"), as_of__lte=end).order_by("-as_of")
    return Client.objects.filter(status=AccountStatus.ACTIVE).annotate(
        cur_score=_snap("health_score", end),
        cur_risk=_snap("risk_level", end),
        start_score=_snap("health_score", start),
        start_risk=_snap("risk_level", start),
        churn_p=Subquery(churn.values("probability")[:1], output_field=FloatField()),
        churn_level=Subquery(churn.values("risk_level")[:1]),
        churn_drivers=Subquery(churn.values("drivers")[:1], output_field=JSONField()),
        open_alerts=Coalesce(
            Subquery(
                Alert.objects.filter(client=OuterRef("pk"), status=AlertStatus.OPEN)
                .order_by()
                .values("client")
                .annotate(n=Count("id"))
                .values("n"),
                output_field=IntegerField(),
            ),
            0,
        ),
        active_campaign=Subquery(
            campaign.objects.filter(client=OuterRef("pk"), status="active")
            .order_by("-started_at")
            .values("campaign_id")[:1]
        ),
    )


ROW_FIELDS = (
    "client_id",
    "client_name",
    "contract_value",
    "renewal_date",
    "cur_score",
    "cur_risk",
    "start_score",
    "start_risk",
    "churn_p",
    "churn_level",
    "open_alerts",
    "active_campaign",
)


def _client_row(x: dict, end: dt.date) -> dict[str, Any]:
    """One client line of a portfolio-wide report from a :func:`_portfolio_rows_qs` row."""
    change = (
        x["cur_score"] - x["start_score"]
        if x["cur_score"] is not None and x["start_score"] is not None
        else None
    )
    return {
        "client_id": x["client_id"],
        "client_name": x["client_name"],
        "health_score": x["cur_score"],
        "risk_level": x["cur_risk"] or None,
        "start_score": x["start_score"],
        "change": change,
        "arr": money(x["contract_value"]),
        "churn_probability": r(x["churn_p"], 4),
        "churn_level": x["churn_level"] or None,
        "renewal_date": iso(x["renewal_date"]),
        "days_to_renewal": (x["renewal_date"] - end).days if x["renewal_date"] else None,
        "open_alerts": x["open_alerts"],
        "active_campaign": x["active_campaign"],
    }


def health_report(
    *,
    report_type: str = "portfolio",
    client_id: str | None = None,
    period: str = "30d",
    format: str = "json",  # noqa: A002 - the spec's parameter name
    min_change: int = 10,
    limit: int = 100,
) -> dict[str, Any]:
    """The generate_health_reports payload: one builder per report type returns the JSON content, the summary,
    the rows (for CSV) and the tables (for Markdown); this function renders the requested format."""
    if report_type == "account" and not client_id:
        raise InvalidParameter("client_id is required for the account report.", field="client_id")
    if report_type != "account" and client_id:
        raise InvalidParameter(f"client_id is not allowed for the {report_type} report.", field="client_id")
    client = resolve_client(client_id) if client_id else None
    end = today()
    start, end = report_period(period, end)
    gaps: list[dict] = []
    builder = {
        "portfolio": _report_portfolio,
        "account": report_account,
        "at_risk": _report_at_risk,
        "movers": _report_movers,
    }[report_type]
    built = builder(start=start, end=end, client=client, min_change=min_change, limit=limit, gaps=gaps)
    title = {
        "portfolio": "Portfolio health report",
        "account": f"Health report — {client.client_name if client else ''}",
        "at_risk": "At-risk accounts",
        "movers": f"Health movers (|change| ≥ {min_change})",
    }[report_type]
    if format == "json":
        content: Any = built["content"]
    elif format == "csv":
        content = to_csv(built["columns"], built["rows"])
    else:
        content = to_markdown(title, start, end, built["summary"], built["tables"])
    return {
        "report_id": stable_id(
            "rpt",
            "generate_health_reports",
            {
                "report_type": report_type,
                "client_id": client_id,
                "period": period,
                "format": format,
                "min_change": min_change,
                "limit": limit,
                "as_of": end.isoformat(),
            },
        ),
        "report_type": report_type,
        "period": {"start": start.isoformat(), "end": end.isoformat(), "label": period},
        "generated_at": timezone.now().isoformat(),
        "format": format,
        "content": content,
        "summary": built["summary"],
        "row_count": len(built["rows"]),
        "truncated": built["truncated"],
        "data_gaps": gaps,
    }


CLIENT_COLUMNS = [
    "client_id",
    "client_name",
    "health_score",
    "risk_level",
    "start_score",
    "change",
    "arr",
    "churn_probability",
    "churn_level",
    "renewal_date",
    "days_to_renewal",
    "open_alerts",
    "active_campaign",
]


#: Why a client-row value can be null (RULES §15.2), for the one gap per column the portfolio-wide reports add.
ROW_NULLS = {
    "health_score": ("no_score", "No official snapshot with a score on or before the period end."),
    "risk_level": ("no_score", "No official snapshot with a score on or before the period end."),
    "start_score": (
        "insufficient_history",
        "No official snapshot with a score on or before the period start.",
    ),
    "start_risk": (
        "insufficient_history",
        "No official snapshot with a score on or before the period start.",
    ),
    "change": ("insufficient_history", "No score at the period start or now."),
    "arr": ("no_contract", "No contract value."),
    "churn_probability": ("no_score", "No stored churn prediction with a probability."),
    "churn_level": ("no_score", "No stored churn prediction with a probability."),
    "exposure": ("no_score", "No churn probability."),
    "renewal_date": ("not_applicable", "No renewal date."),
    "days_to_renewal": ("not_applicable", "No renewal date."),
    "active_campaign": ("not_applicable", "No active retention campaign."),
}


def _report_portfolio(*, start, end, client, min_change, limit, gaps) -> dict[str, Any]:
    """Bands now vs the period start, ARR per band and at risk, top movers, missing-component shares."""
    qs = _portfolio_rows_qs(start, end)
    stats = qs.aggregate(
        clients=Count("pk"),
        scored=Count("pk", filter=Q(cur_score__isnull=False)),
        mean=Avg("cur_score"),
    )
    now_bands = {
        (x["cur_risk"] or "not_scored"): x
        for x in qs.values("cur_risk").annotate(n=Count("pk"), arr=Sum("contract_value")).order_by()
    }
    start_bands = {
        (x["start_risk"] or "not_scored"): x["n"]
        for x in qs.values("start_risk").annotate(n=Count("pk")).order_by()
    }
    rows = list(qs.values(*ROW_FIELDS).order_by("client_id"))
    scores = [x["cur_score"] for x in rows if x["cur_score"] is not None]
    keys = [str(b) for b in BANDS] + ["not_scored"]
    band_now = {k: now_bands.get(k, {}).get("n", 0) for k in keys}
    band_start = {k: start_bands.get(k, 0) for k in keys}
    arr_by_band = {k: money(now_bands.get(k, {}).get("arr") or 0) for k in keys}
    arr_at_risk = money(sum(Decimal(now_bands.get(k, {}).get("arr") or 0) for k in ("high", "critical")))
    client_rows = [_client_row(x, end) for x in rows]
    changes = [x for x in client_rows if x["change"] is not None]
    improving = sorted((x for x in changes if x["change"] > 0), key=lambda x: (-x["change"], x["client_id"]))[
        :5
    ]
    declining = sorted((x for x in changes if x["change"] < 0), key=lambda x: (x["change"], x["client_id"]))[
        :5
    ]
    missing = HealthSnapshot.objects.filter(
        client__status=AccountStatus.ACTIVE, as_of__gte=start, as_of__lte=end
    ).aggregate(
        total=Count("id"), **{c: Count("id", filter=Q(**{f"{c}_score__isnull": True})) for c in COMPONENTS}
    )
    missing_share = {
        c: (r(missing[c] / missing["total"], 4) if missing["total"] else None) for c in COMPONENTS
    }
    if not missing["total"]:
        gaps.append(gap("content.component_missing_share", "no_score", "No snapshot in the period."))
    mean = stats["mean"]
    if mean is None:
        gaps.append(gap("summary.mean_health", "no_score", "No scored client."))
    summary = {
        "clients": stats["clients"],
        "clients_scored": stats["scored"],
        "mean_health": r(mean, 1),
        "median_health": r(statistics.median(scores), 1) if scores else None,
        "arr_at_risk": arr_at_risk,
    }
    shown = client_rows[:limit]
    null_column_gaps(shown, "content.clients[]", ROW_NULLS, gaps)
    mover = lambda x: {k: x[k] for k in ("client_id", "client_name", "start_score", "health_score", "change")}  # noqa: E731
    content = {
        "summary": summary,
        "band_distribution": {"now": band_now, "period_start": band_start},
        "arr_by_band": arr_by_band,
        "arr_at_risk": arr_at_risk,
        "top_movers": {
            "improving": [mover(x) for x in improving],
            "declining": [mover(x) for x in declining],
        },
        "component_missing_share": missing_share,
        "clients": shown,
    }
    band_table = [[k, band_start[k], band_now[k], arr_by_band[k]] for k in keys]
    return {
        "content": content,
        "summary": summary,
        "rows": shown,
        "columns": CLIENT_COLUMNS,
        "truncated": len(client_rows) > limit,
        "tables": [
            ("Risk bands", ["band", "period_start", "now", "arr"], band_table),
            (
                "Top movers",
                ["direction", "client_id", "start_score", "health_score", "change"],
                [["up", x["client_id"], x["start_score"], x["health_score"], x["change"]] for x in improving]
                + [
                    ["down", x["client_id"], x["start_score"], x["health_score"], x["change"]]
                    for x in declining
                ],
            ),
            ("Clients", CLIENT_COLUMNS, [[x[c] for c in CLIENT_COLUMNS] for x in shown]),
        ],
    }


def _report_at_risk(*, start, end, client, min_change, limit, gaps) -> dict[str, Any]:
    """Clients in band high/critical or churn level high/critical, by exposure = ARR × churn probability."""
    qs = (
        _portfolio_rows_qs(start, end)
        .filter(Q(cur_risk__in=["high", "critical"]) | Q(churn_level__in=["high", "critical"]))
        .annotate(
            exposure=ExpressionWrapper(
                Cast("contract_value", FloatField()) * F("churn_p"), output_field=FloatField()
            )
        )
        .order_by(F("exposure").desc(nulls_last=True), "client_id")
    )
    rows = list(qs.values(*ROW_FIELDS, "churn_drivers", "exposure")[: limit + 1])
    truncated = len(rows) > limit
    rows = rows[:limit]
    ids = [x["client_id"] for x in rows]
    reasons: dict[str, list[str]] = defaultdict(list)
    for cid, reason in (
        Alert.objects.filter(client__client_id__in=ids, status=AlertStatus.OPEN)
        .order_by("client__client_id", "reason")
        .values_list("client__client_id", "reason")
    ):
        reasons[cid].append(reason)
    out = []
    for x in rows:
        row = _client_row(x, end)
        row["top_drivers"] = [churn_driver_name(d) for d in (x["churn_drivers"] or [])[:3]]
        row["alert_reasons"] = reasons.get(x["client_id"], [])
        row["exposure"] = money(x["exposure"]) if x["exposure"] is not None else None
        out.append(row)
    null_column_gaps(out, "content.clients[]", ROW_NULLS, gaps)
    total = qs.count() if truncated else len(out)
    summary = {
        "clients_at_risk": total,
        "arr_listed": money(sum(Decimal(str(x["arr"])) for x in out)),
        "exposure_listed": money(sum(Decimal(str(x["exposure"] or 0)) for x in out)),
    }
    columns = [
        "client_id",
        "client_name",
        "health_score",
        "risk_level",
        "arr",
        "churn_probability",
        "churn_level",
        "exposure",
        "renewal_date",
        "days_to_renewal",
        "top_drivers",
        "open_alerts",
        "alert_reasons",
        "active_campaign",
    ]
    return {
        "content": {"summary": summary, "clients": out},
        "summary": summary,
        "rows": out,
        "columns": columns,
        "truncated": truncated,
        "tables": [("At-risk accounts", columns, [[x[c] for c in columns] for x in out])],
    }


def _report_movers(*, start, end, client, min_change, limit, gaps) -> dict[str, Any]:
    """Clients whose score moved by ≥ ``min_change`` between the period start and now, largest first."""
    qs = (
        _portfolio_rows_qs(start, end)
        .filter(cur_score__isnull=False, start_score__isnull=False)
        .annotate(chg=ExpressionWrapper(F("cur_score") - F("start_score"), output_field=IntegerField()))
        .filter(Q(chg__gte=min_change) | Q(chg__lte=-min_change))
        .annotate(abs_chg=Abs("chg"))
        .order_by("-abs_chg", "client_id")
    )
    rows = list(qs.values(*ROW_FIELDS)[: limit + 1])
    truncated = len(rows) > limit
    out = [_client_row(x, end) for x in rows[:limit]]
    summary = {
        "movers": qs.count() if truncated else len(out),
        "improving": sum(1 for x in out if x["change"] > 0),
        "declining": sum(1 for x in out if x["change"] < 0),
        "min_change": min_change,
    }
    columns = [
        "client_id",
        "client_name",
        "start_score",
        "health_score",
        "change",
        "risk_level",
        "start_risk",
        "arr",
    ]
    start_risk = {x["client_id"]: x["start_risk"] or None for x in rows}
    for x in out:
        x["start_risk"] = start_risk[x["client_id"]]
    null_column_gaps(out, "content.clients[]", ROW_NULLS, gaps)
    return {
        "content": {"summary": summary, "clients": out},
        "summary": summary,
        "rows": out,
        "columns": columns,
        "truncated": truncated,
        "tables": [("Movers", columns, [[x[c] for c in columns] for x in out])],
    }
