"""Reads of the onboarding app that other apps may use (each app publishes what others may read)."""

from __future__ import annotations

import datetime as dt

from customers.models import Client
from customers.selectors.common import gap
from customers.summaries import ClientSummary, summary
from health.selectors import first_value

from .choices import PlanStatus
from .models import OnboardingPlan


def client_summary(*, client: Client, as_of: dt.date) -> ClientSummary:
    """The overview's ``onboarding`` block (TOOLS §1.2): the latest plan that is not cancelled, with its cached
    progress (RULES §9.2, evaluated daily) and the client's time-to-value (RULES §9.3: days from the first
    contract start to the first-value milestone m2, recorded by the health app's adoption job); CORE-01 reads
    whether the client has any plan at all."""
    p = "client_overview.onboarding"
    plans = OnboardingPlan.objects.filter(client=client)
    plan = plans.exclude(status=PlanStatus.CANCELLED).order_by("-created_at", "-pk").first()
    facts = {"has_onboarding_plan": plan is not None or plans.exists()}
    if plan is None:
        return summary(
            blocks={"onboarding": None},
            facts=facts,
            data_gaps=[gap(p, "not_applicable", "No onboarding plan for this client.")],
        )
    gaps = []
    milestone = first_value(client=client)
    ttv_days = milestone.days_to_achieve if milestone is not None else None
    if milestone is None:
        gaps.append(
            gap(f"{p}.ttv_days", "not_applicable", "First value (adoption milestone m2) not reached yet.")
        )
    elif ttv_days is None:
        gaps.append(
            gap(f"{p}.ttv_days", "no_contract", "No contract start date to count time-to-value from.")
        )
    block = {
        "plan_id": plan.plan_id,
        "status": plan.status,
        "progress_status": plan.progress_status,
        "completion_pct": round(float(plan.completion_pct), 1),
        "ttv_days": ttv_days,
    }
    return summary(blocks={"onboarding": block}, facts=facts, data_gaps=gaps)
