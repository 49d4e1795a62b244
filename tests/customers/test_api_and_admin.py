"""REST resources (/api/v1/accounts|contacts|contracts/) and the customers admin."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from customers.models import (
    Alert,
    ArrMovement,
    AuditEvent,
    Client,
    ClientExternalId,
    Contact,
    Contract,
    IntegrationCredential,
    Invoice,
    JobRun,
    LifecycleStageHistory,
    TimelineEvent,
)
from tests.core.helpers import auth, make_token

from .factories import AlertFactory, ClientFactory, ContactFactory, ContractFactory, TimelineEventFactory

pytestmark = pytest.mark.django_db


def token_client(user, scopes=("read", "write")) -> APIClient:
    """An API client that authenticates like a real caller: a Bearer token minted for ``user``."""
    client = APIClient()
    client.credentials(**auth(make_token(user, scopes)))
    return client


@pytest.fixture
def api(superuser):
    return token_client(superuser)


def test_accounts_create_update_read(api):
    response = api.post(
        "/api/v1/accounts/",
        {"client_id": "rest1", "client_name": "Rest", "company_name": "Rest Inc", "contract_value": "60000"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["value_tier"] == "professional"
    created = AuditEvent.objects.get(action="customers.client.created")
    assert created.channel == "api"
    assert ArrMovement.objects.get(client__client_id="rest1").kind == "new"

    response = api.patch(
        "/api/v1/accounts/rest1/", {"contract_value": 70000, "industry": "Retail"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["industry"] == "Retail"
    updated = AuditEvent.objects.get(action="customers.client.updated")
    assert updated.changes["industry"] == ["Technology", "Retail"]
    assert TimelineEvent.objects.filter(client__client_id="rest1").count() == 2

    response = api.get("/api/v1/accounts/", {"tier": "standard"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["results"][0]["client_id"] == "rest1"
    assert api.get("/api/v1/accounts/rest1/").json()["contract_value"] == "70000.00"


def test_accounts_errors_use_the_envelope(api):
    ClientFactory(client_id="dup")
    response = api.post(
        "/api/v1/accounts/", {"client_id": "dup", "client_name": "D", "company_name": "D"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "CONFLICT",
        "message": "Client 'dup' already exists.",
        "field": "client_id",
    }
    response = api.patch("/api/v1/accounts/dup/", {"health_score": 3}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "updates.health_score"
    response = api.patch("/api/v1/accounts/dup/", {"status": "churned"}, format="json")
    assert response.status_code == 200
    response = api.patch("/api/v1/accounts/dup/", {"status": "inactive"}, format="json")
    assert response.status_code == 409
    assert api.get("/api/v1/accounts/ghost/").status_code == 404
    assert api.delete("/api/v1/accounts/dup/").status_code == 405


def test_permissions(django_user_model):
    ClientFactory(client_id="p")
    user = django_user_model.objects.create_user("nobody", "n@example.com", "pw-123456789!")
    api = token_client(user)
    assert api.get("/api/v1/accounts/").status_code == 403
    user.user_permissions.add(
        Permission.objects.get(codename="mcp_read", content_type__app_label="customers")
    )
    assert api.get("/api/v1/accounts/").status_code == 200
    assert api.patch("/api/v1/accounts/p/", {"industry": "X"}, format="json").status_code == 403
    assert APIClient().get("/api/v1/accounts/").status_code == 401


def test_contacts_and_contracts(api):
    a, b = ClientFactory(client_id="ca"), ClientFactory(client_id="cb")
    ContactFactory(client=a, role="champion")
    ContactFactory(client=b)
    contract = ContractFactory(client=a, payment_status="late")
    ContractFactory(client=b)
    contacts = api.get("/api/v1/contacts/", {"client_id": "ca"}).json()
    assert contacts["count"] == 1 and contacts["results"][0]["role"] == "champion"
    contracts = api.get("/api/v1/contracts/", {"payment_status": "late"}).json()
    assert [c["contract_id"] for c in contracts["results"]] == [contract.contract_id]
    assert contracts["results"][0]["seats"] == 20


def test_accounts_list_query_count_constant(api, staff_user):
    for _ in range(30):
        ClientFactory(csm_assigned=staff_user)
    api.get("/api/v1/accounts/")  # the token's first use of the minute records last_used_at
    counts = []
    for limit in (3, 30):
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/v1/accounts/", {"limit": limit}).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


# --- admin -----------------------------------------------------------------------------------------------

MODELS = [
    Client,
    Contact,
    ClientExternalId,
    Contract,
    Invoice,
    ArrMovement,
    LifecycleStageHistory,
    Alert,
    AuditEvent,
    TimelineEvent,
    IntegrationCredential,
    JobRun,
]


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _changelist(model):
    return reverse(f"admin:customers_{model._meta.model_name}_changelist")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_model_has_a_changelist(admin_client, model):
    assert admin_client.get(_changelist(model)).status_code == 200


@pytest.mark.parametrize(
    "model", [Client, Contact, Contract, Alert, AuditEvent, TimelineEvent], ids=lambda m: m.__name__
)
def test_changelist_queries_do_not_grow(admin_client, model, staff_user):
    def make(n):
        for _ in range(n):
            c = ClientFactory(csm_assigned=staff_user)
            ContactFactory(client=c)
            ContractFactory(client=c)
            AlertFactory(client=c, owner=staff_user)
            TimelineEventFactory(client=c)

    make(2)
    with CaptureQueriesContext(connection) as small:
        admin_client.get(_changelist(model))
    make(15)
    with CaptureQueriesContext(connection) as large:
        admin_client.get(_changelist(model))
    assert len(large.captured_queries) == len(small.captured_queries)


def test_audit_events_are_read_only(admin_client, actor):
    from customers.audit import audit_record

    event = audit_record(actor=actor, action="customers.test.done")
    assert admin_client.get(reverse("admin:customers_auditevent_add")).status_code == 403
    change_url = reverse("admin:customers_auditevent_change", args=[event.pk])
    assert admin_client.post(change_url, {"action": "tampered"}).status_code == 403
    assert admin_client.post(reverse("admin:customers_auditevent_delete", args=[event.pk])).status_code == 403
    event.refresh_from_db()
    assert event.action == "customers.test.done"
    assert admin_client.get(reverse("admin:customers_timelineevent_add")).status_code == 403


def test_integration_secrets_are_write_only(admin_client):
    cred = IntegrationCredential.objects.create(
        provider="zendesk", secrets=json.dumps({"api_token": "s3cr3t-value"})
    )
    url = reverse("admin:customers_integrationcredential_change", args=[cred.pk])
    page = admin_client.get(url).content.decode()
    assert "s3cr3t-value" not in page
    response = admin_client.post(
        url, {"provider": "zendesk", "enabled": "on", "config": "{}", "new_secrets": ""}
    )
    assert response.status_code == 302, response.content
    cred.refresh_from_db()
    assert json.loads(cred.secrets) == {"api_token": "s3cr3t-value"} and cred.enabled
    response = admin_client.post(
        url, {"provider": "zendesk", "config": "{}", "new_secrets": '{"api_token": "new"}'}
    )
    assert response.status_code == 302
    cred.refresh_from_db()
    assert json.loads(cred.secrets) == {"api_token": "new"}
    audit = (
        AuditEvent.objects.filter(action="customers.integrationcredential.updated").order_by("-id").first()
    )
    assert "new" not in json.dumps(audit.changes) or audit.changes.get("new_secrets") == ["***", "***"]
    response = admin_client.post(url, {"provider": "zendesk", "config": "{}", "new_secrets": "[1, 2]"})
    assert response.status_code == 200  # form error: not an object


def test_admin_client_add_and_change_go_through_services(admin_client, staff_user):
    data = {
        "client_id": "adm",
        "client_name": "Admin Co",
        "company_name": "Admin Co Ltd",
        "industry": "Technology",
        "tier": "standard",
        "status": "active",
        "csm_assigned": str(staff_user.pk),
        "contract_value": "15000",
        "contract_start_date": "2026-01-01",
        "contract_end_date": "2027-01-01",
        "primary_contact_name": "Ann",
        "primary_contact_email": "ann@adm.example",
    }
    for prefix in ("contacts", "contracts", "external_ids"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = admin_client.post(reverse("admin:customers_client_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    client = Client.objects.get(client_id="adm")
    assert client.value_tier == "standard" and client.csm_assigned == staff_user
    created = AuditEvent.objects.get(action="customers.client.created")
    assert created.channel == "admin"
    assert ArrMovement.objects.get(client=client).amount == 15000
    assert Contract.objects.filter(client=client).count() == 1

    contract = Contract.objects.get(client=client)
    contact = Contact.objects.get(client=client)
    change = dict(data, contract_value="25000")
    change.update(
        {
            "contacts-TOTAL_FORMS": "1",
            "contacts-INITIAL_FORMS": "1",
            "contacts-0-id": str(contact.pk),
            "contacts-0-client": str(client.pk),
            "contacts-0-name": "Ann",
            "contacts-0-email": "ann@adm.example",
            "contacts-0-role": "champion",
            "contacts-0-title": "",
            "contacts-0-phone": "",
            "contracts-TOTAL_FORMS": "1",
            "contracts-INITIAL_FORMS": "1",
            "contracts-0-id": str(contract.pk),
            "contracts-0-client": str(client.pk),
            "contracts-0-contract_type": "annual",
            "contracts-0-status": "active",
            "contracts-0-tier": "standard",
            "contracts-0-value": "15000",
            "contracts-0-currency": "USD",
            "contracts-0-start_date": "2026-01-01",
            "contracts-0-end_date": "2027-01-01",
            "contracts-0-included_users": "",
            "contracts-0-payment_status": "current",
        }
    )
    change.pop("client_id")
    response = admin_client.post(reverse("admin:customers_client_change", args=[client.pk]), change)
    assert response.status_code == 302, response.content.decode()[:3000]
    updated = AuditEvent.objects.filter(action="customers.client.updated").order_by("-id").first()
    assert updated.channel == "admin" and updated.changes["contract_value"] == [15000.0, 25000.0]
    assert ArrMovement.objects.get(client=client, kind="expansion").amount == 10000
    assert AuditEvent.objects.filter(action="customers.contact.updated", channel="admin").exists()
    contact.refresh_from_db()
    assert contact.role == "champion"

    bad = dict(change, contract_end_date="2025-01-01")
    response = admin_client.post(reverse("admin:customers_client_change", args=[client.pk]), bad)
    assert response.status_code == 200  # form error from the service validation
    assert "must be after" in response.content.decode()
