"""Hostile values through every registered tool's input schema, in-process and over REST (issue 8, defect 9).

For each tool, each parameter gets the values an outside fuzzer sends (NUL bytes, lone surrogates, 10k-char
text, 2^63, 1e308, NaN, ``true`` for an integer, ``"1e5"`` for a number, a list or object for a scalar,
9999-12-31 / 0001-01-01 for dates, unknown keys), plus nested hostile values for the object parameters. Every
call ends in success or a clear error (code, message and, for INVALID_PARAMETER, the field) — never INTERNAL,
never a 5xx — and a failed mutating call leaves every business table as it was.

PostgreSQL is where these values used to crash (NUL and surrogates in text, integers and dates beyond the
column types), so the module requires it under CI (``DATABASE_URL``) and skips on SQLite locally.
"""

import json
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from pydantic import ValidationError

from cs_project.core.registry import _validation_error, all_tools, execute_tool, get_tool
from tests.conftest import require_service
from tests.core.helpers import MCP_ACCEPT, auth, make_token, mcp_call
from tests.customers.factories import ClientFactory

pytestmark = pytest.mark.django_db

CLIENT = "acme_hostile"
NAN = float("nan")

# Valid arguments for the required parameters, so that a hostile value in one parameter is what is judged.
REQUIRED = {
    "client_id": CLIENT,
    "client_name": "Acme",
    "company_name": "Acme Inc",
    "updates": {"industry": "Retail"},
    "period_start": "2026-01-01",
    "period_end": "2026-01-31",
    "segmentation_type": "health_based",
    "criteria": {},
    "segmentation_criteria": {"primary_dimension": "arr"},
    "text": "hello",
    "note": "a note",
}

SCALAR_HOSTILE: list[Any] = [
    "nul\x00byte",
    "lone \ud800 surrogate",
    "x" * 10_000,
    2**63,
    1e308,
    NAN,
    True,
    "1e5",
    [1],
    {"a": 1},
]
INTEGER_HOSTILE: list[Any] = [2**31, -(2**63), 1.5]
DATE_HOSTILE: list[Any] = ["9999-12-31", "0001-01-01", "2026-02-30", "2026-01-01T00:00:00Z", 20260101]

