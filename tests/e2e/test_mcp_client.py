"""End to end: a live server and the official MCP client SDK speaking streamable HTTP to /mcp."""

import time

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.core.helpers import make_token, user_with_perms

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TIMEOUT = 30


@pytest.fixture
def token(django_user_model):
    return make_token(user_with_perms(django_user_model, "e2e"), ("read", "write"))


async def _session_run(url: str, token: str | None, body):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(TIMEOUT)) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, _session_id):
            async with ClientSession(read, write) as session:
                with anyio.fail_after(TIMEOUT):
                    return await body(session)


def test_official_client_end_to_end(live_server, token):
    async def body(session: ClientSession):
        init = await session.initialize()
        tools = await session.list_tools()
        ok = await session.call_tool("test_echo", {"text": "Live", "count": 2, "mode": "upper"})
        bad = await session.call_tool("test_echo", {"text": "Live", "count": 0})
        denied = await session.call_tool("test_boom", {})
        return init, tools, ok, bad, denied

    init, tools, ok, bad, denied = anyio.run(_session_run, f"{live_server.url}/mcp", token, body)

    assert init.serverInfo.name == "customer-success"
    by_name = {tool.name: tool for tool in tools.tools}
    echo = by_name["test_echo"]
    assert echo.title == "Test echo"
    assert echo.inputSchema["additionalProperties"] is False
    assert echo.inputSchema["required"] == ["text"]
    assert echo.outputSchema["properties"]["status"]["enum"] == ["success", "failed"]
    assert echo.annotations.readOnlyHint is True and echo.annotations.openWorldHint is False
    assert by_name["test_write"].annotations.readOnlyHint is False

    assert ok.isError is False
    assert ok.structuredContent["status"] == "success"
    assert ok.structuredContent["echo"] == ["LIVE", "LIVE"]
    assert ok.structuredContent["channel"] == "mcp" and ok.structuredContent["actor"] == "e2e"
    assert len(ok.content) == 1 and ok.content[0].type == "text"

    assert bad.isError is True
    assert bad.structuredContent["status"] == "failed"
    assert bad.structuredContent["error"]["code"] == "INVALID_PARAMETER"
    assert bad.structuredContent["error"]["field"] == "count"

    assert denied.isError is True
    assert denied.structuredContent["error"]["code"] == "INTERNAL"


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def test_official_client_without_token_is_rejected(live_server):
    async def body(session: ClientSession):
        return await session.initialize()

    with pytest.raises(BaseException) as raised:  # the SDK surfaces the HTTP 401 as an error
        anyio.run(_session_run, f"{live_server.url}/mcp", None, body)
    errors = _leaves(raised.value)
    assert any(isinstance(e, httpx.HTTPStatusError) and e.response.status_code == 401 for e in errors), errors


def test_http_401_and_fast_405_on_the_live_server(live_server, token):
    url = f"{live_server.url}/mcp"
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    body = '{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
    response = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"

    started = time.monotonic()
    response = httpx.get(
        url, headers={"Accept": "text/event-stream", "Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 405
    assert time.monotonic() - started < 3
