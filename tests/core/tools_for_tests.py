"""Test-only tools (names prefixed ``test_``), registered when this module is imported by a conftest.

They exercise every parameter kind of the contract without depending on any domain app's tools. They are
never documented (docs skip tools defined under ``tests.``).
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cs_project.core.registry import ToolContext, get_tool, tool


class EchoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Annotated[int, Field(ge=0, le=5, description="Nested level")] = 0


def _register() -> None:
    if get_tool("test_echo") is not None:
        return

    @tool(name="test_echo", category="core", title="Test echo", read_only=True)
    def test_echo(
        ctx: ToolContext,
        *,
        text: Annotated[str, Field(min_length=1, max_length=50, description="Text to echo")],
        count: Annotated[int, Field(ge=1, le=10, description="Repetitions")] = 1,
        mode: Annotated[Literal["upper", "lower"] | None, Field(description="Case")] = None,
        options: Annotated[EchoOptions | None, Field(description="Nested options")] = None,
    ) -> dict[str, Any]:
        """Echo a text (test only)."""
        value = text.upper() if mode == "upper" else text.lower() if mode == "lower" else text
        return {"echo": [value] * count, "actor": ctx.actor.label, "channel": ctx.actor.channel}

    @tool(name="test_write", category="core", title="Test write", read_only=False, idempotent=False)
    def test_write(
        ctx: ToolContext,
        *,
        note: Annotated[str, Field(max_length=100, description="A note")],
    ) -> dict[str, Any]:
        """Record an audit event (test only)."""
        from customers.audit import audit_record

        event = audit_record(actor=ctx.actor, action="tests.note.written", data={"note": note})
        return {"audit_event_id": str(event.event_id)}

    @tool(name="test_boom", category="core", title="Test boom", read_only=True)
    def test_boom(ctx: ToolContext) -> dict[str, Any]:
        """Fail unexpectedly (test only)."""
        raise RuntimeError("secret-internal-detail /etc/passwd")


_register()