# Nested hostile values for the object and list parameters, by parameter name.
FILTERS = [
    {"all": [{"field": ["tier"], "op": "=", "value": "a"}]},
    {"all": [{"field": {"x": 1}, "op": "=", "value": "a"}]},
    {"all": [{"field": "tier", "op": ["="], "value": "a"}]},
    {"all": [{"field": "tier", "op": {"=": 1}, "value": "a"}]},
    {"all": [{"field": "health_score", "op": ">", "value": 2**31}]},
    {"all": [{"field": "mau", "op": ">=", "value": 2**63}]},
    {"all": [{"field": "contract_value", "op": ">", "value": 1e308}]},
    {"all": [{"field": "days_until_renewal", "op": "<", "value": 2**31 - 1}]},
    {"all": [{"field": "days_until_renewal", "op": "in", "value": [10**6, -(10**6)]}]},
    {"all": [{"field": "industry", "op": "=", "value": "a\x00b"}]},
    {"any": [{"field": "industry", "op": "contains", "value": "\udfff"}]},
]
NESTED_HOSTILE: dict[str, list[Any]] = {
    "updates": [
        {"client_name": "a\x00b"},
        {"company_name": "\ud800"},
        {"industry": "x" * 10_000},
        {"contract_value": 1e308},
        {"contract_value": 2**63},
        {"contract_value": "1e5"},
        {"contract_start_date": "9999-12-31"},
        {"contract_end_date": "0001-01-01"},
        {"contract_start_date": "2026-01-01", "contract_end_date": "9999-12-31"},
        {"tier": ["enterprise"]},
        {"status": {"a": 1}},
        {"csm_assigned": "nobody\x00"},
        {"primary_contact_email": "a\ud800@example.com"},
        {"primary_contact_name": True},
        {"nul\x00key": 1},
    ],
    "criteria": [{"population_filter": f} for f in FILTERS]
    + [
        {"segments": [{"name": "a\x00", "filter": {"all": []}}]},
        {"segments": [{"name": "\ud800", "filter": {"all": []}}]},
        {"segments": [{"name": "x" * 10_000, "filter": {"all": []}}]},
        {"segments": [{"name": ["x"], "filter": {"all": []}}]},
        {"segments": "all"},
    ],
    "segmentation_criteria": [{"primary_dimension": "arr", "population_filter": f} for f in FILTERS]
    + [{"primary_dimension": ["arr"]}, {"primary_dimension": "arr", "secondary_dimensions": [{"a": 1}]}],
    "tier_definitions": [
        [{"name": "a\x00", "min": 0}],
        [{"name": "VIP", "min": 1e308}],
        [{"name": "VIP", "min": 2**63}],
        [{"name": "VIP", "min": "1e5"}],
        [{"name": ["VIP"], "min": 0}],
        [{"name": "VIP", "min": 0, "max": -1e308}],
    ],
    "scope_filter": [
        {"client_id": ["x"]},
        {"client_id": "a\x00"},
        {"segment_id": {"a": 1}},
        {"segment_id": "\ud800"},
        *FILTERS,
    ],
    "component_weights": [
        {"usage_weight": 1e308},
        {"usage_weight": True},
        {"usage_weight": "0.2"},
        {
            "usage_weight": 2**63,
            "engagement_weight": 0,
            "support_weight": 0,
            "satisfaction_weight": 0,
            "payment_weight": 0,
        },
    ],
    "custom_milestones": [
        [
            {
                "id": "a\x00",
                "name": "n",
                "typical_days": 3,
                "importance": "high",
                "category": "x",
                "criterion": {},
            }
        ],
        [
            {
                "id": "m",
                "name": "n",
                "typical_days": 2**63,
                "importance": "high",
                "category": "x",
                "criterion": {},
            }
        ],
        [
            {
                "id": "m",
                "name": "n",
                "typical_days": 1e308,
                "importance": "high",
                "category": "x",
                "criterion": {},
            }
        ],
        [
            {
                "id": ["m"],
                "name": {"a": 1},
                "typical_days": True,
                "importance": [],
                "category": 1,
                "criterion": 2,
            }
        ],
    ],
    "options": [{"level": 2**63}, {"level": "a\x00"}, {"level": True}],
}


def _has(schema: dict, kind: str) -> bool:
    options = schema.get("anyOf", [schema])
    return any(o.get("type") == kind or (kind == "date" and o.get("format") == "date") for o in options)


def hostile_cases(spec) -> list[tuple[str, dict[str, Any]]]:
    """(label, arguments) for one tool: each parameter in turn gets each hostile value, the others valid."""
    schema = spec.input_schema()
    props = schema.get("properties", {})
    missing = [name for name in schema.get("required", []) if name not in REQUIRED]
    if missing:
        pytest.fail(f"{spec.name}: add a valid value for {missing} to REQUIRED in this module")
    base = {name: REQUIRED[name] for name in schema.get("required", [])}
    cases: list[tuple[str, dict[str, Any]]] = [
        ("valid", dict(base)),
        ("unknown key", {**base, "zz_unknown": 1}),
        ("NUL key", {**base, "zz\x00": 1}),
        ("surrogate key", {**base, "\udc00": 1}),
        ("10k key", {**base, "k" * 10_000: 1}),
    ]
    for name in props:
        extra = (INTEGER_HOSTILE if _has(props[name], "integer") else []) + (
            DATE_HOSTILE if _has(props[name], "date") else []
        )
        for value in SCALAR_HOSTILE + extra:
            cases.append((f"{name}={value!r:.40}", {**base, name: value}))
        for value in NESTED_HOSTILE.get(name, []):
            cases.append((f"{name}={value!r:.60}", {**base, name: value}))
        if _has(props[name], "array"):
            cases.append((f"{name}=[hostile items]", {**base, name: ["a\x00", 2**63, NAN, None, ["x"]]}))
    return cases


@pytest.fixture
def world(superuser):
    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    ClientFactory(client_id=CLIENT)
    return superuser


def _table_counts() -> dict[str, int]:
    """Row counts of every business table in one query (the audit chain and access logs record calls)."""
    tables = sorted(
        m._meta.db_table
        for m in apps.get_models()
        if m._meta.app_label in BUSINESS_APPS
        and m._meta.label != "customers.AuditEvent"
        and "access" not in m._meta.model_name
        and m._meta.managed
        and not m._meta.proxy
    )
    select = ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {select}")
        return dict(zip(tables, cur.fetchone(), strict=True))


