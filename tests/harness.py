"""The contract every tool shares, as one reusable test class (in the spirit of NetBox's API test-case mixins).

A tool's harness test is a subclass that names the tool and how to call it::

    class TestListClients(ToolContractTests):
        tool_name = "list_clients"

        def arguments(self, world):
            return {"limit": 10}

and inherits these tests, each on a fresh demo world (``manage.py seed_demo``, dated today):

- ``test_rest_result_matches_its_schema``: ``POST /api/v1/tools/<name>/`` with a real Bearer token → 200 and an
  envelope that validates against the tool's published ``outputSchema`` (``status``, ``data_gaps``,
  ``audit_event_id`` for mutating tools, every declared key);
- ``test_mcp_result_matches_its_schema``: the same over ``/mcp`` (``tools/call``): ``structuredContent`` is the
  envelope, ``isError`` false, the text item carries the same JSON;
- ``test_every_null_has_a_data_gap``: every ``null`` in the result is explained by a ``data_gaps`` entry whose
  ``field`` is its path or an ancestor's (``a[2].b``, or ``a[].b`` for every item) — TOOLS §0.6 — apart from the
  paths in ``nullable_without_gap`` (values that are null by definition, e.g. ``audit_event_id`` of a no-op);
- ``test_wrong_scope_is_refused``: a token without the tool's scope (``read`` for read-only tools, ``write`` for
  mutating ones) gets 403 ``PERMISSION_DENIED`` and, for mutating tools, nothing is written;
- ``test_missing_permission_is_refused``: a user without the tool's ``<app>.mcp_read`` / ``mcp_write`` (but with
  every other app's permissions) gets 403 ``PERMISSION_DENIED``, and nothing is written;
- ``test_query_count_does_not_grow_with_accounts``: the tool's queries (second, warm call) in a world of
  ``accounts`` clients equal those in a world of three times as many.

Plus ``test_declares_a_result_type`` (the return annotation is a result type, not ``dict[str, Any]``).

Subclasses may override ``build_world`` (any builder returning a dict of facts the arguments need),
``arguments`` (and ``repeat_arguments`` for the second call of the query count), ``accounts``,
``nullable_without_gap``, ``extra_queries_allowed`` (with a reason) and ``known_silent_gaps``: nulls without a
data gap that are known defects (each must still occur, so a fix forces its removal; a new silent gap still
fails). The missing-permission test also gives the user the tool's *other* MCP permission of its app, so it
proves that ``mcp_read`` does not open a mutating tool (and ``mcp_write`` not a read-only one).
"""

import json
import re
from io import StringIO
from typing import Any, ClassVar

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cs_project.core.registry import execute_tool, get_tool
from cs_project.core.results import result_errors
from customers.models import Client, TimelineEvent
from health.common import today
from tests.core.helpers import auth, make_token, mcp_call, rest_call

APPS = ["customers", "health", "onboarding", "retention", "communication", "support", "expansion", "feedback"]


def demo_world(accounts: int, *, seed: int = 7, days: int = 30) -> dict[str, Any]:
    """A linked demo world dated today (seed_demo: contracts, usage, tickets, surveys, scores) and its facts."""
    call_command(
        "seed_demo", accounts=accounts, days=days, seed=seed, as_of=today(), quiet=True, stdout=StringIO()
    )
    scored = Client.objects.filter(status="active", health_score__isnull=False).order_by("client_id")
    client = scored.first() or Client.objects.order_by("client_id").first()
    return {"accounts": accounts, "client_id": client.client_id, "client": client}


# --- null ↔ data gap ----------------------------------------------------------------------------------------


def null_paths(value: Any, path: str = "") -> list[str]:
    """Dotted paths (``a.b[2].c``) of every ``null`` inside ``value``."""
    if value is None:
        return [path]
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += null_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += null_paths(item, f"{path}[{index}]")
    return found


