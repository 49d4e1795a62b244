"""Helpers of the customers tests: call a tool through the registry, exactly as the doorways do."""

import pytest

from cs_project.core.context import Actor
from cs_project.core.registry import execute_tool


@pytest.fixture
def tool(superuser):
    def call(name: str, args: dict, user=None):
        return execute_tool(name, args, user=user or superuser, channel="api")

    return call


@pytest.fixture
def actor(superuser):
    return Actor.for_user(superuser, channel="api")


def error_of(result: dict) -> tuple[str, str | None]:
    assert result["status"] == "failed", result
    return result["error"]["code"], result["error"].get("field")