BUSINESS_APPS = {
    "customers",
    "health",
    "onboarding",
    "retention",
    "communication",
    "support",
    "expansion",
    "feedback",
}


def _judge(label: str, envelope: dict, problems: list[str], http_status: int | None = None) -> None:
    where = f"{label} [{'in-process' if http_status is None else f'REST {http_status}'}]"
    if http_status is not None and http_status >= 500:
        problems.append(f"{where}: HTTP {http_status} {envelope}")
        return
    if envelope.get("status") == "success":
        return
    error = envelope.get("error") or {}
    if (
        envelope.get("status") != "failed"
        or error.get("code") in (None, "INTERNAL")
        or not error.get("message")
    ):
        problems.append(f"{where}: {envelope}")
    elif error["code"] == "INVALID_PARAMETER" and not error.get("field"):
        problems.append(f"{where}: INVALID_PARAMETER without field: {error}")


TOOL_NAMES = sorted(spec.name for spec in all_tools() if spec.name != "test_boom")


@pytest.mark.parametrize("tool_name", TOOL_NAMES)
def test_hostile_arguments_never_crash_nor_write(tool_name, world, client):
    spec = get_tool(tool_name)
    token = make_token(world, ("read", "write"))
    problems: list[str] = []
    for label, args in hostile_cases(spec):
        before = None if spec.read_only else _table_counts()
        envelope = execute_tool(tool_name, args, user=world, channel="api")
        _judge(label, envelope, problems)
        if before is not None and envelope["status"] == "failed" and _table_counts() != before:
            problems.append(f"{label} [in-process]: failed but wrote rows")
        if label == "valid" and envelope["status"] != "success":
            problems.append(f"valid arguments failed: {envelope}")
        # Over REST the same arguments as JSON: NaN is not JSON (the strict parser answers 400 itself).
        body = json.dumps(args)
        before = None if spec.read_only else _table_counts()
        response = client.generic(
            "POST", f"/api/v1/tools/{tool_name}/", body, content_type="application/json", **auth(token)
        )
        try:
            payload = response.json()
        except ValueError:
            problems.append(f"{label} [REST]: not JSON (HTTP {response.status_code})")
            continue
        _judge(label, payload, problems, response.status_code)
        if before is not None and response.status_code != 200 and _table_counts() != before:
            problems.append(f"{label} [REST]: failed but wrote rows")
    assert problems == [], "\n".join(problems)


def test_hostile_values_name_the_field():
    """Known answers for the values the outside fuzz found (field and code; no database needed)."""
    cases = {
        ("list_clients", "offset"): {"offset": 2**63},
        ("list_clients", "limit"): {"limit": True},
        ("calculate_health_score", "risk_threshold"): {"client_id": "a", "risk_threshold": "1e5"},
        ("register_client", "client_name"): {"client_name": "a\x00", "company_name": "b"},
        ("update_client_info", "updates.company_name"): {
            "client_id": "a",
            "updates": {"company_name": "\ud800"},
        },
        ("track_feature_adoption", "feature_id"): {"feature_id": "f\x00"},
        ("get_client_timeline", "end_date"): {"client_id": "a", "end_date": "9999-12-31"},
        ("test_echo", "options.level"): {"text": "a", "options": {"level": True}},
        ("test_echo", "count"): {"text": "a", "count": 2**31},
        ("segment_customers", "criteria.segments[0].name"): {
            "segmentation_type": "custom",
            "criteria": {"segments": [{"name": "\udfff", "filter": {"all": []}}]},
        },
    }
    for (name, field), args in cases.items():
        with pytest.raises(ValidationError) as caught:
            get_tool(name).arg_model.model_validate(args)
        error = _validation_error(caught.value)
        assert (name, error.code, error.field) == (name, "INVALID_PARAMETER", field)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[" * 5000 + "]" * 5000, "JSON parse error - JSON nested deeper than 32 levels."),
        ('{"text": NaN}', "JSON parse error - NaN is not valid JSON (numbers must be finite)."),
        (
            '{"text": "a", "count": Infinity}',
            "JSON parse error - Infinity is not valid JSON (numbers must be finite).",
        ),
    ],
)
def test_rest_body_parser_refuses_deep_and_non_finite_json(body, message, client, superuser):
    token = make_token(superuser, ("read", "write"))
    response = client.generic(
        "POST", "/api/v1/tools/list_clients/", body, content_type="application/json", **auth(token)
    )
    assert response.status_code == 400
    error = {"code": "INVALID_PARAMETER", "message": message, "field": "body"}
    assert response.json() == {"status": "failed", "error": error}


