"""The operational part of the ``register_client`` payload and the CORE-01…04 next steps of a new client.

A client registered in this call cannot have rows in other apps yet (they all reference the client row), so
its operational figures are known without reading them: no usage, no survey, no ticket, no onboarding plan.
"""

from __future__ import annotations

from typing import Any

from customers import rules
from customers.models import Client, Contract

from .common import client_field_gaps, client_fields, gap


def client_record(
    client: Client, *, contract: Contract | None, gaps: list[dict], prefix: str
) -> dict[str, Any]:
    """``client_record`` of ``register_client``: the client fields plus its first operational figures (TOOLS §1.1:
    seats when known; active users, adoption and satisfaction null with gaps; open tickets 0); every null of
    the client fields with its gap (not scored yet, no CSM…)."""
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
    record["support_tickets_open"] = 0  # TOOLS §1.1: 0 for a new client
    record["satisfaction_score"] = None
    gaps.append(gap(f"{prefix}.satisfaction_score", "no_survey_responses", "No survey response yet."))
    gaps.extend(client_field_gaps(client, record, prefix=prefix))
    return record


def updated_record(client: Client, *, gaps: list[dict], prefix: str) -> dict[str, Any]:
    """``updated_record`` of ``update_client_info`` (TOOLS §1.3): the client fields, their nulls with gaps."""
    record = client_fields(client)
    gaps.extend(client_field_gaps(client, record, prefix=prefix))
    return record


def client_next_steps(client: Client) -> list[dict[str, Any]]:
    """CORE-01…04 for a client registered in this call (no onboarding plan and no usage event can exist yet; the
    overview evaluates the same rules for any client from the apps' summaries)."""
    return rules.sort_findings(
        rules.core_findings(
            client_name=client.client_name,
            lifecycle_stage=client.lifecycle_stage,
            has_onboarding_plan=False,
            csm_assigned=client.csm_assigned.get_username() if client.csm_assigned_id else None,
            primary_contact_email=client.primary_contact_email,
            has_usage_events=False,
        )
    )