def _normalise(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", path)


def _under(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith(ancestor + ".") or path.startswith(ancestor + "[")


def _matches(path: str, pattern: str) -> bool:
    """``pattern`` is a dotted path in which ``*`` stands for one key and ``[]`` for any index."""
    regex = re.escape(_normalise(pattern)).replace(r"\*", r"[^.\[]+")
    return re.fullmatch(regex + r"(\..*|\[.*)?", _normalise(path)) is not None


def unexplained_nulls(envelope: dict[str, Any], allowed: tuple[str, ...] = ()) -> list[str]:
    """Null values of a success envelope that no data gap explains and no allow-list pattern admits."""
    payload = {k: v for k, v in envelope.items() if k not in ("status", "data_gaps", "message")}
    gaps = [gap["field"] for gap in envelope.get("data_gaps", [])]
    out = []
    for path in null_paths(payload):
        if re.search(r"(^|\.)evidence(\.|\[|$)", path):
            continue  # a finding's evidence records the inputs as they were, nulls included (TOOLS §0.6)
        if any(_under(path, gap) for gap in gaps):
            continue
        if any("[]" in gap and _under(_normalise(path), gap) for gap in gaps):
            continue
        if any(_matches(path, pattern) for pattern in allowed):
            continue
        out.append(path)
    return out


# --- users and tokens ---------------------------------------------------------------------------------------


def user_with_app_perms(django_user_model, username: str, apps: list[str], codenames=None):
    user = django_user_model.objects.create_user(username, f"{username}@example.com", "pw-123456789!")
    perms = Permission.objects.filter(content_type__app_label__in=apps)
    if codenames is not None:
        perms = perms.filter(codename__in=codenames)
    user.user_permissions.set(perms)
    return django_user_model.objects.get(pk=user.pk)


class ToolContractTests:
    """Base class of a tool's harness tests (not collected itself: the name does not start with ``Test``)."""

    tool_name: ClassVar[str]
    accounts: ClassVar[int] = 4
    nullable_without_gap: ClassVar[tuple[str, ...]] = ()
    known_silent_gaps: ClassVar[tuple[str, ...]] = ()
    extra_queries_allowed: ClassVar[int] = 0

    # --- what a subclass provides ---

    def build_world(self, accounts: int) -> dict[str, Any]:
        return demo_world(accounts)

    def arguments(self, world: dict[str, Any]) -> dict[str, Any]:
        return {}

    def repeat_arguments(self, world: dict[str, Any]) -> dict[str, Any]:
        """Arguments of a second call in the same world (a mutating tool may need other values to act again)."""
        return self.arguments(world)

    # --- helpers ---

    @property
    def spec(self):
        spec = get_tool(self.tool_name)
        assert spec is not None, f"tool {self.tool_name} is not registered"
        return spec

    def caller(self, django_user_model, scopes=("read", "write")) -> str:
        user = user_with_app_perms(django_user_model, "harness", APPS, ["mcp_read", "mcp_write"])
        return make_token(user, scopes)

    def assert_success(self, envelope: dict[str, Any]) -> None:
        assert envelope["status"] == "success", envelope
        assert isinstance(envelope["data_gaps"], list)
        if not self.spec.read_only:
            assert "audit_event_id" in envelope
        errors = result_errors(self.spec.result_type, envelope)
        assert errors == [], f"{self.tool_name} result breaks its outputSchema: {errors}"

    @pytest.fixture(autouse=True)
    def _results_checked_here(self, settings):
        """The harness checks results itself (precise messages) instead of the registry raising on them."""
        settings.CS_TOOL_RESULT_CHECK = "off"

    @pytest.fixture
    def world(self, db):
        return self.build_world(self.accounts)

    # --- the shared tests ---

    def test_declares_a_result_type(self):
        assert self.spec.result_type is not None, "declare the result type as the tool's return annotation"

    def test_rest_result_matches_its_schema(self, world, client, django_user_model):
        token = self.caller(django_user_model)
        response = rest_call(client, self.tool_name, self.arguments(world), token=token)
        assert response.status_code == 200, response.content[:2000]
        self.assert_success(response.json())

    def test_mcp_result_matches_its_schema(self, world, client, django_user_model):
        token = self.caller(django_user_model)
        result = mcp_call(client, self.tool_name, self.arguments(world), token=token)
        assert result["isError"] is False, result
        envelope = result["structuredContent"]
        assert json.loads(result["content"][0]["text"]) == envelope
        self.assert_success(envelope)

    def test_every_null_has_a_data_gap(self, world, superuser):
        envelope = execute_tool(self.tool_name, self.arguments(world), user=superuser, channel="api")
        self.assert_success(envelope)
        unexplained = unexplained_nulls(envelope, self.nullable_without_gap)
        silent = {
            _normalise(p) for p in unexplained if not any(_matches(p, k) for k in self.known_silent_gaps)
        }
        assert not silent, f"null values without a data gap (TOOLS §0.6): {sorted(silent)}"
        fixed = [k for k in self.known_silent_gaps if not any(_matches(p, k) for p in unexplained)]
        assert fixed == [], "these silent gaps are fixed: remove them from known_silent_gaps"

    def test_wrong_scope_is_refused(self, world, client, django_user_model):
        wrong = ("write",) if self.spec.read_only else ("read",)
        token = self.caller(django_user_model, scopes=wrong)
        timeline_rows = TimelineEvent.objects.count()
        response = rest_call(client, self.tool_name, self.arguments(world), token=token)
        assert response.status_code == 403, response.content[:500]
        assert response.json()["error"]["code"] == "PERMISSION_DENIED"
        assert f"'{self.spec.scope}' scope" in response.json()["error"]["message"]
        assert TimelineEvent.objects.count() == timeline_rows

    def test_missing_permission_is_refused(self, world, client, django_user_model):
        others = [a for a in APPS if a != self.spec.app_label]
        user = user_with_app_perms(django_user_model, "outsider", others)
        other_codename = "mcp_write" if self.spec.read_only else "mcp_read"  # the permission it does not need
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=self.spec.app_label, codename=other_codename)
        )
        token = make_token(user, ("read", "write"))
        timeline_rows = TimelineEvent.objects.count()
        response = client.post(
            f"/api/v1/tools/{self.tool_name}/",
            data=json.dumps(self.arguments(world)),
            content_type="application/json",
            **auth(token),
        )
        assert response.status_code == 403, response.content[:500]
        assert response.json()["error"]["code"] == "PERMISSION_DENIED"
        assert self.spec.permission in response.json()["error"]["message"]
        assert TimelineEvent.objects.count() == timeline_rows

    def _queries(self, accounts: int, user) -> int:
        with transaction.atomic():
            world = self.build_world(accounts)
            first = execute_tool(self.tool_name, self.arguments(world), user=user, channel="api")
            assert first["status"] == "success", first
            with CaptureQueriesContext(connection) as queries:
                second = execute_tool(self.tool_name, self.repeat_arguments(world), user=user, channel="api")
            assert second["status"] == "success", second
            transaction.set_rollback(True)
        return len(queries)

    def test_query_count_does_not_grow_with_accounts(self, db, superuser):
        small = self._queries(self.accounts, superuser)
        large = self._queries(self.accounts * 3, superuser)
        assert large <= small + self.extra_queries_allowed, (
            f"{self.tool_name}: {small} queries with {self.accounts} accounts, "
            f"{large} with {self.accounts * 3}"
        )
