"""Reads of the customers app, one module per topic; this package re-exports the names other modules use.

- ``overview``: ``get_client_overview`` (TOOLS §1.2), composed from the apps' published client summaries
- ``listing``: ``list_clients`` (TOOLS §1.4)
- ``timeline``: ``get_client_timeline`` (TOOLS §1.5)
- ``records``: the ``register_client`` / ``update_client_info`` records and CORE next steps
- ``common``: dates, number shapes, data gaps, the client columns

Every number is computed from stored rows; a missing source is ``None`` with a ``data_gaps`` entry (RULES §15.2).
"""

from .common import (
    EBR_CADENCE_TIERS,
    active_contract,
    client_field_gaps,
    client_fields,
    client_get,
    day_start,
    days_until_renewal,
    gap,
    iso,
    local_day,
    money,
    money_display,
    rate,
    reporting_tz,
    today,
)
from .listing import client_list
from .overview import client_overview
from .records import client_next_steps, client_record, updated_record
from .timeline import client_timeline, timeline_entry

__all__ = [
    "EBR_CADENCE_TIERS",
    "active_contract",
    "client_field_gaps",
    "client_fields",
    "client_get",
    "client_list",
    "client_next_steps",
    "client_overview",
    "client_record",
    "client_timeline",
    "day_start",
    "days_until_renewal",
    "gap",
    "iso",
    "local_day",
    "money",
    "money_display",
    "rate",
    "reporting_tz",
    "today",
    "timeline_entry",
    "updated_record",
]
