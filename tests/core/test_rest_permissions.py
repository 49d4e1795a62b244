"""REST resources apply the tools' access rule (issue 8, defect 2): token scope AND the user's app permission.

Every request here authenticates with a real Bearer token minted by ``token_create``.
"""

import json

import pytest
from django.utils import timezone

from customers.models import AuditEvent, Client
from health.models import UsageEvent
from tests.core.helpers import auth, make_token, user_with_perms
from tests.customers.factories import ClientFactory

pytestmark = pytest.mark.django_db

NEW_ACCOUNT = {"client_id": "scoped", "client_name": "Scoped", "company_name": "Scoped Inc"}


def _post(client, url, body, token):
    return client.post(url, data=json.dumps(body), content_type="application/json", **auth(token))


def _patch(client, url, body, token):
    return client.patch(url, data=json.dumps(body), content_type="application/json", **auth(token))


def _event(client_id: str) -> dict:
    return {
        "type": "track",
        "messageId": "perm-1",
        "userId": "u1",
        "event": "Report Exported",
        "timestamp": timezone.now().isoformat(),
        "context": {"groupId": client_id},
        "properties": {"feature_key": "reports.export"},
    }


@pytest.fixture
def customers_user(django_user_model):
    return user_with_perms(django_user_model, "cs-agent")


@pytest.fixture
def ingest_user(django_user_model):
    return user_with_perms(django_user_model, "pipeline", codenames=("ingest_usage",), app="health")


def test_read_token_cannot_create_or_update_accounts(client, customers_user):
    ClientFactory(client_id="kept", industry="Retail")
    token = make_token(customers_user, ("read",))
    audit_before = AuditEvent.objects.count()

    response = _post(client, "/api/v1/accounts/", NEW_ACCOUNT, token)
    assert response.status_code == 403
    assert response.json() == {
        "status": "failed",
        "error": {
            "code": "PERMISSION_DENIED",
            "message": "This token lacks the 'write' scope needed by POST /api/v1/accounts/.",
        },
    }
    response = _patch(client, "/api/v1/accounts/kept/", {"industry": "Banking"}, token)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"

    assert not Client.objects.filter(client_id="scoped").exists()
    assert Client.objects.get(client_id="kept").industry == "Retail"
    assert AuditEvent.objects.count() == audit_before
    # the same token reads
    assert client.get("/api/v1/accounts/", **auth(token)).status_code == 200
    assert client.get("/api/v1/contacts/", **auth(token)).status_code == 200
    assert client.get("/api/v1/contracts/", **auth(token)).status_code == 200


def test_write_only_token_cannot_read(client, customers_user):
    token = make_token(customers_user, ("write",))
    response = client.get("/api/v1/accounts/", **auth(token))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "This token lacks the 'read' scope needed by GET /api/v1/accounts/."
    )


def test_write_token_without_the_app_permission_is_refused(client, django_user_model):
    reader = user_with_perms(django_user_model, "reader", codenames=("mcp_read",))
    token = make_token(reader, ("read", "write"))
    response = _post(client, "/api/v1/accounts/", NEW_ACCOUNT, token)
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "PERMISSION_DENIED",
        "message": "Permission 'customers.mcp_write' is required for POST /api/v1/accounts/.",
    }
    assert not Client.objects.filter(client_id="scoped").exists()
    assert client.get("/api/v1/accounts/", **auth(token)).status_code == 200


def test_user_without_any_permission_cannot_read(client, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", "n@example.com", "pw-123456789!")
    token = make_token(nobody, ("read", "write", "admin"))
    response = client.get("/api/v1/accounts/", **auth(token))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "Permission 'customers.mcp_read' is required for GET /api/v1/accounts/."
    )


def test_write_and_admin_scopes_may_write(client, customers_user):
    response = _post(client, "/api/v1/accounts/", NEW_ACCOUNT, make_token(customers_user, ("read", "write")))
    assert response.status_code == 201, response.content
    admin_token = make_token(customers_user, ("admin",))
    response = _patch(client, "/api/v1/accounts/scoped/", {"industry": "Banking"}, admin_token)
    assert response.status_code == 200, response.content
    assert Client.objects.get(client_id="scoped").industry == "Banking"


def test_superuser_is_still_limited_by_the_token_scope(client, superuser):
    response = _post(client, "/api/v1/accounts/", NEW_ACCOUNT, make_token(superuser, ("read",)))
    assert response.status_code == 403
    assert not Client.objects.filter(client_id="scoped").exists()


def test_no_token_is_401_not_403(client):
    response = client.get("/api/v1/accounts/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("url", ["/api/v1/events/batch", "/api/v1/events/track"])
def test_read_token_cannot_post_usage_events(client, ingest_user, url):
    ClientFactory(client_id="acme")
    token = make_token(ingest_user, ("read",))
    body = {"batch": [_event("acme")]} if url.endswith("batch") else _event("acme")
    response = _post(client, url, body, token)
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "PERMISSION_DENIED",
        "message": f"This token lacks the 'write' scope needed by POST {url}.",
    }
    assert UsageEvent.objects.count() == 0


def test_write_token_without_ingest_permission_cannot_post_usage_events(client, django_user_model):
    ClientFactory(client_id="acme")
    # health tools' write permission is not the ingestion permission
    user = user_with_perms(
        django_user_model, "health-writer", codenames=("mcp_read", "mcp_write"), app="health"
    )
    response = _post(
        client, "/api/v1/events/batch", {"batch": [_event("acme")]}, make_token(user, ("write",))
    )
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "Permission 'health.ingest_usage' is required for POST /api/v1/events/batch."
    )
    assert UsageEvent.objects.count() == 0


def test_write_token_with_ingest_permission_posts_usage_events(client, ingest_user):
    ClientFactory(client_id="acme")
    response = _post(
        client, "/api/v1/events/batch", {"batch": [_event("acme")]}, make_token(ingest_user, ("write",))
    )
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert UsageEvent.objects.count() == 1
