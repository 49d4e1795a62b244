"""Who is acting, through which doorway: passed explicitly to every service that writes."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    """The author of a change. ``label`` is what the audit log shows (username or ``system:<job>``)."""

    label: str
    channel: str  # customers.choices.AuditChannel: mcp, api, admin, task
    user: Any = None
    tool: str | None = None

    @classmethod
    def for_user(cls, user, *, channel: str, tool: str | None = None) -> "Actor":
        return cls(label=user.get_username(), channel=channel, user=user, tool=tool)

    @classmethod
    def system(cls, job_name: str) -> "Actor":
        return cls(label=f"system:{job_name}", channel="task", user=None, tool=None)
