"""register_client (TOOLS §1.1): known answers, rows written, validation errors."""

import datetime as dt

import pytest
from django.utils import timezone

from customers import services
from customers.models import (
    ArrMovement,
    AuditEvent,
    Client,
    Contact,
    Contract,
    LifecycleStageHistory,
    TimelineEvent,
)

from .conftest import error_of

pytestmark = pytest.mark.django_db


def test_register_known_answer(tool):
    today = timezone.localdate()
    start = today - dt.timedelta(days=10)
    end = start + dt.timedelta(days=365)
    result = tool(
        "register_client",
        {
            "client_id": "acme",
            "client_name": "Acme Corp",
            "company_name": "Acme Corporation",
            "contract_value": 120000,
            "contract_start_date": start.isoformat(),
            "contract_end_date": end.isoformat(),
            "primary_contact_email": "Jane@Acme.com",
            "primary_contact_name": "Jane Doe",
            "tier": "professional",
        },
    )
    assert result["status"] == "success", result
    assert result["client_id"] == "acme"
    record = result["client_record"]
    assert record["value_tier"] == "enterprise"  # 100k ≤ ARR < 200k (RULES §6.1)
    assert record["tier"] == "professional"
    assert record["status"] == "active"
    assert record["lifecycle_stage"] == "onboarding"
    assert record["health_score"] is None
    assert record["contract_value"] == 120000.0
    assert record["renewal_date"] == end.isoformat()
    assert record["primary_contact_email"] == "jane@acme.com"
    assert record["users_provisioned"] is None
    assert record["active_users"] is None
    assert record["support_tickets_open"] == 0
    assert result["summary"] == {
        "tier": "professional",
        "contract_value": 120000.0,
        "contract_value_display": "$120,000.00",
        "contract_term": "365 days",
        "contract_term_days": 365,
        "days_until_renewal": 355,
        "lifecycle_stage": "onboarding",
    }
    assert [f["rule_id"] for f in result["next_steps"]] == ["CORE-01", "CORE-02", "CORE-04"]
    assert [f["priority"] for f in result["next_steps"]] == ["high", "medium", "medium"]
    gap_fields = {g["field"] for g in result["data_gaps"]}
    assert {
        "client_record.active_users",
        "client_record.satisfaction_score",
        "client_record.health_score",
    } <= (gap_fields)

    client = Client.objects.get(client_id="acme")
    contract = Contract.objects.get(client=client)
    assert (contract.contract_type, contract.value, contract.payment_status) == ("annual", 120000, "current")
    assert not contract.payment_status_manual
    movement = ArrMovement.objects.get(client=client)
    assert (movement.kind, movement.amount, movement.movement_date) == ("new", 120000, start)
    contact = Contact.objects.get(client=client)
    assert contact.is_primary and contact.role == "other" and contact.email == "jane@acme.com"
    history = LifecycleStageHistory.objects.get(client=client)
    assert (history.from_stage, history.to_stage, history.exited_at) == ("", "onboarding", None)
    event = AuditEvent.objects.get(action="customers.client.created")
    assert str(event.event_id) == result["audit_event_id"]
    assert event.channel == "api" and event.actor == "root" and event.tool == "register_client"
    entry = TimelineEvent.objects.get(client=client)
    assert (entry.event_type, entry.title, entry.audit_event_id) == ("account", "Client registered", event.pk)


def test_register_defaults_and_no_contact(tool):
    result = tool("register_client", {"client_name": "Tiny", "company_name": "Tiny Ltd", "client_id": "tiny"})
    assert result["status"] == "success", result
    client = Client.objects.get(client_id="tiny")
    assert client.contract_start_date == timezone.localdate()
    assert (client.contract_end_date - client.contract_start_date).days == 365
    assert client.industry == "Technology" and client.tier == "standard" and client.value_tier == "starter"
    assert not Contact.objects.filter(client=client).exists()
    assert not ArrMovement.objects.filter(client=client).exists()  # ARR 0 → no movement
    assert [f["rule_id"] for f in result["next_steps"]] == ["CORE-01", "CORE-02", "CORE-03", "CORE-04"]


@pytest.mark.parametrize(
    ("days", "expected"),
    [(31, "monthly"), (32, "quarterly"), (92, "quarterly"), (370, "annual"), (371, "multi_year")],
)
def test_contract_type_by_term(actor, days, expected):
    start = dt.date(2026, 1, 1)
    result = services.client_register(
        actor=actor,
        client_name="T",
        company_name="T",
        contract_start_date=start,
        contract_end_date=start + dt.timedelta(days=days),
    )
    assert result.contract.contract_type == expected


def test_generated_client_id(actor, monkeypatch):
    monkeypatch.setattr(services.common.time, "time", lambda: 1700000000)
    first = services.client_register(actor=actor, client_name="Acme Corp!!", company_name="A").client
    second = services.client_register(actor=actor, client_name="Acme Corp!!", company_name="A").client
    third = services.client_register(actor=actor, client_name="!!!", company_name="A").client
    assert first.client_id == "cs_1700000000_acme_corp_"
    assert second.client_id == "cs_1700000000_acme_corp__2"
    assert third.client_id == "cs_1700000000____"


def test_duplicate_client_id_conflict(tool):
    assert tool("register_client", {"client_name": "A", "company_name": "A", "client_id": "dup"})[
        "status"
    ] == ("success")
    result = tool("register_client", {"client_name": "B", "company_name": "B", "client_id": "dup"})
    assert error_of(result) == ("CONFLICT", "client_id")
    assert Client.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"contract_start_date": "2026-05-01", "contract_end_date": "2026-05-01"}, "contract_end_date"),
        ({"contract_start_date": "2026-05-01", "contract_end_date": "2026-04-01"}, "contract_end_date"),
        ({"primary_contact_email": "not-an-email"}, "primary_contact_email"),
        ({"client_id": "has space"}, "client_id"),
        ({"contract_value": "abc"}, "contract_value"),
        ({"contract_value": -1}, "contract_value"),
        ({"tier": "platinum"}, "tier"),
        ({"client_name": ""}, "client_name"),
        ({"client_name": "x" * 201}, "client_name"),
        ({"contract_start_date": "01/05/2026"}, "contract_start_date"),
        ({"foo": 1}, "foo"),
    ],
)
def test_register_validation_errors(tool, args, field):
    result = tool("register_client", {"client_name": "A", "company_name": "A", **args})
    assert error_of(result) == ("INVALID_PARAMETER", field)
    assert not Client.objects.exists()
    assert not AuditEvent.objects.filter(action="customers.client.created").exists()


def test_missing_required_argument(tool):
    result = tool("register_client", {"company_name": "A"})
    assert error_of(result) == ("INVALID_PARAMETER", "client_name")


def test_permission_denied_without_write_permission(tool, django_user_model):
    from django.contrib.auth.models import Permission

    reader = django_user_model.objects.create_user("reader", "r@example.com", "pw-123456789!")
    reader.user_permissions.add(
        Permission.objects.get(codename="mcp_read", content_type__app_label="customers")
    )
    result = tool("register_client", {"client_name": "A", "company_name": "A"}, user=reader)
    assert error_of(result) == ("PERMISSION_DENIED", None)
