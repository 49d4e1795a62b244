"""What a newcomer meets first (issue 8, defects 7 and 9): the API root, slash-less URLs, JSON 404s under /api/,
Swagger UI without a CDN, /mcp with curl's Accept, the unknown-tool answer and strict list parameters."""

import json

import pytest
from django.contrib.staticfiles import finders

from customers.models import Client
from tests.core.helpers import MCP_ACCEPT, auth, mcp_call, rest_call
from tests.customers.factories import ClientFactory

pytestmark = pytest.mark.django_db

UNKNOWN_TOOL = {
    "status": "failed",
    "error": {"code": "NOT_FOUND", "message": "Unknown tool 'no_such_tool'.", "field": "name"},
}


# --- the API root ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/", "/api/v1"])
def test_api_root_lists_resources_and_tools(client, url):
    response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["resources"] == {
        "accounts": "http://testserver/api/v1/accounts/",
        "contacts": "http://testserver/api/v1/contacts/",
        "contracts": "http://testserver/api/v1/contracts/",
        "events/batch": "http://testserver/api/v1/events/batch",
        "events/track": "http://testserver/api/v1/events/track",
    }
    assert body["tools"] == "http://testserver/api/v1/tools/"
    assert body["tool_call"] == "http://testserver/api/v1/tools/{name}/"
    assert body["mcp"] == "http://testserver/mcp"
    assert body["docs"] == "http://testserver/api/docs/"
    assert "docs/rules.md" in body["rules"]
    assert "Bearer" in body["authentication"]


def test_every_root_link_answers_json(client, rw_token):
    body = client.get("/api/v1/").json()
    for link in [*body["resources"].values(), body["tools"]]:
        response = client.get(link, **auth(rw_token))
        assert response.status_code in (200, 403, 405), (link, response.status_code)
        assert response["Content-Type"].startswith("application/json"), link


# --- trailing slash -----------------------------------------------------------------------------------------


def test_tool_call_without_trailing_slash_is_served(client, rw_token, settings):
    settings.DEBUG = True  # the old failure was Django's APPEND_SLASH RuntimeError page in development
    with_slash = rest_call(client, "test_echo", {"text": "Hi"}, token=rw_token)
    without = client.post(
        "/api/v1/tools/test_echo",
        data=json.dumps({"text": "Hi"}),
        content_type="application/json",
        **auth(rw_token),
    )
    assert without.status_code == 200
    assert without.json() == with_slash.json()
    assert without.json()["echo"] == ["Hi"]
    listing = client.get("/api/v1/tools", **auth(rw_token))
    assert listing.status_code == 200
    assert "test_echo" in {tool["name"] for tool in listing.json()["tools"]}


def test_resource_post_without_trailing_slash_creates(client, superuser, settings):
    from tests.core.helpers import make_token

    settings.DEBUG = True
    response = client.post(
        "/api/v1/accounts",
        data=json.dumps({"client_id": "noslash", "client_name": "N", "company_name": "N Inc"}),
        content_type="application/json",
        **auth(make_token(superuser)),
    )
    assert response.status_code == 201, response.content
    assert Client.objects.filter(client_id="noslash").exists()


def test_tool_list_says_where_rule_ids_are_defined(client, rw_token):
    body = client.get("/api/v1/tools/", **auth(rw_token)).json()
    assert (
        body["rules"] == "Rule ids in tool descriptions (RULES §n, PAT-04, ADP-04…) refer to docs/rules.md."
    )


