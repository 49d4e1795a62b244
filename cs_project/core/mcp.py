"""MCP doorway: every registry tool published on django-mcp-server's global FastMCP, and the /mcp view.

django-mcp-server autodiscovers this module (``<app>.mcp``) at start-up. :func:`register_tools` imports
every ``<app>.tools`` module, then adds each registry tool to the FastMCP tool manager with our own
schemas and annotations. A tool call never reaches pydantic or the tool function directly: the Tool's
``fn_metadata`` is replaced by :class:`EnvelopeFuncMetadata`, which calls
:func:`cs_project.core.registry.execute_tool` (channel ``mcp``) with the Django request's user and token
scopes, and turns the envelope into a ``CallToolResult`` (``structuredContent`` = envelope, one text item
with the same JSON, ``isError`` when ``status == "failed"``). A ``tools/call`` naming no registry tool gets
the REST answer's ``NOT_FOUND`` envelope (:func:`call_tool`), not the SDK's text-only error.
"""

import json
import logging
import threading
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from drf_spectacular.utils import extend_schema
from mcp.server.fastmcp.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from mcp_server import mcp_server as global_mcp_server
from mcp_server.djangomcp import django_request_ctx
from mcp_server.views import MCPServerStreamableHttpView
from rest_framework.permissions import IsAuthenticated

from .api import LimitedJSONParser, unknown_tool
from .auth import BearerTokenAuthentication, TokenRateThrottle
from .errors import InternalError
from .permissions import token_scopes
from .registry import ToolSpec, all_tools, execute_tool, get_tool, load_tools

logger = logging.getLogger("cs.mcp")

_lock = threading.Lock()
_registered: dict[str, ToolSpec] = {}


def envelope_result(envelope: dict[str, Any]) -> CallToolResult:
    """The MCP shape of an envelope (TOOLS §0.1 "MCP result")."""
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(envelope, ensure_ascii=False))],
        structuredContent=envelope,
        isError=envelope.get("status") == "failed",
    )


def _call_from_request(name: str, arguments: Any) -> dict[str, Any]:
    """Runs on the request's thread (thread-sensitive), so the ORM uses the request's connection."""
    request = django_request_ctx.get(None)
    user = getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    scopes = token_scopes(request) if request is not None else frozenset()
    return execute_tool(name, arguments, user=user, channel="mcp", scopes=scopes)


class EnvelopeFuncMetadata(FuncMetadata):
    """Skips FastMCP's pydantic validation: the registry validates, authorises and runs the call."""

    tool_name: str

    async def call_fn_with_arg_validation(
        self, fn, fn_is_async, arguments_to_validate, arguments_to_pass_directly
    ) -> Any:
        try:
            return await sync_to_async(_call_from_request, thread_sensitive=True)(
                self.tool_name, arguments_to_validate
            )
        except Exception:  # execute_tool never raises; this guards the plumbing around it
            reference = uuid.uuid4().hex
            logger.exception("MCP call of %s failed (reference %s)", self.tool_name, reference)
            return InternalError(
                f"An internal error occurred; reference {reference}. Details are in the server log."
            ).envelope()

    def convert_result(self, result: Any) -> Any:
        return envelope_result(result)


def _add(spec: ToolSpec) -> None:
    manager = global_mcp_server._tool_manager

    async def _placeholder() -> None:  # never called: EnvelopeFuncMetadata ignores fn
        return None

    if spec.name in manager._tools:
        manager.remove_tool(spec.name)
    mcp_tool = manager.add_tool(
        _placeholder,
        name=spec.name,
        title=spec.title,
        description=spec.description,
        annotations=ToolAnnotations(**spec.annotations()),
        structured_output=False,
    )
    mcp_tool.fn_metadata = EnvelopeFuncMetadata(
        arg_model=mcp_tool.fn_metadata.arg_model,
        output_schema=spec.output_schema(),
        tool_name=spec.name,
    )
    mcp_tool.__dict__.pop("output_schema", None)  # drop a cached value computed from the placeholder
    mcp_tool.parameters = spec.input_schema()


def register_tools() -> int:
    """Publish every registry tool not yet published (idempotent; cheap when nothing changed).

    Called at start-up (autodiscovery) and before each /mcp request, so tools registered later in the
    process (for example by tests) are served too. Returns the number of tools added.
    """
    load_tools()
    specs = all_tools()
    if all(_registered.get(spec.name) is spec for spec in specs):
        return 0
    added = 0
    with _lock:
        for spec in specs:
            if _registered.get(spec.name) is not spec:
                _add(spec)
                _registered[spec.name] = spec
                added += 1
    return added


async def call_tool(name: str, arguments: dict[str, Any]) -> Any:
    """The ``tools/call`` handler: FastMCP's, except for a name the registry does not hold, which is answered
    with the same ``NOT_FOUND`` envelope (``field: name``) as ``POST /api/v1/tools/<name>/``."""
    if get_tool(name) is None:
        return envelope_result(unknown_tool(name).envelope())
    return await global_mcp_server.call_tool(name, arguments)


# Replaces the handler FastMCP registered (validate_input=False as FastMCP does: the registry validates).
global_mcp_server._mcp_server.call_tool(validate_input=False)(call_tool)

MCP_ACCEPT = "application/json, text/event-stream"


def accept_json_by_default(request) -> None:
    """Treat a missing ``Accept``, ``*/*`` (curl's default) or ``application/*`` as accepting JSON.

    The MCP library answers 406 unless ``application/json`` is named literally; a client that accepts anything
    does accept JSON. An ``Accept`` that names only other types (``text/html``) still gets 406.
    """
    django_request = getattr(request, "_request", request)
    accept = django_request.META.get("HTTP_ACCEPT", "")
    types = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    if not types or any(media_type in ("*/*", "application/*") for media_type in types):
        django_request.META["HTTP_ACCEPT"] = MCP_ACCEPT
        django_request.__dict__.pop("headers", None)  # HttpRequest.headers is cached from META


class MCPView(MCPServerStreamableHttpView):
    """/mcp: Bearer token required (401 otherwise), throttled per token, POST only.

    GET would open a server-sent-event stream that the library never closes (a thread spinning forever),
    so GET and DELETE are refused with 405 before reaching the library (the spec allows both; the server is
    stateless, so there is no session to delete).
    """

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [TokenRateThrottle]
    parser_classes = [LimitedJSONParser]
    http_method_names = ["post", "options"]

    def initial(self, request, *args, **kwargs):
        if request.method not in ("POST", "OPTIONS"):
            # Refuse before authentication: never hand GET to the library, and answer it immediately.
            self.http_method_not_allowed(request, *args, **kwargs)
        accept_json_by_default(request)  # before DRF's content negotiation, which also reads Accept
        super().initial(request, *args, **kwargs)

    @extend_schema(exclude=True)  # JSON-RPC, not REST: documented in docs/architecture/tool-layer.md
    def post(self, request, *args, **kwargs):
        register_tools()
        try:
            return super().post(request, *args, **kwargs)
        finally:
            # asgiref copies context variables back into this (reused) worker thread: forget the request so
            # that nothing running later on this thread can act as this request's user.
            django_request_ctx.set(None)


register_tools()