# --- the REST resources: serializers and list pages share the same bounds ------------------------------------

ACCOUNT_HOSTILE: list[dict[str, Any]] = [
    {"client_name": "a\x00b"},
    {"company_name": "\ud800"},
    {"industry": "x" * 10_000},
    {"contract_value": 1e308},
    {"contract_value": "1e5000"},
    {"contract_start_date": "9999-12-31"},
    {"contract_start_date": "0001-01-01"},
    {"contract_end_date": "9999-12-31"},
    {"contract_start_date": "2026-01-01T00:00:00"},
    {"tier": ["enterprise"]},
    {"tier": {"a": 1}},
    {"primary_contact_name": "\udfff"},
    {"csm_assigned": "nobody\x00"},
    {"status": True},
]


def test_account_resources_refuse_hostile_bodies_and_pages(world, client):
    token = make_token(world, ("read", "write"))
    problems: list[str] = []
    valid = {"client_name": "Beta", "company_name": "Beta Inc"}
    for values in ACCOUNT_HOSTILE:
        for method, url, body in (
            ("POST", "/api/v1/accounts/", {**valid, **values}),
            ("PATCH", f"/api/v1/accounts/{CLIENT}/", values),
        ):
            before = _table_counts()
            response = client.generic(
                method, url, json.dumps(body), content_type="application/json", **auth(token)
            )
            payload = response.json()
            _judge(
                f"{method} {values!r:.60}",
                payload if response.status_code >= 300 else {"status": "success"},
                problems,
                response.status_code,
            )
            if response.status_code >= 300 and _table_counts() != before:
                problems.append(f"{method} {values!r:.60}: failed but wrote rows")
    for query in (
        "limit=9223372036854775808",
        "offset=9223372036854775808",
        "limit=0",
        "limit=-1",
        "offset=1e5",
        "limit=²",
    ):
        response = client.get(f"/api/v1/accounts/?{query}", **auth(token))
        field = query.split("=")[0]
        assert (response.status_code, response.json()["error"]["field"]) == (400, field), query
    assert client.get("/api/v1/accounts/?limit=1000&offset=2147483647", **auth(token)).status_code == 200
    for query in (
        "health_score_min=1e308",
        "health_score_min=NaN",
        "health_score_max=-9223372036854775809",
        "renewal_before=9999-12-31",
        "renewal_after=0001-01-01",
        "search=a%00b",
        "industry=%ED%A0%80",
        "tier=%00",
    ):
        response = client.get(f"/api/v1/accounts/?{query}", **auth(token))
        _judge(
            query,
            response.json() if response.status_code != 200 else {"status": "success"},
            problems,
            response.status_code,
        )
    assert problems == [], "\n".join(problems)


def test_mcp_doorway_refuses_hostile_arguments_and_bodies(world, client):
    token = make_token(world, ("read", "write"))
    for arguments, field in (
        ({"client_id": CLIENT, "updates": {"client_name": "a\ud800"}}, "updates.client_name"),
        ({"client_id": CLIENT, "updates": {"industry": "x\x00"}}, "updates.industry"),
        ({"client_id": CLIENT, "updates": {"contract_value": 2**63}}, "updates.contract_value"),
    ):
        result = mcp_call(client, "update_client_info", arguments, token=token)
        assert result["isError"] is True
        assert result["structuredContent"]["error"]["code"] == "INVALID_PARAMETER"
        assert result["structuredContent"]["error"]["field"] == field
    deep = '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ' + "[" * 5000 + "]" * 5000 + "}"
    response = client.generic(
        "POST", "/mcp", deep, content_type="application/json", HTTP_ACCEPT=MCP_ACCEPT, **auth(token)
    )
    assert response.status_code < 500
