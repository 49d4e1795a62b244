"""MCP and REST publish the same tools and answer every call identically (validation, permissions, errors)."""

import json
import re
import time

import pytest
from asgiref.sync import async_to_sync

from cs_project.core.api import tool_description
from cs_project.core.mcp import register_tools
from cs_project.core.registry import all_tools
from tests.core.helpers import auth, make_token, mcp_call, mcp_post, mcp_result, rest_call, user_with_perms

pytestmark = pytest.mark.django_db


def _mcp_tools(client, token):
    return {t["name"]: t for t in mcp_result(mcp_post(client, "tools/list", {}, token=token))["tools"]}


def _rest_tools(client, token):
    response = client.get("/api/v1/tools/", **auth(token))
    assert response.status_code == 200
    return {t["name"]: t for t in response.json()["tools"]}


def test_tool_names_are_unique_and_published_exactly_once(client, rw_token):
    names = [spec.name for spec in all_tools()]
    assert len(names) == len(set(names))
    mcp_names = [t["name"] for t in mcp_result(mcp_post(client, "tools/list", {}, token=rw_token))["tools"]]
    assert len(mcp_names) == len(set(mcp_names))
    # Nothing but registry tools on MCP (no get_server_instructions, no toolset leaking in).
    assert sorted(mcp_names) == sorted(names)
    assert {"test_echo", "test_write", "test_boom"} <= set(names)


def test_register_tools_is_idempotent(client, rw_token):
    register_tools()
    assert register_tools() == 0
    assert len(_mcp_tools(client, rw_token)) == len(all_tools())


def test_every_tool_is_identical_in_mcp_and_rest(client, rw_token):
    mcp_tools = _mcp_tools(client, rw_token)
    rest_tools = _rest_tools(client, rw_token)
    assert set(mcp_tools) == set(rest_tools) == {spec.name for spec in all_tools()}
    for spec in all_tools():
        published, mirrored = mcp_tools[spec.name], rest_tools[spec.name]
        assert published["description"] == mirrored["description"] == spec.description
        assert published["title"] == mirrored["title"] == spec.title
        assert (
            published["inputSchema"]
            == mirrored["input_schema"]
            == json.loads(json.dumps(spec.input_schema()))
        )
        assert published["inputSchema"]["additionalProperties"] is False
        assert published["outputSchema"] == mirrored["output_schema"] == spec.output_schema()
        assert published["annotations"] == mirrored["annotations"] == spec.annotations()
        assert set(published["annotations"]) == {
            "title",
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        }
        assert mirrored["category"] == spec.category
        assert mirrored["permission"] == spec.permission
        assert mirrored["scope"] == spec.scope


def test_rest_listing_matches_tool_description(client, rw_token):
    rest_tools = _rest_tools(client, rw_token)
    for spec in all_tools():
        assert rest_tools[spec.name] == json.loads(json.dumps(tool_description(spec)))


def test_success_is_the_same_envelope_through_both_doorways(client, rw_token):
    arguments = {"text": "Hi", "count": 2, "mode": "upper"}
    via_rest = rest_call(client, "test_echo", arguments, token=rw_token)
    assert via_rest.status_code == 200
    result = mcp_call(client, "test_echo", arguments, token=rw_token)
    assert result["isError"] is False
    envelope = result["structuredContent"]
    assert len(result["content"]) == 1 and result["content"][0]["type"] == "text"
    assert json.loads(result["content"][0]["text"]) == envelope
    rest_envelope = via_rest.json()
    assert rest_envelope.pop("channel") == "api" and envelope.pop("channel") == "mcp"
    assert (
        rest_envelope
        == envelope
        == {"status": "success", "echo": ["HI", "HI"], "actor": "agent", "data_gaps": []}
    )


VALIDATION_CASES = [
    pytest.param({"text": "hi", "count": "many"}, "count", id="wrong-type"),
    pytest.param({"text": "hi", "count": 11}, "count", id="above-maximum"),
    pytest.param({"text": "hi", "count": 0}, "count", id="below-minimum"),
    pytest.param({"text": "x" * 51}, "text", id="too-long"),
    pytest.param({"text": "hi", "mode": "sideways"}, "mode", id="bad-enum"),
    pytest.param({"text": "hi", "bogus": 1}, "bogus", id="unknown-parameter"),
    pytest.param({"count": 2}, "text", id="missing-required"),
    pytest.param({"text": "hi", "options": {"level": 9}}, "options.level", id="nested-out-of-range"),
    pytest.param({"text": "hi", "options": {"colour": "red"}}, "options.colour", id="nested-unknown"),
]


@pytest.mark.parametrize(("arguments", "field"), VALIDATION_CASES)
def test_invalid_parameter_names_the_field_in_rest_and_mcp(client, rw_token, arguments, field):
    via_rest = rest_call(client, "test_echo", arguments, token=rw_token)
    assert via_rest.status_code == 400
    rest_envelope = via_rest.json()
    assert rest_envelope["status"] == "failed"
    assert rest_envelope["error"]["code"] == "INVALID_PARAMETER"
    assert rest_envelope["error"]["field"] == field
    result = mcp_call(client, "test_echo", arguments, token=rw_token)
    assert result["isError"] is True
    assert result["structuredContent"] == rest_envelope
    assert json.loads(result["content"][0]["text"]) == rest_envelope


