"""update_client_info (TOOLS §1.3): previous values, audit + timeline, side effects, no-op, errors."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers import services
from customers.models import Alert, ArrMovement, AuditEvent, Client, Contact, Contract, TimelineEvent
from tests.expansion.factories import RenewalFactory
from tests.retention.factories import RetentionCampaignFactory

from .conftest import error_of
from .factories import AlertFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(actor):
    today = timezone.localdate()
    return services.client_register(
        actor=actor,
        client_id="acme",
        client_name="Acme",
        company_name="Acme Inc",
        contract_value=50000,
        contract_start_date=today - dt.timedelta(days=100),
        contract_end_date=today + dt.timedelta(days=265),
        primary_contact_email="old@acme.com",
        primary_contact_name="Old Champion",
    ).client


def _updates_audits():
    return AuditEvent.objects.filter(action="customers.client.updated")


def test_update_records_previous_values_audit_and_timeline(tool, acme):
    timeline_before = TimelineEvent.objects.filter(client=acme).count()
    result = tool(
        "update_client_info",
        {
            "client_id": "acme",
            "updates": {"client_name": "Acme 2", "contract_value": 120000, "tier": "enterprise"},
        },
    )
    assert result["status"] == "success", result
    assert result["updated_fields"] == ["client_name", "tier", "contract_value"]
    assert result["audit"]["previous_values"] == {
        "client_name": "Acme",
        "tier": "standard",
        "contract_value": 50000.0,
        "value_tier": "professional",
    }
    assert result["audit"]["fields_changed"] == ["client_name", "tier", "contract_value", "value_tier"]
    assert result["updated_record"]["value_tier"] == "enterprise"
    assert result["updated_record"]["contract_value"] == 120000.0

    event = _updates_audits().get()
    assert str(event.event_id) == result["audit_event_id"]
    assert event.changes["client_name"] == ["Acme", "Acme 2"]
    assert event.changes["contract_value"] == [50000.0, 120000.0]
    entries = TimelineEvent.objects.filter(client=acme).order_by("id")
    assert entries.count() == timeline_before + 1
    assert entries.last().event_type == "account" and entries.last().audit_event_id == event.pk

    movement = ArrMovement.objects.filter(client=acme, kind="expansion").get()
    assert movement.amount == Decimal("70000.00") and movement.movement_date == timezone.localdate()
    contract = Contract.objects.get(client=acme)
    assert (contract.tier, contract.value) == ("enterprise", Decimal("120000.00"))
    assert {"type": "arr_movement_expansion", "id": movement.pk} in result["side_effects"]


def test_contract_value_decrease_is_contraction(tool, acme):
    result = tool("update_client_info", {"client_id": "acme", "updates": {"contract_value": 30000.5}})
    assert result["status"] == "success", result
    movement = ArrMovement.objects.get(client=acme, kind="contraction")
    assert movement.amount == Decimal("-19999.50")
    assert TimelineEvent.objects.filter(client=acme).order_by("-id").first().event_type == "contract"
    total = sum(m.amount for m in ArrMovement.objects.filter(client=acme))
    assert total == Decimal("30000.50")


def test_no_op_update_writes_nothing(tool, acme):
    audits, entries = (
        AuditEvent.objects.exclude(action="core.tool.called").count(),
        TimelineEvent.objects.count(),
    )
    result = tool(
        "update_client_info",
        {
            "client_id": "acme",
            "updates": {"client_name": "Acme", "contract_value": 50000, "tier": "standard"},
        },
    )
    assert result["status"] == "success"
    assert result["updated_fields"] == []
    assert result["audit_event_id"] is None
    assert result["side_effects"] == []
    assert AuditEvent.objects.exclude(action="core.tool.called").count() == audits
    assert TimelineEvent.objects.count() == entries


def test_primary_contact_replacement_keeps_old_contact(tool, acme):
    result = tool(
        "update_client_info",
        {
            "client_id": "acme",
            "updates": {"primary_contact_email": "new@acme.com", "primary_contact_name": "New"},
        },
    )
    assert result["status"] == "success", result
    old = Contact.objects.get(client=acme, email="old@acme.com")
    new = Contact.objects.get(client=acme, email="new@acme.com")
    assert not old.is_primary and old.primary_until is not None
    assert new.is_primary and new.name == "New"
    assert result["audit"]["previous_values"]["primary_contact_email"] == "old@acme.com"
    overview = tool("get_client_overview", {"client_id": "acme"})
    assert "RSK-06" in [f["rule_id"] for f in overview["insights"]["attention_areas"]]


def test_csm_by_email_and_username(tool, acme, staff_user):
    result = tool("update_client_info", {"client_id": "acme", "updates": {"csm_assigned": "CSM@example.com"}})
    assert result["updated_record"]["csm_assigned"] == "csm"
    assert result["audit"]["previous_values"] == {"csm_assigned": None}
    again = tool("update_client_info", {"client_id": "acme", "updates": {"csm_assigned": "csm"}})
    assert again["updated_fields"] == []
    cleared = tool("update_client_info", {"client_id": "acme", "updates": {"csm_assigned": None}})
    assert cleared["updated_fields"] == ["csm_assigned"]
    assert Client.objects.get(pk=acme.pk).csm_assigned is None


def test_csm_must_be_active_staff(tool, acme, django_user_model):
    django_user_model.objects.create_user("plain", "plain@example.com", "pw-123456789!")
    for value in ("nobody", "plain"):
        result = tool("update_client_info", {"client_id": "acme", "updates": {"csm_assigned": value}})
        assert error_of(result) == ("NOT_FOUND", "updates.csm_assigned")


@pytest.mark.parametrize(
    ("updates", "field"),
    [
        ({}, "updates"),
        ({"foo": 1}, "updates.foo"),
        ({"client_name": "x", "health_score": 90}, "updates.health_score"),
        ({"tier": "gold"}, "updates.tier"),
        ({"contract_value": -5}, "updates.contract_value"),
        ({"contract_value": "lots"}, "updates.contract_value"),
        ({"contract_end_date": "2020-01-01"}, "updates.contract_end_date"),
        ({"contract_start_date": "not a date"}, "updates.contract_start_date"),
        ({"primary_contact_email": "nope"}, "updates.primary_contact_email"),
        ({"status": "paused"}, "updates.status"),
        ({"client_name": ""}, "updates.client_name"),
    ],
)
def test_update_validation_errors(tool, acme, updates, field):
    result = tool("update_client_info", {"client_id": "acme", "updates": updates})
    assert error_of(result) == ("INVALID_PARAMETER", field)
    assert not _updates_audits().exists()


def test_unknown_client(tool):
    result = tool("update_client_info", {"client_id": "ghost", "updates": {"client_name": "x"}})
    assert error_of(result) == ("NOT_FOUND", "client_id")


def test_status_churned_runs_lifecycle_side_effects(tool, acme):
    contract = Contract.objects.get(client=acme)
    renewal = RenewalFactory(contract=contract, client=acme)
    campaign = RetentionCampaignFactory(client=acme)
    alert = AlertFactory(client=acme, status="open")
    snoozed = AlertFactory(client=acme, status="snoozed")
    result = tool("update_client_info", {"client_id": "acme", "updates": {"status": "churned"}})
    assert result["status"] == "success", result
    acme.refresh_from_db()
    assert (acme.status, acme.lifecycle_stage) == ("churned", "churned")
    assert ArrMovement.objects.get(client=acme, kind="churn").amount == Decimal("-50000.00")
    for obj in (alert, snoozed):
        obj.refresh_from_db()
        assert (obj.status, obj.close_reason) == ("closed", "churned")
    renewal.refresh_from_db()
    assert (renewal.status, renewal.final_arr) == ("lost", 0)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.outcome) == ("completed", "churned")
    assert result["audit"]["previous_values"] == {"status": "active", "lifecycle_stage": "onboarding"}
    types = {e["type"] for e in result["side_effects"]}
    assert {"lifecycle_transition", "arr_movement_churn", "alert_closed", "renewal_lost"} <= types
    # one timeline entry for the call, typed lifecycle
    assert TimelineEvent.objects.filter(client=acme).order_by("-id").first().event_type == "lifecycle"

    conflict = tool("update_client_info", {"client_id": "acme", "updates": {"status": "inactive"}})
    assert error_of(conflict) == ("CONFLICT", "updates.status")

    back = tool("update_client_info", {"client_id": "acme", "updates": {"status": "active"}})
    assert back["status"] == "success", back
    acme.refresh_from_db()
    assert (acme.status, acme.lifecycle_stage) == ("active", "onboarding")
    assert ArrMovement.objects.get(client=acme, kind="reactivation").amount == Decimal("50000.00")
    assert sum(m.amount for m in ArrMovement.objects.filter(client=acme)) == Decimal("50000.00")


def test_inactive_and_back_changes_no_stage(tool, acme):
    result = tool("update_client_info", {"client_id": "acme", "updates": {"status": "inactive"}})
    acme.refresh_from_db()
    assert (acme.status, acme.lifecycle_stage) == ("inactive", "onboarding")
    assert result["side_effects"] == []


def test_end_date_past_open_renewal_marks_it_won(tool, acme):
    contract = Contract.objects.get(client=acme)
    renewal = RenewalFactory(contract=contract, client=acme, renewal_date=contract.end_date)
    new_end = contract.end_date + dt.timedelta(days=365)
    result = tool(
        "update_client_info", {"client_id": "acme", "updates": {"contract_end_date": new_end.isoformat()}}
    )
    assert result["status"] == "success", result
    renewal.refresh_from_db()
    assert renewal.status == "won" and renewal.final_arr == Decimal("50000.00")
    acme.refresh_from_db()
    assert acme.renewal_date == new_end
    contract.refresh_from_db()
    assert contract.end_date == new_end
    assert (
        result["audit"]["previous_values"]["renewal_date"] == (new_end - dt.timedelta(days=365)).isoformat()
    )
    assert {"type": "renewal_won", "id": renewal.renewal_id} in result["side_effects"]
    assert Alert.objects.count() == 0
