"""Tool calls are audited; verify_audit_log passes on a clean chain and finds edited or deleted rows."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from cs_project.core.context import Actor
from cs_project.core.registry import argument_digest, execute_tool
from customers.audit import audit_record
from customers.models import AuditEvent
from tests.core.helpers import mcp_call, rest_call

pytestmark = pytest.mark.django_db


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    return out.getvalue()


def test_tool_calls_are_logged_from_both_doorways(client, rw_token):
    rest_call(client, "test_echo", {"text": "secret words"}, token=rw_token)
    mcp_call(client, "test_echo", {"text": "hi", "count": 99}, token=rw_token)
    calls = list(AuditEvent.objects.filter(action="core.tool.called").order_by("id"))
    assert [(e.channel, e.tool, e.actor, e.data["outcome"]) for e in calls] == [
        ("api", "test_echo", "agent", "success"),
        ("mcp", "test_echo", "agent", "INVALID_PARAMETER"),
    ]
    first = calls[0]
    assert first.object_type == "tool" and first.object_id == "test_echo"
    assert first.data["arguments_sha256"] == argument_digest({"text": "secret words"})
    assert first.data["duration_ms"] >= 0 and len(first.data["request_id"]) == 32
    assert "secret words" not in json.dumps(first.data)  # a digest, not the arguments


def test_denied_and_failed_calls_are_logged(client, read_token, rw_token):
    rest_call(client, "test_write", {"note": "x"}, token=read_token)
    rest_call(client, "test_boom", {}, token=rw_token)
    outcomes = list(AuditEvent.objects.filter(action="core.tool.called").values_list("tool", "data__outcome"))
    assert sorted(outcomes) == [("test_boom", "INTERNAL"), ("test_write", "PERMISSION_DENIED")]


def test_mutating_call_writes_its_own_event_and_the_call_record(api_user):
    envelope = execute_tool("test_write", {"note": "n"}, user=api_user, channel="api", scopes=None)
    assert envelope["status"] == "success"
    written = AuditEvent.objects.get(action="tests.note.written")
    assert str(written.event_id) == envelope["audit_event_id"]
    assert written.actor == "agent" and written.tool == "test_write" and written.channel == "api"


def _chain(n: int) -> list[AuditEvent]:
    actor = Actor.system("tests")
    return [audit_record(actor=actor, action="tests.chain.link", data={"i": i}) for i in range(n)]


def test_verify_passes_on_a_clean_chain():
    _chain(5)
    assert "5 events verified" in _verify()


def test_verify_passes_on_an_empty_log():
    assert "0 events verified" in _verify()


def test_verify_detects_an_edited_row():
    events = _chain(5)
    AuditEvent.objects.filter(pk=events[2].pk).update(data={"i": 99})
    with pytest.raises(CommandError, match=rf"event id {events[2].pk}\b.*edited"):
        _verify()


def test_verify_detects_an_edited_row_whose_hash_was_recomputed():
    from customers.audit import audit_event_hash

    events = _chain(5)
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.actor = "mallory"
    forged.hash = audit_event_hash(forged)
    forged.save()
    with pytest.raises(CommandError, match=rf"event id {events[2].pk}\b"):
        _verify()


def test_verify_detects_a_deleted_row():
    events = _chain(5)
    AuditEvent.objects.filter(pk=events[1].pk).delete()
    with pytest.raises(CommandError, match=rf"event id {events[2].pk}\b.*deleted"):
        _verify()


def test_verify_detects_a_deleted_first_row():
    events = _chain(3)
    AuditEvent.objects.filter(pk=events[0].pk).delete()
    with pytest.raises(CommandError, match=rf"event id {events[1].pk}\b"):
        _verify()


def test_verify_streams_in_chunks():
    _chain(7)
    from cs_project.core.management.commands.verify_audit_log import verify_chain

    assert verify_chain(chunk_size=2) == (7, None, "")
