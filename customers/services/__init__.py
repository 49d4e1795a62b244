"""Writes of the customers app, one module per topic; this package re-exports the names other modules use.

- ``clients``: register and update accounts (TOOLS §1.1, §1.3)
- ``lifecycle``: stage transitions (RULES §7.1)
- ``alerts``: CTAs with de-duplication and the re-trigger rule (RULES §16), single and set-based
- ``timeline``: staff-logged engagement
- ``common``: argument checks and small lookups

Every service is keyword-only, runs in one transaction, takes the author as ``actor`` and records audit plus
timeline entries through :mod:`customers.audit`. Business errors are :mod:`cs_project.core.errors` exceptions
carrying the argument at fault in ``field``.
"""

from customers.selectors.common import active_contract

from .alerts import (
    ALERT_DUE,
    ALERT_UPDATE_FIELDS,
    AlertResult,
    alert_batch_clear_run,
    alert_batch_new,
    alert_batch_retrigger,
    alert_close,
    alert_close_apply,
    alert_condition_cleared,
    alert_raise,
    alert_retrigger_apply,
    alert_timeline_type,
    alerts_batch_save,
    higher_priority,
)
from .clients import (
    CONTRACT_FIELDS,
    UPDATABLE_FIELDS,
    RegisterResult,
    UpdateResult,
    check_update_keys,
    client_register,
    client_update,
    validate_registration,
    validate_updates,
)
from .common import (
    CENT,
    check_email,
    check_text,
    contract_type_for_term,
    generate_client_id,
    get_client,
    resolve_staff_user,
    to_date,
    to_money,
    value_tier_for,
)
from .lifecycle import TransitionResult, lifecycle_transition, transition_apply
from .timeline import timeline_log

__all__ = [
    "ALERT_DUE",
    "ALERT_UPDATE_FIELDS",
    "CENT",
    "CONTRACT_FIELDS",
    "UPDATABLE_FIELDS",
    "AlertResult",
    "RegisterResult",
    "TransitionResult",
    "UpdateResult",
    "active_contract",
    "alert_batch_clear_run",
    "alert_batch_new",
    "alert_batch_retrigger",
    "alert_close",
    "alert_close_apply",
    "alert_condition_cleared",
    "alert_raise",
    "alert_retrigger_apply",
    "alert_timeline_type",
    "alerts_batch_save",
    "check_email",
    "check_text",
    "check_update_keys",
    "client_register",
    "client_update",
    "contract_type_for_term",
    "generate_client_id",
    "get_client",
    "higher_priority",
    "lifecycle_transition",
    "resolve_staff_user",
    "timeline_log",
    "to_date",
    "to_money",
    "transition_apply",
    "validate_registration",
    "validate_updates",
    "value_tier_for",
]
