"""Reads of the feedback app that other apps may use (each app publishes what others may read)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from customers.choices import ContactRole
from customers.models import Client, Contact
from customers.selectors.common import day_start, gap
from customers.summaries import ClientSummary, summary

from .choices import SurveyType
from .models import SurveyResponse

CSAT_SATISFIED_MIN = 4  # RULES §13.1: CSAT % = share of responses scoring 4 or 5
NPS_DETRACTOR_MAX = 6  # RULES §13.1: NPS 0–6 is a detractor


def latest_survey_responses(*, client: Client, since: dt.datetime) -> list[dict[str, Any]]:
    """Survey responses since ``since``, only the latest per respondent e-mail and survey type (RULES §13.1)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    rows = (
        SurveyResponse.objects.filter(client=client, responded_at__gte=since)
        .order_by("responded_at", "pk")
        .values("pk", "survey_type", "score", "respondent_email", "responded_at")
    )
    for row in rows:
        key = ((row["respondent_email"] or f"#{row['pk']}").lower(), row["survey_type"])
        latest[key] = row
    return list(latest.values())


def client_summary(*, client: Client, as_of: dt.date) -> ClientSummary:
    """The overview's satisfaction figure (TOOLS §1.2 ``support.csat_90d_pct``) and the NPS detractors of the
    last 90 days that RSK-02/RSK-03 read (scores, and whether a decision maker or sponsor is among them)."""
    survey = latest_survey_responses(client=client, since=day_start(as_of - dt.timedelta(days=89)))
    csat = [r for r in survey if r["survey_type"] == SurveyType.CSAT]
    csat_pct = (
        round(sum(1 for r in csat if r["score"] >= CSAT_SATISFIED_MIN) / len(csat) * 100, 1) if csat else None
    )
    detractors = [r for r in survey if r["survey_type"] == SurveyType.NPS and r["score"] <= NPS_DETRACTOR_MAX]
    emails = {r["respondent_email"].lower() for r in detractors if r["respondent_email"]}
    decision_maker_detractor = (
        bool(emails)
        and Contact.objects.filter(
            client=client,
            email__in=emails,
            role__in=[ContactRole.DECISION_MAKER, ContactRole.EXECUTIVE_SPONSOR],
        ).exists()
    )
    gaps = []
    if csat_pct is None:
        gaps.append(
            gap("client_overview.support.csat_90d_pct", "no_survey_responses", "No CSAT response in 90 days.")
        )
    return summary(
        blocks={"support": {"csat_90d_pct": csat_pct}},
        facts={
            "detractor_scores": [int(r["score"]) for r in detractors],
            "decision_maker_detractor": decision_maker_detractor,
        },
        data_gaps=gaps,
    )
