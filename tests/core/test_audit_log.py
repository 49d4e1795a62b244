"""Every tool call is in the access log (unchained, no lock); only mutations are in the audit hash chain;
verify_audit_log passes on a clean chain and finds edited or deleted rows (TOOLS §0.5)."""

import datetime as dt
import io
import json
import logging

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cs_project.core.access_log import access_log_prune, argument_digest
from cs_project.core.context import Actor
from cs_project.core.models import AccessLogEntry
from cs_project.core.registry import execute_tool
from customers.audit import audit_chain_verify, audit_record
from customers.models import AuditEvent
from tests.core.helpers import mcp_call, rest_call

pytestmark = pytest.mark.django_db


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    return out.getvalue()


def _calls() -> list[AccessLogEntry]:
    return list(AccessLogEntry.objects.order_by("id"))


def test_read_only_call_writes_no_audit_event_and_one_access_row(api_user):
    """Defect 3: a read-only call used to append a chained ``core.tool.called`` event under a global lock."""
    before = AuditEvent.objects.count()
    envelope = execute_tool("test_echo", {"text": "hi"}, user=api_user, channel="api", scopes=None)
    assert envelope["status"] == "success"
    assert AuditEvent.objects.count() == before
    [entry] = _calls()
    assert (entry.actor, entry.user_id, entry.channel, entry.tool, entry.outcome) == (
        "agent",
        api_user.pk,
        "api",
        "test_echo",
        "success",
    )
    assert entry.audit_event_id is None and entry.client_id == ""


def test_tool_calls_are_logged_from_both_doorways(client, rw_token):
    rest_call(client, "test_echo", {"text": "secret words"}, token=rw_token)
    mcp_call(client, "test_echo", {"text": "hi", "count": 99}, token=rw_token)
    assert [(e.channel, e.tool, e.actor, e.outcome) for e in _calls()] == [
        ("api", "test_echo", "agent", "success"),
        ("mcp", "test_echo", "agent", "INVALID_PARAMETER"),
    ]
    first = _calls()[0]
    assert first.arguments_sha256 == argument_digest({"text": "secret words"})
    assert first.duration_ms >= 0 and len(first.request_id) == 32
    assert "secret words" not in json.dumps([str(v) for v in vars(first).values()])  # a digest, not the text
    assert not AuditEvent.objects.filter(action="core.tool.called").exists()


def test_denied_and_failed_calls_are_logged_with_their_error_code(client, read_token, rw_token):
    rest_call(client, "test_write", {"note": "x"}, token=read_token)
    rest_call(client, "test_boom", {}, token=rw_token)
    outcomes = sorted(AccessLogEntry.objects.values_list("tool", "outcome"))
    assert outcomes == [("test_boom", "INTERNAL"), ("test_write", "PERMISSION_DENIED")]
    assert AuditEvent.objects.count() == 2  # the two tokens' creation: no event for a call


def test_the_call_is_one_structured_log_line(api_user, caplog):
    with caplog.at_level(logging.INFO, logger="cs.access"):
        execute_tool("test_echo", {"text": "hi"}, user=api_user, channel="mcp", scopes=None)
    [record] = [r for r in caplog.records if r.name == "cs.access"]
    line = json.loads(record.getMessage())
    assert {k: line[k] for k in ("event", "actor", "channel", "tool", "client_id", "outcome")} == {
        "event": "tool_call",
        "actor": "agent",
        "channel": "mcp",
        "tool": "test_echo",
        "client_id": None,
        "outcome": "success",
    }
    assert line["request_id"] == AccessLogEntry.objects.get().request_id
    assert record.access == line  # also as a structured attribute, for JSON log formatters


def test_client_id_argument_is_recorded_as_plain_text(api_user):
    execute_tool("test_echo", {"text": "hi", "client_id": "acme"}, user=api_user, channel="api", scopes=None)
    entry = AccessLogEntry.objects.get()
    assert (entry.client_id, entry.outcome) == (
        "acme",
        "INVALID_PARAMETER",
    )  # unknown parameter, still logged


def test_mutating_call_still_chains_and_links_its_access_row(api_user):
    envelope = execute_tool("test_write", {"note": "n"}, user=api_user, channel="api", scopes=None)
    assert envelope["status"] == "success"
    written = AuditEvent.objects.get(action="tests.note.written")
    assert str(written.event_id) == envelope["audit_event_id"]
    assert written.actor == "agent" and written.tool == "test_write" and written.channel == "api"
    previous = AuditEvent.objects.exclude(pk=written.pk).order_by("-id").first()
    assert written.prev_hash == (previous.hash if previous else "")
    assert audit_chain_verify() == (AuditEvent.objects.count(), None, "")
    assert not AuditEvent.objects.filter(action="core.tool.called").exists()
    entry = AccessLogEntry.objects.get()
    assert (entry.tool, entry.outcome, str(entry.audit_event_id)) == (
        "test_write",
        "success",
        str(written.event_id),
    )


def test_prune_deletes_only_entries_older_than_the_retention(api_user):
    for _ in range(5):
        execute_tool("test_echo", {"text": "hi"}, user=api_user, channel="api", scopes=None)
    now = timezone.now()
    ids = list(AccessLogEntry.objects.order_by("id").values_list("id", flat=True))
    ages = [91, 90.5, 89.9, 30, 0]
    for pk, age in zip(ids, ages, strict=True):
        AccessLogEntry.objects.filter(pk=pk).update(occurred_at=now - dt.timedelta(days=age))
    assert access_log_prune(retention_days=90, now=now, batch_size=1) == 2
    assert list(AccessLogEntry.objects.order_by("id").values_list("id", flat=True)) == ids[2:]
    assert access_log_prune(retention_days=90, now=now) == 0


def test_prune_task_uses_the_retention_setting_and_is_scheduled(api_user, settings):
    from cs_project.core.tasks import access_log_prune_task

    execute_tool("test_echo", {"text": "hi"}, user=api_user, channel="api", scopes=None)
    AccessLogEntry.objects.update(occurred_at=timezone.now() - dt.timedelta(days=8))
    settings.CS_ACCESS_LOG_RETENTION_DAYS = 10
    assert access_log_prune_task.apply().get() == {"deleted": 0, "retention_days": 10}
    settings.CS_ACCESS_LOG_RETENTION_DAYS = 7
    assert access_log_prune_task.apply().get() == {"deleted": 1, "retention_days": 7}
    assert settings.CELERY_BEAT_SCHEDULE["access_log_prune"]["task"] == access_log_prune_task.name


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
    assert audit_chain_verify(chunk_size=2) == (7, None, "")


def test_a_read_only_call_does_not_wait_for_the_audit_chain_lock(api_user):
    """Defect 3 on PostgreSQL: with the audit chain's advisory lock held elsewhere (a long mutation), a read
    still completes and is logged — recording it takes no global lock."""
    import psycopg
    from django.db import connection

    from customers.audit import _AUDIT_LOCK_KEY
    from tests.conftest import require_service

    require_service(connection.vendor == "postgresql", "PostgreSQL")
    cfg = connection.settings_dict
    other = psycopg.connect(
        dbname=cfg["NAME"], user=cfg["USER"], host=cfg["HOST"], port=cfg["PORT"] or 5432, autocommit=True
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [_AUDIT_LOCK_KEY])
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
        envelope = execute_tool("test_echo", {"text": "hi"}, user=api_user, channel="mcp", scopes=None)
    finally:
        other.close()
    assert envelope["status"] == "success"
    assert AccessLogEntry.objects.get().outcome == "success"
