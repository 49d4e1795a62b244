"""The tool registry: a tool is declared once, as a typed function, and served by every doorway.

Declare a tool in ``<app>/tools.py``::

    @tool(name="list_clients", category="core", title="List clients", read_only=True)
    def list_clients(
        ctx: ToolContext,
        *,
        tier_filter: Annotated[enum_of(Tier) | None, Field(description="Product tier")] = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
    ) -> dict[str, Any]:
        return selectors.clients_list(tier=tier_filter, limit=limit)

From that single declaration come the MCP tool (``cs_project.core.mcp``), the REST mirror
(``cs_project.core.api``) and the generated reference in ``docs/api``. Both doorways call
:func:`execute_tool`, so validation, permission checks, errors and the envelope are identical.
"""

import copy
import inspect
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, create_model, model_validator

from .access_log import access_record
from .context import Actor
from .errors import InternalError, InvalidParameter, ToolError
from .permissions import READ_SCOPE, WRITE_SCOPE, app_permission, authorise
from .results import GENERIC_ENVELOPE, ResultSchemaError, envelope_schema, result_errors
from .types import bounded, printable_path, strict_annotation, unstorable_arguments

logger = logging.getLogger("cs.tools")

CATEGORY_APP = {
    "core": "customers",
    "onboarding": "onboarding",
    "health": "health",
    "retention": "retention",
    "communication": "communication",
    "support": "support",
    "expansion": "expansion",
    "feedback": "feedback",
}


def enum_of(choices) -> Any:
    """A ``Literal`` of a TextChoices' values, so the JSON schema carries the enum (defined once)."""
    return Literal[tuple(choices.values)]


@dataclass(frozen=True)
class ToolContext:
    """What a tool function knows about its call: the acting user and the doorway."""

    actor: Actor
    tool_name: str
    request_id: str


@dataclass
class ToolSpec:
    name: str
    category: str
    title: str
    description: str
    fn: Callable[..., dict[str, Any]]
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool
    arg_model: type[BaseModel] = field(repr=False)
    result_type: Any = field(default=None, repr=False)

    @property
    def app_label(self) -> str:
        return CATEGORY_APP[self.category]

    @property
    def permission(self) -> str:
        return app_permission(self.app_label, write=not self.read_only)

    @property
    def scope(self) -> str:
        """Token scope needed: ``read`` for read-only tools, ``write`` for mutating ones."""
        return READ_SCOPE if self.read_only else WRITE_SCOPE

    def input_schema(self) -> dict[str, Any]:
        schema = self.arg_model.model_json_schema()
        schema.pop("title", None)
        schema["additionalProperties"] = False
        return schema

    def output_schema(self) -> dict[str, Any]:
        """The envelope schema generated from the tool's result type (TOOLS §0.2; generic without one)."""
        return copy.deepcopy(envelope_schema(self.result_type))

    def annotations(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "readOnlyHint": self.read_only,
            "destructiveHint": self.destructive,
            "idempotentHint": self.idempotent,
            "openWorldHint": self.open_world,
        }


OUTPUT_SCHEMA: dict[str, Any] = GENERIC_ENVELOPE
"""The envelope of a tool without a declared result type; typed tools publish ``ToolSpec.output_schema()``."""

_REGISTRY: dict[str, ToolSpec] = {}


class ToolJSONEncoder(DjangoJSONEncoder):
    """Money and rates leave as JSON numbers (Decimal would otherwise become a string)."""

    def default(self, o):
        if isinstance(o, Decimal):
            return float(o)
        return super().default(o)


def _build_arg_model(name: str, fn: Callable) -> type[BaseModel]:
    """The pydantic model of a tool's arguments: the declared types, made strict and storable.

    Every scalar becomes strict (``true`` is no integer, ``"1e5"`` no number; dates stay ISO strings), every
    value is bounded to what PostgreSQL stores (:mod:`cs_project.core.types`), and a model-wide check rejects
    NUL bytes, lone surrogates and non-finite or oversized numbers anywhere in the arguments, nested values
    included. The published JSON schema is the declared one."""
    fields: dict[str, Any] = {}
    signature = inspect.signature(fn)
    for index, (param_name, param) in enumerate(signature.parameters.items()):
        if index == 0:
            continue  # the ToolContext
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"tool {name}: parameter {param_name} must be keyword-only")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param_name] = (
            Annotated[strict_annotation(param.annotation), AfterValidator(bounded)],
            default,
        )
    return create_model(
        f"{name}_arguments",
        __config__=ConfigDict(extra="forbid", strict=False),  # strict per scalar: dates stay ISO text
        __validators__={"storable": model_validator(mode="before")(_storable)},
        **fields,
    )


def _storable(cls, data: Any) -> Any:
    return unstorable_arguments(data)


def _result_type(name: str, fn: Callable) -> Any:
    """The declared result type (a TypedDict, or a union of them); ``None`` for ``dict[str, Any]``.

    Its schema is built here, at registration, so a malformed result type fails at import, not on a call.
    """
    annotation = inspect.signature(fn, eval_str=True).return_annotation
    if annotation is inspect.Signature.empty or annotation == dict[str, Any] or annotation is dict:
        return None
    try:
        envelope_schema(annotation)
    except Exception as exc:
        raise TypeError(f"tool {name}: return annotation {annotation!r} gives no JSON schema: {exc}") from exc
    return annotation


