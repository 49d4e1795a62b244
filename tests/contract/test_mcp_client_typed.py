"""The official MCP client validates structuredContent against the published outputSchema: a typed tool's real
result passes that check end to end (a precise schema that real results break would make the SDK raise)."""

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.core.helpers import make_token
from tests.harness import APPS, demo_world, user_with_app_perms

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TIMEOUT = 30


async def _session_run(url: str, token: str, body):
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(TIMEOUT)) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, _session_id):
            async with ClientSession(read, write) as session:
                with anyio.fail_after(TIMEOUT):
                    return await body(session)


def test_official_client_accepts_typed_results(live_server, django_user_model):
    world = demo_world(3)
    user = user_with_app_perms(django_user_model, "typed", APPS, ["mcp_read", "mcp_write"])
    token = make_token(user, ("read", "write"))

    async def body(session):
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        listed = await session.call_tool("list_clients", {"limit": 10})
        trends = await session.call_tool("analyze_health_trends", {"client_id": world["client_id"]})
        return tools, listed, trends

    tools, listed, trends = anyio.run(_session_run, f"{live_server.url}/mcp", token, body)
    schema = tools["list_clients"].outputSchema
    assert schema["anyOf"][0]["properties"]["clients"]["type"] == "array"
    assert listed.isError is False and len(listed.structuredContent["clients"]) == 3
    assert trends.isError is False and trends.structuredContent["scope"]["client_id"] == world["client_id"]