# --- unknown URLs under /api/ ----------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/nothing/"),
        ("post", "/api/v1/nothing"),
        ("get", "/api/v2/accounts/"),
        ("get", "/api/"),
        ("get", "/api"),
        ("delete", "/api/v1/tools/test_echo/extra/"),
        ("get", "/api/v1/accounts/not%20an%20id/"),
    ],
)
def test_unknown_api_urls_are_json_404(client, settings, debug, method, url):
    settings.DEBUG = debug
    response = getattr(client, method)(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "NOT_FOUND"
    assert "/api/v1/" in body["error"]["message"]


@pytest.mark.parametrize("url", ["/api/docs", "/api/schema"])
def test_get_without_the_slash_of_a_page_is_redirected(client, url):
    response = client.get(f"{url}?format=json")
    assert response.status_code == 302
    assert response["Location"] == f"{url}/?format=json"


def test_unknown_account_is_json_404_in_development(client, superuser, settings):
    from tests.core.helpers import make_token

    settings.DEBUG = True
    response = client.get("/api/v1/accounts/ghost/", **auth(make_token(superuser)))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


# --- Swagger UI offline ---------------------------------------------------------------------------------------


def test_swagger_ui_is_served_from_local_static_files(client, staff_user):
    client.force_login(staff_user)
    html = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{asset}"), asset


# --- /mcp: Accept and unknown tools ------------------------------------------------------------------------


def _mcp_raw(client, token, accept):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = auth(token)
    if accept is not None:
        headers["HTTP_ACCEPT"] = accept
    return client.post("/mcp", data=json.dumps(body), content_type="application/json", **headers)


@pytest.mark.parametrize("accept", ["*/*", None, "", "application/*", "application/json", MCP_ACCEPT])
def test_mcp_accepts_curl_default_and_missing_accept(client, rw_token, accept):
    response = _mcp_raw(client, rw_token, accept)
    assert response.status_code == 200, response.content[:300]
    assert "test_echo" in {tool["name"] for tool in response.json()["result"]["tools"]}


def test_mcp_still_refuses_an_accept_without_json(client, rw_token):
    assert _mcp_raw(client, rw_token, "text/html").status_code == 406


def test_unknown_tool_is_the_same_not_found_envelope_over_mcp_and_rest(client, rw_token):
    rest = rest_call(client, "no_such_tool", {}, token=rw_token)
    assert rest.status_code == 404
    assert rest.json() == UNKNOWN_TOOL
    result = mcp_call(client, "no_such_tool", {}, token=rw_token)
    assert result["isError"] is True
    assert result["structuredContent"] == UNKNOWN_TOOL
    assert json.loads(result["content"][0]["text"]) == UNKNOWN_TOOL


# --- strict list parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("limit=9223372036854775808", "limit", "Must be an integer between 1 and 1000."),
        ("limit=1001", "limit", "Must be an integer between 1 and 1000."),
        ("limit=0", "limit", "Must be an integer between 1 and 1000."),
        ("limit=true", "limit", "Must be an integer between 1 and 1000."),
        ("limit=1e3", "limit", "Must be an integer between 1 and 1000."),
        ("limit=-1", "limit", "Must be an integer between 1 and 1000."),
        (
            "offset=9223372036854775808",
            "offset",
            "Must be an integer between 0 and 2147483647.",
        ),
        ("offset=-5", "offset", "Must be an integer between 0 and 2147483647."),
        ("offset=1.5", "offset", "Must be an integer between 0 and 2147483647."),
        ("health_score_min=2147483648", "health_score_min", "Must be between 0 and 32767."),
        ("health_score_max=32768", "health_score_max", "Must be between 0 and 32767."),
        ("health_score_min=-1", "health_score_min", "Must be between 0 and 32767."),
        ("health_score_max=1e308", "health_score_max", "Ensure this value is less than or equal to 1e+50."),
    ],
)
def test_out_of_range_list_parameters_are_invalid_parameter(client, rw_token, query, field, message):
    ClientFactory()
    response = client.get(f"/api/v1/accounts/?{query}", **auth(rw_token))
    assert response.status_code == 400, response.content
    assert response.json() == {
        "status": "failed",
        "error": {"code": "INVALID_PARAMETER", "message": message, "field": field},
    }


@pytest.mark.parametrize("url", ["/api/v1/contacts/", "/api/v1/contracts/"])
def test_every_list_is_strict(client, rw_token, url):
    response = client.get(f"{url}?limit=9223372036854775808", **auth(rw_token))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "limit"


def test_large_but_storable_offset_is_an_empty_page(client, rw_token):
    ClientFactory()
    response = client.get("/api/v1/accounts/?offset=2147483647&limit=1000", **auth(rw_token))
    assert response.status_code == 200
    assert response.json()["count"] == 1 and response.json()["results"] == []
    assert client.get("/api/v1/accounts/?health_score_min=100", **auth(rw_token)).status_code == 200


def test_openapi_lists_each_endpoint_once(client, rw_token):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json", **auth(rw_token)).json()
    assert sorted(schema["paths"]) == [
        "/api/v1/",
        "/api/v1/accounts/",
        "/api/v1/accounts/{client_id}/",
        "/api/v1/contacts/",
        "/api/v1/contacts/{id}/",
        "/api/v1/contracts/",
        "/api/v1/contracts/{id}/",
        "/api/v1/events/batch",
        "/api/v1/events/track",
        "/api/v1/tools/",
        "/api/v1/tools/{name}/",
    ]


def test_ingestion_with_trailing_slash_is_served(client, superuser):
    from tests.core.helpers import make_token

    response = client.post(
        "/api/v1/events/batch/",
        data=json.dumps({"batch": []}),
        content_type="application/json",
        **auth(make_token(superuser)),
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 0