def test_arguments_must_be_an_object(client, rw_token):
    response = rest_call(client, "test_echo", ["hi"], token=rw_token)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_PARAMETER"


def test_read_scoped_token_cannot_call_a_mutating_tool(client, api_user):
    read_only = make_token(api_user, ("read",))
    response = rest_call(client, "test_write", {"note": "x"}, token=read_only)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"
    result = mcp_call(client, "test_write", {"note": "x"}, token=read_only)
    assert result["isError"] is True
    assert result["structuredContent"] == response.json()
    # The same token may read.
    assert rest_call(client, "test_echo", {"text": "ok"}, token=read_only).status_code == 200


def test_write_scoped_token_can_call_a_mutating_tool(client, rw_token):
    response = rest_call(client, "test_write", {"note": "x"}, token=rw_token)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and body["audit_event_id"]
    result = mcp_call(client, "test_write", {"note": "y"}, token=rw_token)
    assert result["isError"] is False and result["structuredContent"]["audit_event_id"]


def test_user_without_the_app_permission_is_denied(client, django_user_model):
    outsider = user_with_perms(django_user_model, "outsider", codenames=())
    token = make_token(outsider, ("read", "write"))
    response = rest_call(client, "test_echo", {"text": "hi"}, token=token)
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "PERMISSION_DENIED",
        "message": "Permission 'customers.mcp_read' is required for test_echo.",
    }
    result = mcp_call(client, "test_echo", {"text": "hi"}, token=token)
    assert result["isError"] is True and result["structuredContent"] == response.json()


def test_read_permission_does_not_grant_write(client, django_user_model):
    reader = user_with_perms(django_user_model, "reader", codenames=("mcp_read",))
    token = make_token(reader, ("read", "write"))
    assert rest_call(client, "test_echo", {"text": "hi"}, token=token).status_code == 200
    assert rest_call(client, "test_write", {"note": "x"}, token=token).status_code == 403


def test_permission_is_checked_before_validation(client, django_user_model):
    outsider = user_with_perms(django_user_model, "outsider2", codenames=())
    token = make_token(outsider, ("read",))
    response = rest_call(client, "test_echo", {"bogus": 1}, token=token)
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"


def test_superuser_passes_permission_checks(client, superuser):
    token = make_token(superuser, ("read", "write"))
    assert rest_call(client, "test_write", {"note": "root"}, token=token).status_code == 200


def test_unexpected_exception_is_internal_with_reference_and_no_internals(client, rw_token, caplog):
    response = rest_call(client, "test_boom", {}, token=rw_token)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "INTERNAL"
    assert re.search(r"reference [0-9a-f]{32}", error["message"])
    for leaked in ("secret-internal-detail", "passwd", "Traceback", "RuntimeError"):
        assert leaked not in response.content.decode()
    result = mcp_call(client, "test_boom", {}, token=rw_token)
    assert result["isError"] is True
    assert result["structuredContent"]["error"]["code"] == "INTERNAL"
    text = json.dumps(result)
    for leaked in ("secret-internal-detail", "passwd", "Traceback", "RuntimeError"):
        assert leaked not in text
    assert "secret-internal-detail" in caplog.text  # the details went to the log


def test_unknown_tool(client, rw_token):
    response = rest_call(client, "no_such_tool", {}, token=rw_token)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    result = mcp_post(client, "tools/call", {"name": "no_such_tool", "arguments": {}}, token=rw_token)
    assert mcp_result(result)["isError"] is True


def test_get_mcp_is_refused_immediately(client, rw_token):
    started = time.monotonic()
    response = client.get("/mcp", HTTP_ACCEPT="text/event-stream", **auth(rw_token))
    assert response.status_code == 405
    assert time.monotonic() - started < 2
    assert "GET" not in response["Allow"]
    # Refused before authentication too: GET never reaches the library.
    assert client.get("/mcp", HTTP_ACCEPT="text/event-stream").status_code == 405
    assert client.delete("/mcp", **auth(rw_token)).status_code == 405


def test_mcp_initialize(client, rw_token):
    result = mcp_result(
        mcp_post(
            client,
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "pytest", "version": "1"},
            },
            token=rw_token,
        )
    )
    assert result["serverInfo"]["name"] == "customer-success"
    assert "tools" in result["capabilities"]


def test_in_process_call_without_a_request_is_denied(client, rw_token):
    """Outside an HTTP request there is no user: the call is refused, never run as a previous caller."""
    from mcp_server import mcp_server
    from mcp_server.djangomcp import django_request_ctx

    assert mcp_call(client, "test_echo", {"text": "hi"}, token=rw_token)["isError"] is False
    assert django_request_ctx.get(None) is None  # the request does not outlive its call
    result = async_to_sync(mcp_server.call_tool)("test_echo", {"text": "hi"})
    assert result.isError is True
    assert result.structuredContent["error"]["code"] == "PERMISSION_DENIED"
