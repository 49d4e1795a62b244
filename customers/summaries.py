"""What the other apps publish for customers: one ``client_summary`` per app for the 360° overview (TOOLS §1.2),
``client_list_columns`` where an app fills columns of ``list_clients`` (TOOLS §1.4), and the value-tier band of
an ARR (RULES §6.1, health's ``ValueTier`` table) that registration and updates store on the client.

The apps depend on customers, never the reverse, so customers cannot import them. Instead each app registers its
``<app>.selectors.client_summary`` here in its ``AppConfig.ready()`` and ``get_client_overview`` composes what
the registered providers return. A provider reads its own app's models by their real fields: a renamed field
breaks that app's test, not a number in the overview.

A provider is called as ``client_summary(client=<Client>, as_of=<date>)`` and returns a ``ClientSummary``:

- ``blocks``: values placed under ``client_overview`` — a dict value is merged key by key into the block of
  that name (several apps fill ``support``), a list is appended, anything else is set;
- ``result``: top-level keys of the tool result the app owns (health: ``health_components``, ``explanation``,
  ``churn_prediction``);
- ``facts``: inputs of the overview's findings (RULES §18) that are not published as such;
- ``data_gaps``: RULES §15.2 entries, ``field`` the dotted path in the tool result
  (``client_overview.support.open_tickets``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, TypedDict

from django.db.models import QuerySet

from customers.models import Client


class ClientSummary(TypedDict):
    blocks: dict[str, Any]
    result: dict[str, Any]
    facts: dict[str, Any]
    data_gaps: list[dict[str, str]]


class SummaryProvider(Protocol):
    def __call__(self, *, client: Client, as_of: dt.date) -> ClientSummary: ...


_PROVIDERS: dict[str, SummaryProvider] = {}


def register_summary(app_label: str, provider: SummaryProvider) -> None:
    """Called once per app from ``AppConfig.ready()``; registering again replaces (ready() may run twice)."""
    _PROVIDERS[app_label] = provider


def summary_providers() -> dict[str, SummaryProvider]:
    """The registered providers by app label."""
    return dict(_PROVIDERS)


def summary(
    *,
    blocks: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    facts: dict[str, Any] | None = None,
    data_gaps: list[dict[str, str]] | None = None,
) -> ClientSummary:
    """A ``ClientSummary`` with every part present (providers fill what they own)."""
    return {
        "blocks": blocks or {},
        "result": result or {},
        "facts": facts or {},
        "data_gaps": data_gaps or [],
    }


# --- list_clients columns ------------------------------------------------------------------------------------


class ListColumns(TypedDict):
    """``rows``: client pk → {column: value} for the clients of the page; ``totals``: ``summary`` keys over the
    whole filtered set; ``data_gaps``: paths ``clients[<index in page>].<column>`` / ``summary.<key>``."""

    rows: dict[int, dict[str, Any]]
    totals: dict[str, Any]
    data_gaps: list[dict[str, str]]


class ListColumnsProvider(Protocol):
    def __call__(self, *, clients: QuerySet[Client], page: list[Client], as_of: dt.date) -> ListColumns: ...


_LIST_PROVIDERS: dict[str, ListColumnsProvider] = {}


def register_list_columns(app_label: str, provider: ListColumnsProvider) -> None:
    """Called from ``AppConfig.ready()`` by an app that fills ``list_clients`` columns (set-based: a constant
    number of queries for any page size)."""
    _LIST_PROVIDERS[app_label] = provider


def list_column_providers() -> dict[str, ListColumnsProvider]:
    return dict(_LIST_PROVIDERS)


# --- value tier of an ARR ------------------------------------------------------------------------------------

_VALUE_TIER: list[Callable[[Decimal | float | int], str]] = []


def register_value_tier(lookup: Callable[[Decimal | float | int], str]) -> None:
    """Called by the app owning the value-tier table (health) from ``AppConfig.ready()``."""
    _VALUE_TIER[:] = [lookup]


def value_tier_for_arr(arr: Decimal | float | int) -> str | None:
    """The RULES §6.1 band of an ARR, or None when no app publishes the value-tier table in this deployment."""
    return _VALUE_TIER[0](arr) if _VALUE_TIER else None
