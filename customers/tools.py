"""The 5 core tools (TOOLS §1): thin adapters over customers.services and customers.selectors."""

import datetime as dt
from typing import Annotated, Any

from pydantic import Field

from cs_project.core.errors import InvalidParameter
from cs_project.core.registry import ToolContext, enum_of, tool

from . import results, selectors, services
from .choices import LifecycleStage, Tier, TimelineEventType
from .models import CLIENT_ID_PATTERN
from .tool_params import ClientId


@tool(
    name="register_client",
    category="core",
    title="Register client",
    read_only=False,
    destructive=False,
    idempotent=False,
    open_world=False,
)
def register_client(
    ctx: ToolContext,
    *,
    client_name: Annotated[str, Field(min_length=1, max_length=200, description="Account name")],
    company_name: Annotated[str, Field(min_length=1, max_length=200, description="Legal company name")],
    industry: Annotated[str, Field(min_length=1, max_length=100, description="Industry")] = "Technology",
    contract_value: Annotated[float, Field(ge=0, description="Annual recurring revenue (ARR)")] = 0.0,
    contract_start_date: Annotated[
        dt.date | None, Field(description="Contract start (default today)")
    ] = None,
    contract_end_date: Annotated[
        dt.date | None, Field(description="Contract end, after the start (default start + 365 days)")
    ] = None,
    primary_contact_email: Annotated[
        str | None, Field(max_length=254, description="Primary contact e-mail")
    ] = None,
    primary_contact_name: Annotated[
        str | None, Field(max_length=200, description="Primary contact name")
    ] = None,
    tier: Annotated[enum_of(Tier), Field(description="Product tier")] = "standard",
    client_id: Annotated[
        str | None,
        Field(pattern=CLIENT_ID_PATTERN, description="Client id (generated when omitted, RULES §20)"),
    ] = None,
) -> results.RegisterClientResult:
    """Create an account with its first contract, primary contact, ARR entry and lifecycle entry."""
    result = services.client_register(
        actor=ctx.actor,
        client_name=client_name,
        company_name=company_name,
        industry=industry,
        contract_value=contract_value,
        contract_start_date=contract_start_date,
        contract_end_date=contract_end_date,
        primary_contact_email=primary_contact_email,
        primary_contact_name=primary_contact_name,
        tier=tier,
        client_id=client_id,
    )
    client, contract = result.client, result.contract
    gaps: list[dict[str, str]] = []
    record = selectors.client_record(client, contract=contract, gaps=gaps, prefix="client_record")
    term_days = (client.contract_end_date - client.contract_start_date).days
    return {
        "message": f"Client {client.client_name} registered as {client.client_id}.",
        "client_id": client.client_id,
        "client_record": record,
        "summary": {
            "tier": client.tier,
            "contract_value": selectors.money(client.contract_value),
            "contract_value_display": selectors.money_display(client.contract_value, client.currency),
            "contract_term": f"{term_days} days",
            "contract_term_days": term_days,
            "days_until_renewal": selectors.days_until_renewal(client, selectors.today()),
            "lifecycle_stage": client.lifecycle_stage,
        },
        "next_steps": selectors.client_next_steps(client),
        "audit_event_id": str(result.audit_event.event_id),
        "data_gaps": gaps,
    }


@tool(name="get_client_overview", category="core", title="Client overview", read_only=True)
def get_client_overview(ctx: ToolContext, *, client_id: ClientId) -> results.ClientOverviewResult:
    """360° view of one account assembled from stored data."""
    return selectors.client_overview(client_id=client_id)


@tool(
    name="update_client_info",
    category="core",
    title="Update client",
    read_only=False,
    destructive=True,
    idempotent=True,
    open_world=False,
)
def update_client_info(
    ctx: ToolContext,
    *,
    client_id: ClientId,
    updates: Annotated[
        dict[str, Any],
        Field(
            description="Fields to change: client_name, company_name, industry, tier, contract_value, "
            "contract_start_date, contract_end_date, primary_contact_email, primary_contact_name, "
            "csm_assigned (username or e-mail of an active staff user, or null), status"
        ),
    ],
) -> results.UpdateClientInfoResult:
    """Update whitelisted account fields, with their business side effects."""
    if not updates:
        raise InvalidParameter("'updates' must contain at least one field to change.", field="updates")
    result = services.client_update(actor=ctx.actor, client_id=client_id, updates=updates)
    client = result.client
    fields = result.updated_fields
    gaps: list[dict[str, str]] = []
    record = selectors.updated_record(client, gaps=gaps, prefix="updated_record")
    return {
        "message": f"Updated {', '.join(fields)} of {client.client_id}."
        if fields
        else f"No change: {client.client_id} already has these values.",
        "client_id": client.client_id,
        "updated_fields": fields,
        "updated_record": record,
        "audit": {
            "updated_at": client.updated_at.isoformat() if fields else None,
            "fields_changed": list(result.previous_values),
            "previous_values": result.previous_values,
        },
        "side_effects": result.side_effects,
        "audit_event_id": str(result.audit_event.event_id) if result.audit_event else None,
        "data_gaps": gaps,
    }


@tool(name="list_clients", category="core", title="List clients", read_only=True)
def list_clients(
    ctx: ToolContext,
    *,
    tier_filter: Annotated[enum_of(Tier) | None, Field(description="Product tier")] = None,
    lifecycle_stage_filter: Annotated[
        enum_of(LifecycleStage) | None, Field(description="Lifecycle stage")
    ] = None,
    health_score_min: Annotated[int | None, Field(ge=0, le=100, description="Minimum health score")] = None,
    health_score_max: Annotated[
        int | None, Field(ge=0, le=100, description="Maximum health score (≥ min)")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=1000, description="Page size")] = 50,
    offset: Annotated[int, Field(ge=0, description="Rows to skip")] = 0,
) -> results.ListClientsResult:
    """Filter and page through accounts with portfolio totals for the filtered set."""
    return selectors.client_list(
        tier=tier_filter,
        lifecycle_stage=lifecycle_stage_filter,
        health_score_min=health_score_min,
        health_score_max=health_score_max,
        limit=limit,
        offset=offset,
    )


@tool(name="get_client_timeline", category="core", title="Client timeline", read_only=True)
def get_client_timeline(
    ctx: ToolContext,
    *,
    client_id: ClientId,
    start_date: Annotated[dt.date | None, Field(description="First day (default today − 90 days)")] = None,
    end_date: Annotated[dt.date | None, Field(description="Last day, ≥ start (default today)")] = None,
    event_types: Annotated[
        list[enum_of(TimelineEventType)] | None, Field(max_length=13, description="Event types (default all)")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=1000, description="Maximum events returned")] = 100,
) -> results.ClientTimelineResult:
    """Chronological stored events of one account."""
    return selectors.client_timeline(
        client_id=client_id, start_date=start_date, end_date=end_date, event_types=event_types, limit=limit
    )
