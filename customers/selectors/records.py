"""The operational part of the ``register_client`` payload and the CORE-01…04 next steps of one client."""

from __future__ import annotations

from typing import Any

from customers import rules
from customers.models import Client, Contract

from .common import client_fields, client_has_onboarding_plan, client_has_usage, gap, open_tickets_count


def client_record(
    client: Client, *, contract: Contract | None, gaps: list[dict], prefix: str
) -> dict[str, Any]:
    """``client_record`` of ``register_client``: the client fields plus its first operational figures."""
    record = client_fields(client)
    seats = contract.included_users if contract is not None else None
    record["users_provisioned"] = seats
    if seats is None:
        gaps.append(gap(f"{prefix}.users_provisioned", "no_seat_data", "The contract states no seat count."))
    record["active_users"] = None
    record["feature_adoption_rate"] = None
    gaps.append(gap(f"{prefix}.active_users", "no_usage_events", "No usage event has been received yet."))
    gaps.append(
        gap(f"{prefix}.feature_adoption_rate", "no_usage_events", "No usage event has been received yet.")
    )
    tickets = open_tickets_count(client)
    record["support_tickets_open"] = tickets if tickets is not None else 0
    record["satisfaction_score"] = None
    gaps.append(gap(f"{prefix}.satisfaction_score", "no_survey_responses", "No survey response yet."))
    if client.health_score is None:
        gaps.append(gap(f"{prefix}.health_score", "no_score", "The client has not been scored yet."))
    if not client.health_trend:
        gaps.append(gap(f"{prefix}.health_trend", "insufficient_history", "No comparison snapshot."))
    return record


def client_next_steps(client: Client) -> list[dict[str, Any]]:
    """CORE-01…04 for one client."""
    return rules.sort_findings(
        rules.core_findings(
            client_name=client.client_name,
            lifecycle_stage=client.lifecycle_stage,
            has_onboarding_plan=client_has_onboarding_plan(client),
            csm_assigned=client.csm_assigned.get_username() if client.csm_assigned_id else None,
            primary_contact_email=client.primary_contact_email,
            has_usage_events=client_has_usage(client),
        )
    )
