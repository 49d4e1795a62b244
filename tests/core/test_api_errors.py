"""DRF's own errors leave in the contract's shape; OpenAPI schema and Swagger UI access."""

import pytest
from django.test import override_settings
from rest_framework import exceptions, serializers
from rest_framework.test import APIRequestFactory

from cs_project.core.api import exception_handler
from cs_project.core.errors import Conflict
from tests.core.helpers import MCP_ACCEPT, auth

pytestmark = pytest.mark.django_db


def _assert_shape(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "field"}
    return body


def test_method_not_allowed(client, rw_token):
    _assert_shape(client.get("/api/v1/tools/test_echo/", **auth(rw_token)), 405, "METHOD_NOT_ALLOWED")
    _assert_shape(client.delete("/api/v1/tools/", **auth(rw_token)), 405, "METHOD_NOT_ALLOWED")


def test_parse_error(client, rw_token):
    response = client.post(
        "/api/v1/tools/test_echo/", data="{not json", content_type="application/json", **auth(rw_token)
    )
    _assert_shape(response, 400, "INVALID_PARAMETER")
    response = client.post(
        "/mcp", data="{not json", content_type="application/json", HTTP_ACCEPT=MCP_ACCEPT, **auth(rw_token)
    )
    _assert_shape(response, 400, "INVALID_PARAMETER")


def test_unsupported_media_type(client, rw_token):
    response = client.post("/api/v1/tools/test_echo/", data={"text": "x"}, **auth(rw_token))  # multipart
    _assert_shape(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_payload_too_large(client, rw_token):
    big = '{"text": "' + "x" * 2000 + '"}'
    response = client.post(
        "/api/v1/tools/test_echo/", data=big, content_type="application/json", **auth(rw_token)
    )
    _assert_shape(response, 413, "PAYLOAD_TOO_LARGE")
    response = client.post(
        "/mcp", data=big, content_type="application/json", HTTP_ACCEPT=MCP_ACCEPT, **auth(rw_token)
    )
    _assert_shape(response, 413, "PAYLOAD_TOO_LARGE")


def test_not_found_route_of_the_tool_mirror(client, rw_token):
    _assert_shape(
        client.post("/api/v1/tools/nope/", data="{}", content_type="application/json", **auth(rw_token)),
        404,
        "NOT_FOUND",
    )


def _handle(exc):
    request = APIRequestFactory().get("/")
    return exception_handler(exc, {"request": request, "view": None})


def test_handler_maps_validation_errors_to_a_dotted_field():
    class Inner(serializers.Serializer):
        tier = serializers.ChoiceField(choices=["a", "b"])

    class Outer(serializers.Serializer):
        updates = Inner()
        actions = serializers.ListField(child=serializers.DictField(), required=False)

    serializer = Outer(data={"updates": {"tier": "z"}})
    assert not serializer.is_valid()
    response = _handle(exceptions.ValidationError(serializer.errors))
    assert response.status_code == 400
    assert response.data["error"]["code"] == "INVALID_PARAMETER"
    assert response.data["error"]["field"] == "updates.tier"
    response = _handle(exceptions.ValidationError({"actions": [{}, {"type": ["bad"]}]}))
    assert response.data["error"]["field"] == "actions[1].type"
    assert response.data["error"]["message"] == "bad"
    response = _handle(exceptions.ValidationError({"non_field_errors": ["inconsistent"]}))
    assert "field" not in response.data["error"]


def test_handler_maps_tool_errors_and_unexpected_exceptions(caplog):
    response = _handle(Conflict("Duplicate.", field="client_id"))
    assert response.status_code == 409
    assert response.data == {
        "status": "failed",
        "error": {"code": "CONFLICT", "message": "Duplicate.", "field": "client_id"},
    }
    response = _handle(ValueError("db password is hunter2"))
    assert response.status_code == 500
    assert response.data["error"]["code"] == "INTERNAL"
    assert "hunter2" not in response.data["error"]["message"]
    assert "reference" in response.data["error"]["message"]
    assert "hunter2" in caplog.text


def test_schema_requires_authentication(client, rw_token, staff_user):
    _assert_shape(client.get("/api/schema/", HTTP_ACCEPT="application/json"), 401, "UNAUTHENTICATED")
    assert client.get("/api/schema/").status_code == 401  # YAML by default
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json", **auth(rw_token))
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/tools/{name}/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    client.force_login(staff_user)
    assert client.get("/api/schema/", HTTP_ACCEPT="application/json").status_code == 200


def test_swagger_ui_is_for_signed_in_staff(client, staff_user):
    anonymous = client.get("/api/docs/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    client.force_login(staff_user)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
