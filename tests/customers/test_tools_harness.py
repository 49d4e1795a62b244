"""The shared tool contract (tests/harness.py) for the 5 core tools, each on a seeded demo world."""

import itertools

import pytest

from cs_project.core.registry import execute_tool, get_tool
from cs_project.core.results import result_errors
from tests.harness import ToolContractTests, demo_world

_names = itertools.count(1)


class TestRegisterClient(ToolContractTests):
    tool_name = "register_client"

    def arguments(self, world):
        n = next(_names)
        return {
            "client_name": f"Harness {n}",
            "company_name": f"Harness {n} Ltd",
            "contract_value": 12000,
            "primary_contact_email": f"owner{n}@harness.example",
            "primary_contact_name": "Olive Owner",
        }


class TestGetClientOverview(ToolContractTests):
    tool_name = "get_client_overview"
    nullable_without_gap = (
        "client_overview.recent_activity[].source.id",  # an event without a source object
        "churn_prediction.predicted_churn_date",  # RULES §5.1: only when p ≥ 0.50
    )

    def arguments(self, world):
        return {"client_id": world["client_id"]}


class TestUpdateClientInfo(ToolContractTests):
    tool_name = "update_client_info"
    nullable_without_gap = ("audit.updated_at",)  # null exactly when nothing changed (TOOLS §1.3)

    def arguments(self, world):
        return {"client_id": world["client_id"], "updates": {"industry": "Retail", "contract_value": 54321}}

    def repeat_arguments(self, world):
        return {"client_id": world["client_id"], "updates": {"industry": "Energy", "contract_value": 65432}}


class TestListClients(ToolContractTests):
    tool_name = "list_clients"

    def arguments(self, world):
        return {"limit": 1000}


class TestGetClientTimeline(ToolContractTests):
    tool_name = "get_client_timeline"
    nullable_without_gap = ("timeline[].source.id",)  # an event without a source object

    def arguments(self, world):
        return {"client_id": world["client_id"]}


VARIANTS = {
    "list_filtered": (
        "list_clients",
        lambda w: {
            "tier_filter": "standard",
            "health_score_min": 50,
            "health_score_max": 100,
            "limit": 2,
            "offset": 1,
        },
    ),
    "list_empty": ("list_clients", lambda w: {"lifecycle_stage_filter": "churned", "health_score_min": 100}),
    "update_no_change": (
        "update_client_info",
        lambda w: {"client_id": w["client_id"], "updates": {"client_name": w["client"].client_name}},
    ),
    "update_status_churned": (
        "update_client_info",
        lambda w: {"client_id": w["client_id"], "updates": {"status": "churned"}},
    ),
    "timeline_filtered": (
        "get_client_timeline",
        lambda w: {"client_id": w["client_id"], "event_types": ["health", "account"], "limit": 1},
    ),
    "register_minimal": ("register_client", lambda w: {"client_name": "Mini", "company_name": "Mini Ltd"}),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_match_their_schema(variant, db, superuser):
    """Other branches of the same tools (filters, empty pages, a no-op, a churn) against the same schema."""
    name, arguments = VARIANTS[variant]
    world = demo_world(4)
    envelope = execute_tool(name, arguments(world), user=superuser, channel="api")
    assert envelope["status"] == "success", envelope
    assert result_errors(get_tool(name).result_type, envelope) == []
    if variant == "update_no_change":
        assert envelope["updated_fields"] == [] and envelope["audit_event_id"] is None