def tool(
    *,
    name: str,
    category: str,
    title: str,
    read_only: bool,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = False,
    description: str | None = None,
):
    """Register a tool. The docstring's first paragraph is the description unless one is given."""
    if category not in CATEGORY_APP:
        raise ValueError(f"unknown tool category {category!r}")

    def decorator(fn: Callable[..., dict[str, Any]]):
        if name in _REGISTRY:
            raise ValueError(f"tool name {name!r} registered twice")
        text = description or inspect.getdoc(fn) or ""
        result_type = _result_type(name, fn)
        _REGISTRY[name] = ToolSpec(
            name=name,
            category=category,
            title=title,
            description=text.strip(),
            fn=fn,
            read_only=read_only,
            destructive=False if read_only else destructive,
            idempotent=True if read_only else idempotent,
            open_world=open_world,
            arg_model=_build_arg_model(name, fn),
            result_type=result_type,
        )
        return fn

    return decorator


_tools_loaded = False


def load_tools() -> None:
    """Import every app's ``tools`` module so that its declarations register (once per process)."""
    global _tools_loaded
    if _tools_loaded:
        return
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tools")
    _tools_loaded = True


def all_tools() -> list[ToolSpec]:
    load_tools()
    return sorted(_REGISTRY.values(), key=lambda spec: (spec.category, spec.name))


def get_tool(name: str) -> ToolSpec | None:
    load_tools()
    return _REGISTRY.get(name)


# --- execution: the one path shared by MCP and REST -------------------------------------------------


def _validation_error(exc: ValidationError) -> InvalidParameter:
    # No input in the rendering: pydantic cannot render text with lone surrogates (that is what we refuse).
    first = exc.errors(include_url=False, include_input=False)[0]
    loc = ".".join(str(part) if not isinstance(part, int) else f"[{part}]" for part in first["loc"])
    loc = loc.replace(".[", "[")
    if first["type"] == "unstorable_value":  # the model-wide check knows the nested path
        loc = first["ctx"]["field"]
    elif first["type"] == "value_out_of_range" and first["ctx"]["subpath"]:
        subpath = first["ctx"]["subpath"]
        loc = f"{loc}{subpath}" if subpath.startswith("[") else f"{loc}.{subpath}"
    loc = printable_path(loc)
    if first["type"] == "extra_forbidden":
        message = f"Unknown parameter '{loc}'."
    elif first["type"] == "missing":
        message = f"Missing required parameter '{loc}'."
    else:
        message = f"Invalid value for '{loc}': {first['msg']}."
    return InvalidParameter(message, field=loc or None)


def check_permission(spec: ToolSpec, user, scopes: frozenset[str] | None) -> None:
    """A call needs the user's per-app permission and, for token calls, a scope that allows it."""
    authorise(user=user, scopes=scopes, scope=spec.scope, permission=spec.permission, subject=spec.name)


def execute_tool(
    name: str,
    arguments: Any,
    *,
    user,
    channel: str,
    scopes: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Validate, authorise, run and shape one tool call; never raises, always returns the envelope."""
    started = time.monotonic()
    request_id = uuid.uuid4().hex
    spec = get_tool(name)
    outcome = "success"
    try:
        if spec is None:
            raise InvalidParameter(f"Unknown tool '{name}'.", field="name")
        check_permission(spec, user, scopes)
        if not isinstance(arguments, dict):
            raise InvalidParameter("Arguments must be a JSON object.")
        try:
            parsed = spec.arg_model.model_validate(arguments)
        except ValidationError as exc:
            raise _validation_error(exc) from None
        kwargs = {key: getattr(parsed, key) for key in spec.arg_model.model_fields}
        ctx = ToolContext(
            actor=Actor.for_user(user, channel=channel, tool=name),
            tool_name=name,
            request_id=request_id,
        )
        payload = spec.fn(ctx, **kwargs)
        result = {"status": "success", **payload}
        result.setdefault("data_gaps", [])
        if not spec.read_only:
            result.setdefault("audit_event_id", None)
    except ToolError as exc:
        outcome = exc.code
        result = exc.envelope()
    except Exception:
        logger.exception("tool %s failed (reference %s)", name, request_id)
        outcome = "INTERNAL"
        result = InternalError(
            f"An internal error occurred; reference {request_id}. Details are in the server log."
        ).envelope()
    _record_call(
        tool=name,
        user=user,
        channel=channel,
        arguments=arguments,
        outcome=outcome,
        duration_ms=int((time.monotonic() - started) * 1000),
        request_id=request_id,
        audit_event_id=result.get("audit_event_id"),
    )
    envelope = json.loads(json.dumps(result, cls=ToolJSONEncoder))
    if spec is not None and outcome == "success":
        check_result(spec, envelope)
    return envelope


def check_result(spec: ToolSpec, envelope: dict[str, Any]) -> None:
    """Compare a result with the tool's declared schema, as ``CS_TOOL_RESULT_CHECK`` says.

    ``off`` (default in production): nothing. ``log`` (default with DEBUG): an ERROR log line naming the tool and
    the offending keys. ``raise`` (the test suite): :class:`ResultSchemaError`, so a test fails on the spot.
    """
    mode = getattr(settings, "CS_TOOL_RESULT_CHECK", None) or ("log" if settings.DEBUG else "off")
    if mode == "off" or spec.result_type is None:
        return
    errors = result_errors(spec.result_type, envelope)
    if not errors:
        return
    message = f"tool {spec.name} returned a result that breaks its declared schema: " + "; ".join(errors)
    if mode == "raise":
        raise ResultSchemaError(message)
    logger.error(message)


def _record_call(**call) -> None:
    """Record the call in the access log (TOOLS §0.5): no lock, no audit event, not in the hash chain.

    A read-only call thus writes no audit row; a mutation's own chained events are written by its service.
    A failure to insert the row never changes the call's answer (the log line is already written)."""
    try:
        access_record(**call)
    except Exception:
        logger.exception("could not record tool call %s in the access log", call.get("tool"))
