"""Typed tool results: the shapes every tool shares, and the envelope schema generated from a tool's result type.

A tool declares what it returns as its return annotation: a ``TypedDict`` that subclasses :class:`ToolResult`
(read-only tools) or :class:`MutatingResult` (mutating tools), or a union of such types when the result depends on
an ``action``. The registry turns that annotation into the tool's ``outputSchema`` (MCP ``tools/list``, the REST
tool list and ``docs/api``) with :func:`envelope_schema`: the success envelope (``status: "success"`` plus the
declared keys) or the failure envelope of TOOLS §0.2. Every object with declared keys is closed
(``additionalProperties: false``), so a key that a tool adds, drops or renames fails validation instead of reaching
clients unnoticed. Shapes that TOOLS.md leaves open stay ``dict[str, Any]``.

TypedDicts (not pydantic models) because the tool functions and the selectors behind them build plain dicts: the
annotation describes what they return, and the check runs on the JSON a client receives (:func:`result_errors`),
which is what an MCP client validates ``structuredContent`` against.

Plumbing: this module knows no domain app. The domain shapes live in ``<app>/results.py``.
"""

import copy
from functools import cache
from typing import Any, Literal, NotRequired

from jsonschema import Draft202012Validator
from pydantic import TypeAdapter
from typing_extensions import TypedDict

GapReason = Literal[
    "no_usage_events",
    "no_engagement_events",
    "no_survey_responses",
    "no_invoices",
    "no_seat_data",
    "no_contract",
    "no_csm",
    "no_contact_email",
    "insufficient_history",
    "peer_group_too_small",
    "raw_events_expired",
    "no_session_ids",
    "integration_not_configured",
    "integration_stale",
    "tracking_unavailable",
    "gross_margin_not_configured",
    "no_churn_observed",
    "no_losses",
    "no_catalogue",
    "no_industry_framework",
    "no_active_churn_model",
    "no_score",
    "no_recipients_configured",
    "not_enough_data",
    "not_applicable",
]
"""The data-gap reason codes of RULES §15.2 (a code outside this list is a contract violation)."""

Priority = Literal["critical", "high", "medium", "low"]


class DataGap(TypedDict):
    """RULES §15.2: why a value is ``null``; ``field`` is the dotted path of the null value."""

    field: str
    reason: GapReason
    detail: str


class Finding(TypedDict):
    """TOOLS §0.6: the only content of insights / recommendations / recommended_actions / next_steps …"""

    rule_id: str
    title: str
    action: str
    priority: Priority
    evidence: dict[str, Any]
    tool_hint: NotRequired[str]


class PeerGroup(TypedDict):
    dimension: str
    value: str | None
    size: int


class Benchmark(TypedDict):
    """RULES §15.1: a value against peers of this portfolio (quartiles null below the minimum peer count)."""

    metric: str
    value: float | None
    peer_group: PeerGroup
    percentile: int | None
    peer_p25: float | None
    peer_median: float | None
    peer_p75: float | None


class ToolResult(TypedDict):
    """Keys every successful tool result carries (the registry adds ``status``)."""

    data_gaps: list[DataGap]
    message: NotRequired[str]


class MutatingResult(ToolResult):
    """Mutating tools also name their primary audit event; ``null`` when the call changed nothing."""

    audit_event_id: str | None


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"const": "failed"},
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
            },
            "required": ["code", "message"],
            "additionalProperties": False,
        },
    },
    "required": ["status", "error"],
    "additionalProperties": False,
}

GENERIC_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["success", "failed"]},
        "data_gaps": {"type": "array", "items": {"type": "object"}},
        "error": ERROR_SCHEMA["properties"]["error"],
    },
    "required": ["status"],
    "additionalProperties": True,
}
"""The envelope of a tool that declares no result type (test tools): only the envelope keys are known."""


def _close_objects(node: Any) -> None:
    """``additionalProperties: false`` on every object schema with declared keys that does not say otherwise."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_objects(value)
    elif isinstance(node, list):
        for value in node:
            _close_objects(value)


def _success_variants(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The root object(s) of a result schema, inlined so that ``status`` can be added to each."""
    roots = schema["anyOf"] if "anyOf" in schema and "properties" not in schema else [schema]
    variants = []
    for root in roots:
        ref = root.get("$ref", "")
        body = copy.deepcopy(defs[ref.split("/")[-1]] if ref else root)
        body.pop("$defs", None)
        body["properties"] = {"status": {"const": "success"}, **body.get("properties", {})}
        body["required"] = ["status", *body.get("required", [])]
        variants.append(body)
    return variants


@cache
def envelope_schema(result_type: Any) -> dict[str, Any]:
    """The outputSchema of a tool returning ``result_type``: its success envelope(s) or the failure envelope."""
    if result_type is None:
        return copy.deepcopy(GENERIC_ENVELOPE)
    schema = TypeAdapter(result_type).json_schema(mode="serialization")
    defs = schema.pop("$defs", {})
    out: dict[str, Any] = {"type": "object", "anyOf": [*_success_variants(schema, defs), ERROR_SCHEMA]}
    if defs:
        out["$defs"] = defs
    _close_objects(out)
    return out


@cache
def _validator(result_type: Any) -> Draft202012Validator:
    return Draft202012Validator(envelope_schema(result_type))


def _describe(error) -> str:
    """The innermost reasons of a validation error, in the union branch that comes closest to matching.

    ``X | None`` or a union of shapes would otherwise say only "is not valid under any of the given schemas".
    """
    errors = [error]
    while len(errors) == 1 and errors[0].context:
        branches: dict[Any, list] = {}
        for sub in errors[0].context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        closest = [b for b in branches.values() if not any(e.validator_value == "null" for e in b)]
        errors = min(closest or branches.values(), key=len)[:3]
    return "; ".join(f"{_path(e.absolute_path)}: {e.message[:200]}" for e in errors)


def _path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def result_errors(result_type: Any, envelope: dict[str, Any], limit: int = 10) -> list[str]:
    """Where the JSON ``envelope`` breaks the schema of ``result_type`` (empty when it conforms).

    A failure envelope is checked against the failure shape; a success envelope against the success variant(s),
    so the messages name the offending key rather than "not valid under any of the given schemas".
    """
    schema = envelope_schema(result_type)
    if result_type is None:
        validator = _validator(None)
    elif envelope.get("status") == "failed":
        validator = Draft202012Validator(ERROR_SCHEMA)
    else:
        variants = schema["anyOf"][:-1]  # the last variant is the failure envelope
        best: list[str] | None = None
        for variant in variants:
            validator = Draft202012Validator({**variant, "$defs": schema.get("$defs", {})})
            errors = [_describe(e) for e in validator.iter_errors(envelope)]
            if not errors:
                return []
            if best is None or len(errors) < len(best):
                best = errors
        return sorted(best or [])[:limit]
    return sorted(_describe(e) for e in validator.iter_errors(envelope))[:limit]


class ResultSchemaError(AssertionError):
    """A tool returned a result that breaks its declared type (raised only where settings ask for it)."""
