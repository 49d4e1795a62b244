"""Writes of the customers app: accounts, lifecycle transitions and alerts (CTAs).

Every service is keyword-only, runs in one transaction, takes the author as ``actor`` and records audit plus
timeline entries through :mod:`customers.audit`. Business errors are :mod:`cs_project.core.errors` exceptions
carrying the argument at fault in ``field``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cs_project.core.bulk import rows_update
from cs_project.core.context import Actor
from cs_project.core.errors import Conflict, InvalidParameter, NotFound

from . import rules
from .audit import audit_and_timeline, audit_record, timeline_record
from .choices import (
    AccountStatus,
    AlertStatus,
    AlertType,
    ArrMovementKind,
    ContactRole,
    ContractStatus,
    ContractType,
    Impact,
    LifecycleStage,
    PaymentStatus,
    Priority,
    Severity,
    Tier,
    TimelineEventType,
)
from .models import (
    CLIENT_ID_PATTERN,
    Alert,
    ArrMovement,
    AuditEvent,
    Client,
    Contact,
    Contract,
    LifecycleStageHistory,
)
from .selectors import OPEN_RENEWAL_STATUSES, has_fields, other_model, today

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")


# --- small helpers ---------------------------------------------------------------------------------------


def value_tier_for(arr: Decimal | float | int) -> str | None:
    """RULES §6.1 band of an ARR, from the health app's ``ValueTier`` table (its one home)."""
    try:
        from health.selectors import value_tier_for_arr
    except ImportError:
        logger.warning("health.selectors.value_tier_for_arr is not available; value_tier left unchanged")
        return None
    return value_tier_for_arr(arr)


def to_money(value: Any, *, field_name: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidParameter(f"'{field_name}' must be a number ≥ 0.", field=field_name)
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidParameter(f"'{field_name}' must be a number ≥ 0.", field=field_name) from None
    if not amount.is_finite() or amount < 0:
        raise InvalidParameter(f"'{field_name}' must be a number ≥ 0.", field=field_name)
    if amount >= Decimal("1e12"):
        raise InvalidParameter(f"'{field_name}' is too large.", field=field_name)
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_date(value: Any, *, field_name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidParameter(f"'{field_name}' must be a date YYYY-MM-DD.", field=field_name)


def check_text(value: Any, *, field_name: str, max_length: int, min_length: int = 1) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(f"'{field_name}' must be a string.", field=field_name)
    text = value.strip()
    if len(text) < min_length or len(text) > max_length:
        raise InvalidParameter(
            f"'{field_name}' must be {min_length}–{max_length} characters.", field=field_name
        )
    return text


def check_email(value: Any, *, field_name: str) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(f"'{field_name}' must be an e-mail address.", field=field_name)
    email = value.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidParameter(f"'{field_name}' is not a valid e-mail address.", field=field_name) from None
    if len(email) > 254:
        raise InvalidParameter(f"'{field_name}' is too long.", field=field_name)
    return email.lower()


def contract_type_for_term(days: int) -> str:
    """TOOLS §1.1: ≤ 31 days monthly, ≤ 92 quarterly, ≤ 370 annual, longer multi-year."""
    if days <= 31:
        return ContractType.MONTHLY
    if days <= 92:
        return ContractType.QUARTERLY
    if days <= 370:
        return ContractType.ANNUAL
    return ContractType.MULTI_YEAR


def generate_client_id(client_name: str) -> str:
    """RULES §20: ``cs_<unix seconds>_<slug ≤ 10>``, ``_2``, ``_3``… on collision."""
    slug = re.sub(r"[^a-z0-9]", "_", client_name.lower())[:10] or "client"
    base = f"cs_{int(time.time())}_{slug}"
    candidate, n = base, 1
    while Client.objects.filter(client_id=candidate).exists():
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def get_client(client_id: str, *, field_name: str = "client_id", for_update: bool = False) -> Client:
    qs = Client.objects.select_for_update() if for_update else Client.objects
    try:
        return qs.get(client_id=client_id)
    except Client.DoesNotExist:
        raise NotFound(f"Client '{client_id}' does not exist.", field=field_name) from None


def active_contract(client: Client) -> Contract | None:
    return (
        Contract.objects.filter(client=client, status=ContractStatus.ACTIVE)
        .order_by("-start_date", "-id")
        .first()
    )


def resolve_staff_user(value: str, *, field_name: str):
    """An active staff user by username or e-mail (case-insensitive)."""
    user_model = get_user_model()
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameter(f"'{field_name}' must be a username or e-mail, or null.", field=field_name)
    text = value.strip()
    users = list(
        user_model.objects.filter(is_active=True, is_staff=True)
        .filter(Q(**{f"{user_model.USERNAME_FIELD}__iexact": text}) | Q(email__iexact=text))
        .order_by("pk")[:2]
    )
    if not users:
        raise NotFound(f"No active staff user '{text}'.", field=field_name)
    if len(users) > 1:
        exact = [u for u in users if u.get_username() == text]
        if len(exact) == 1:
            return exact[0]
        raise InvalidParameter(
            f"'{text}' matches more than one staff user; use the username.", field=field_name
        )
    return users[0]


def _iso(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


# --- register ----------------------------------------------------------------------------------------------


@dataclass
class RegisterResult:
    client: Client
    contract: Contract
    contact: Contact | None
    audit_event: AuditEvent


def validate_registration(
    *,
    client_name: Any,
    company_name: Any,
    industry: Any = "Technology",
    contract_value: Any = 0,
    contract_start_date: Any = None,
    contract_end_date: Any = None,
    primary_contact_email: Any = None,
    primary_contact_name: Any = None,
    tier: Any = Tier.STANDARD,
    client_id: Any = None,
) -> dict[str, Any]:
    """Argument checks of ``client_register`` without writing anything (also used by the admin form)."""
    data: dict[str, Any] = {
        "client_name": check_text(client_name, field_name="client_name", max_length=200),
        "company_name": check_text(company_name, field_name="company_name", max_length=200),
        "industry": check_text(
            industry if industry is not None else "Technology", field_name="industry", max_length=100
        ),
        "contract_value": to_money(
            contract_value if contract_value is not None else 0, field_name="contract_value"
        ),
    }
    if tier not in Tier.values:
        raise InvalidParameter(f"'tier' must be one of {', '.join(Tier.values)}.", field="tier")
    data["tier"] = tier
    start = to_date(contract_start_date, field_name="contract_start_date") if contract_start_date else today()
    end = (
        to_date(contract_end_date, field_name="contract_end_date")
        if contract_end_date
        else start + dt.timedelta(days=365)
    )
    if end <= start:
        raise InvalidParameter(
            "'contract_end_date' must be after 'contract_start_date'.", field="contract_end_date"
        )
    data["contract_start_date"], data["contract_end_date"] = start, end
    data["primary_contact_email"] = (
        check_email(primary_contact_email, field_name="primary_contact_email")
        if primary_contact_email
        else ""
    )
    data["primary_contact_name"] = (
        check_text(primary_contact_name, field_name="primary_contact_name", max_length=200, min_length=0)
        if primary_contact_name
        else ""
    )
    if client_id is not None and client_id != "":
        if not isinstance(client_id, str) or not re.fullmatch(CLIENT_ID_PATTERN, client_id):
            raise InvalidParameter("'client_id' must match [A-Za-z0-9_-]{1,128}.", field="client_id")
        if Client.objects.filter(client_id=client_id).exists():
            raise Conflict(f"Client '{client_id}' already exists.", field="client_id")
        data["client_id"] = client_id
    else:
        data["client_id"] = None
    return data


@transaction.atomic
def client_register(
    *,
    actor: Actor,
    client_name: str,
    company_name: str,
    industry: str = "Technology",
    contract_value: Any = 0,
    contract_start_date: Any = None,
    contract_end_date: Any = None,
    primary_contact_email: str | None = None,
    primary_contact_name: str | None = None,
    tier: str = Tier.STANDARD,
    client_id: str | None = None,
    included_users: int | None = None,
) -> RegisterResult:
    """Create an account with its first contract, primary contact, ARR and lifecycle entries (TOOLS §1.1)."""
    data = validate_registration(
        client_name=client_name,
        company_name=company_name,
        industry=industry,
        contract_value=contract_value,
        contract_start_date=contract_start_date,
        contract_end_date=contract_end_date,
        primary_contact_email=primary_contact_email,
        primary_contact_name=primary_contact_name,
        tier=tier,
        client_id=client_id,
    )
    if included_users is not None and (not isinstance(included_users, int) or included_users < 0):
        raise InvalidParameter("'included_users' must be an integer ≥ 0.", field="included_users")
    now = timezone.now()
    start, end = data["contract_start_date"], data["contract_end_date"]
    arr = data["contract_value"]
    client = Client(
        client_id=data["client_id"] or generate_client_id(data["client_name"]),
        client_name=data["client_name"],
        company_name=data["company_name"],
        industry=data["industry"],
        tier=data["tier"],
        status=AccountStatus.ACTIVE,
        lifecycle_stage=LifecycleStage.ONBOARDING,
        contract_value=arr,
        contract_start_date=start,
        contract_end_date=end,
        renewal_date=end,
        primary_contact_email=data["primary_contact_email"],
        primary_contact_name=data["primary_contact_name"],
        health_score=None,
    )
    tier_name = value_tier_for(arr)
    if tier_name:
        client.value_tier = tier_name
    client.save(force_insert=True)
    contract = Contract.objects.create(
        client=client,
        contract_type=contract_type_for_term((end - start).days),
        status=ContractStatus.ACTIVE,
        tier=client.tier,
        value=arr,
        currency=client.currency,
        start_date=start,
        end_date=end,
        included_users=included_users,
        payment_status=PaymentStatus.CURRENT,
        payment_status_manual=False,
    )
    contact = None
    if client.primary_contact_email or client.primary_contact_name:
        contact = Contact.objects.create(
            client=client,
            name=client.primary_contact_name,
            email=client.primary_contact_email,
            role=ContactRole.OTHER,
            is_primary=True,
            primary_since=now,
        )
    if arr > 0:
        ArrMovement.objects.create(
            client=client,
            kind=ArrMovementKind.NEW,
            amount=arr,
            movement_date=start,
            contract=contract,
            note="Client registered",
        )
    LifecycleStageHistory.objects.create(
        client=client,
        from_stage="",
        to_stage=LifecycleStage.ONBOARDING,
        reason="Client registered",
        actor=actor.label,
        entered_at=now,
    )
    event = audit_and_timeline(
        actor=actor,
        action="customers.client.created",
        client=client,
        event_type=TimelineEventType.ACCOUNT,
        title="Client registered",
        description=f"{client.client_name} ({client.company_name}), ARR {arr} {client.currency}.",
        object_type="client",
        object_id=client.client_id,
        data={
            "client_name": client.client_name,
            "company_name": client.company_name,
            "industry": client.industry,
            "tier": client.tier,
            "value_tier": client.value_tier,
            "contract_value": arr,
            "contract_start_date": start,
            "contract_end_date": end,
            "contract_id": contract.contract_id,
            "primary_contact": bool(contact),
        },
        impact=Impact.POSITIVE,
    )
    return RegisterResult(client=client, contract=contract, contact=contact, audit_event=event)


# --- update ------------------------------------------------------------------------------------------------

UPDATABLE_FIELDS = (
    "client_name",
    "company_name",
    "industry",
    "tier",
    "contract_value",
    "contract_start_date",
    "contract_end_date",
    "primary_contact_email",
    "primary_contact_name",
    "csm_assigned",
    "status",
)
CONTRACT_FIELDS = {"tier", "contract_value", "contract_start_date", "contract_end_date"}


@dataclass
class UpdateResult:
    client: Client
    updated_fields: list[str]
    previous_values: dict[str, Any]
    new_values: dict[str, Any]
    side_effects: list[dict[str, Any]] = field(default_factory=list)
    audit_event: AuditEvent | None = None


def _csm_label(user) -> str | None:
    return user.get_username() if user is not None else None


def check_update_keys(updates: Any) -> None:
    """Static checks of an ``updates`` object (run before the client is looked up, TOOLS §0.2 order)."""
    if not isinstance(updates, dict) or not updates:
        raise InvalidParameter("'updates' must contain at least one field to change.", field="updates")
    for key in updates:
        if key not in UPDATABLE_FIELDS:
            raise InvalidParameter(
                f"Unknown update key '{key}'. Allowed: {', '.join(UPDATABLE_FIELDS)}.", field=f"updates.{key}"
            )


def validate_updates(client: Client, updates: Any) -> dict[str, Any]:
    """Check every key and value of an update; return the normalised values that differ from the client's.

    Raises InvalidParameter with ``field=updates.<key>``; NotFound for an unknown CSM; CONFLICT for
    churned → inactive.
    """
    check_update_keys(updates)
    values: dict[str, Any] = {}
    for key, raw in updates.items():
        path = f"updates.{key}"
        if key in ("client_name", "company_name"):
            values[key] = check_text(raw, field_name=path, max_length=200)
        elif key == "industry":
            values[key] = check_text(raw, field_name=path, max_length=100)
        elif key == "tier":
            if raw not in Tier.values:
                raise InvalidParameter(f"'{path}' must be one of {', '.join(Tier.values)}.", field=path)
            values[key] = raw
        elif key == "contract_value":
            values[key] = to_money(raw, field_name=path)
        elif key in ("contract_start_date", "contract_end_date"):
            values[key] = to_date(raw, field_name=path)
        elif key == "primary_contact_email":
            values[key] = check_email(raw, field_name=path) if raw not in (None, "") else ""
        elif key == "primary_contact_name":
            values[key] = (
                check_text(raw, field_name=path, max_length=200, min_length=0)
                if raw not in (None, "")
                else ""
            )
        elif key == "csm_assigned":
            values[key] = None if raw in (None, "") else resolve_staff_user(raw, field_name=path)
        elif key == "status":
            if raw not in AccountStatus.values:
                raise InvalidParameter(
                    f"'{path}' must be one of {', '.join(AccountStatus.values)}.", field=path
                )
            values[key] = raw
    start = values.get("contract_start_date", client.contract_start_date)
    end = values.get("contract_end_date", client.contract_end_date)
    if start and end and end <= start:
        bad = "contract_end_date" if "contract_end_date" in values else "contract_start_date"
        raise InvalidParameter(
            "'contract_end_date' must be after 'contract_start_date'.", field=f"updates.{bad}"
        )
    if values.get("status") == AccountStatus.INACTIVE and client.status == AccountStatus.CHURNED:
        raise Conflict(
            "A churned client cannot become inactive; reactivate it first.", field="updates.status"
        )
    changed: dict[str, Any] = {}
    for key, value in values.items():
        current = client.csm_assigned if key == "csm_assigned" else getattr(client, key)
        if key == "csm_assigned":
            if (current.pk if current else None) != (value.pk if value else None):
                changed[key] = value
        elif key == "contract_value":
            if Decimal(current).quantize(CENT) != value:
                changed[key] = value
        elif isinstance(value, str):
            if (current or "") != value:
                changed[key] = value
        elif current != value:
            changed[key] = value
    return changed


def _replace_primary_contact(client: Client, *, email: str, name: str, now) -> Contact:
    """New primary Contact; the previous primary stays as a non-primary contact (RSK-06 reads its dates)."""
    previous = Contact.objects.select_for_update().filter(client=client, is_primary=True).first()
    if previous is not None:
        previous.is_primary = False
        previous.primary_until = now
        previous.save(update_fields=["is_primary", "primary_until"])
    existing = (
        Contact.objects.filter(client=client, email__iexact=email)
        .exclude(pk=getattr(previous, "pk", None))
        .first()
        if email
        else None
    )
    if existing is not None:
        existing.is_primary = True
        existing.primary_since = now
        existing.primary_until = None
        if name:
            existing.name = name
        existing.save(update_fields=["is_primary", "primary_since", "primary_until", "name"])
        return existing
    return Contact.objects.create(
        client=client, name=name, email=email, role=ContactRole.OTHER, is_primary=True, primary_since=now
    )


def _cancel_renewal_reminders(renewal, now) -> None:
    reminder_model = other_model("expansion", "RenewalReminder")
    if has_fields(reminder_model, "renewal", "sent_at", "cancelled_at"):
        reminder_model.objects.filter(
            renewal=renewal, sent_at__isnull=True, cancelled_at__isnull=True
        ).update(cancelled_at=now)


def _close_renewal(renewal, *, status: str, final_arr: Decimal, now) -> None:
    renewal.status = status
    fields = ["status"]
    for name, value in (("final_arr", final_arr), ("closed_at", now)):
        if has_fields(type(renewal), name):
            setattr(renewal, name, value)
            fields.append(name)
    if has_fields(type(renewal), "updated_at"):
        fields.append("updated_at")
    renewal.save(update_fields=fields)
    _cancel_renewal_reminders(renewal, now)


def _renewals_won_by_end_date(client: Client, new_end: dt.date, now, actor: Actor) -> list[dict[str, Any]]:
    """RULES §12.3: an end date moved past an open renewal's date marks it won; reminders are cancelled."""
    renewal_model = other_model("expansion", "Renewal")
    if not has_fields(renewal_model, "client", "status", "renewal_date"):
        return []
    effects = []
    open_renewals = renewal_model.objects.select_for_update().filter(
        client=client, status__in=OPEN_RENEWAL_STATUSES, renewal_date__lt=new_end
    )
    for renewal in open_renewals:
        old = renewal.status
        _close_renewal(renewal, status="won", final_arr=Decimal(client.contract_value), now=now)
        rid = getattr(renewal, "renewal_id", None) or renewal.pk
        effects.append({"type": "renewal_won", "id": rid})
        audit_record(
            actor=actor,
            action="expansion.renewal.won",
            object_type="renewal",
            object_id=str(rid),
            client=client,
            changes={"status": [old, "won"]},
            data={"new_contract_end_date": new_end, "final_arr": client.contract_value},
        )
    return effects


@transaction.atomic
def client_update(*, actor: Actor, client_id: str, updates: dict[str, Any]) -> UpdateResult:
    """Apply whitelisted account changes with their side effects (TOOLS §1.3). No difference → no write."""
    check_update_keys(updates)
    client = get_client(client_id, for_update=True)
    changed = validate_updates(client, updates)
    if not changed:
        return UpdateResult(client=client, updated_fields=[], previous_values={}, new_values={})
    now = timezone.now()
    previous: dict[str, Any] = {}
    new: dict[str, Any] = {}
    side_effects: list[dict[str, Any]] = []
    contract = active_contract(client)
    contract_fields: list[str] = []
    old_arr = Decimal(client.contract_value).quantize(CENT)

    for key in UPDATABLE_FIELDS:
        if key not in changed:
            continue
        value = changed[key]
        if key == "csm_assigned":
            previous[key] = _csm_label(client.csm_assigned)
            new[key] = _csm_label(value)
            client.csm_assigned = value
            continue
        if key == "status":
            continue  # applied last, through the lifecycle rules
        previous[key] = _iso(getattr(client, key))
        new[key] = _iso(value)
        setattr(client, key, value)

    if "contract_value" in changed:
        diff = changed["contract_value"] - old_arr
        tier_name = value_tier_for(changed["contract_value"])
        if tier_name and tier_name != client.value_tier:
            previous["value_tier"], new["value_tier"] = client.value_tier, tier_name
            client.value_tier = tier_name
        if client.status != AccountStatus.CHURNED and diff != 0:
            movement = ArrMovement.objects.create(
                client=client,
                kind=ArrMovementKind.EXPANSION if diff > 0 else ArrMovementKind.CONTRACTION,
                amount=diff,
                movement_date=now.date(),
                contract=contract,
                note="update_client_info",
            )
            side_effects.append({"type": f"arr_movement_{movement.kind}", "id": movement.pk})
        if contract is not None:
            contract.value = changed["contract_value"]
            contract_fields.append("value")
    if contract is not None:
        if "tier" in changed:
            contract.tier = changed["tier"]
            contract_fields.append("tier")
        if "contract_start_date" in changed:
            contract.start_date = changed["contract_start_date"]
            contract_fields.append("start_date")
        if "contract_end_date" in changed:
            contract.end_date = changed["contract_end_date"]
            contract_fields.append("end_date")
        if contract_fields:
            contract.save(update_fields=contract_fields)
            side_effects.append({"type": "contract_updated", "id": contract.contract_id})
    if "contract_end_date" in changed:
        if client.renewal_date != changed["contract_end_date"]:
            previous["renewal_date"], new["renewal_date"] = (
                _iso(client.renewal_date),
                _iso(changed["contract_end_date"]),
            )
            client.renewal_date = changed["contract_end_date"]
        side_effects.extend(_renewals_won_by_end_date(client, changed["contract_end_date"], now, actor))
    if "primary_contact_email" in changed or "primary_contact_name" in changed:
        contact = _replace_primary_contact(
            client, email=client.primary_contact_email, name=client.primary_contact_name, now=now
        )
        side_effects.append({"type": "primary_contact_replaced", "id": contact.pk})

    client.save()

    stage_change = None
    if "status" in changed:
        old_status, new_status = client.status, changed["status"]
        previous["status"], new["status"] = old_status, new_status
        if new_status == AccountStatus.CHURNED:
            stage_change = _transition(
                client=client,
                to_stage=LifecycleStage.CHURNED,
                actor=actor,
                reason="Status set to churned",
                rule_id="",
                now=now,
                with_timeline=False,
            )
        elif old_status == AccountStatus.CHURNED and new_status == AccountStatus.ACTIVE:
            stage_change = _transition(
                client=client,
                to_stage=LifecycleStage.ONBOARDING,
                actor=actor,
                reason="Reactivation",
                rule_id="",
                now=now,
                with_timeline=False,
            )
        else:
            client.status = new_status
            client.save(update_fields=["status", "updated_at"])
        if stage_change is not None:
            previous["lifecycle_stage"], new["lifecycle_stage"] = (
                stage_change.from_stage,
                stage_change.to_stage,
            )
            side_effects.append({"type": "lifecycle_transition", "id": stage_change.history.pk})
            side_effects.extend(stage_change.side_effects)

    fields_changed = list(previous.keys())
    if stage_change is not None:
        event_type = TimelineEventType.LIFECYCLE
    elif set(changed) <= CONTRACT_FIELDS:
        event_type = TimelineEventType.CONTRACT
    else:
        event_type = TimelineEventType.ACCOUNT
    impact = Impact.NEUTRAL
    if "contract_value" in changed:
        impact = Impact.POSITIVE if changed["contract_value"] > old_arr else Impact.NEGATIVE
    if new.get("status") == AccountStatus.CHURNED:
        impact = Impact.NEGATIVE
    event = audit_and_timeline(
        actor=actor,
        action="customers.client.updated",
        client=client,
        event_type=event_type,
        title=f"Client updated: {', '.join(fields_changed)}"[:300],
        object_type="client",
        object_id=client.client_id,
        changes={key: [previous[key], new[key]] for key in fields_changed},
        data={"updated_fields": [k for k in UPDATABLE_FIELDS if k in changed], "side_effects": side_effects},
        impact=impact,
        severity=Severity.HIGH if new.get("status") == AccountStatus.CHURNED else Severity.INFO,
    )
    client.refresh_from_db()
    return UpdateResult(
        client=client,
        updated_fields=[k for k in UPDATABLE_FIELDS if k in changed],
        previous_values=previous,
        new_values=new,
        side_effects=side_effects,
        audit_event=event,
    )


# --- lifecycle ---------------------------------------------------------------------------------------------


@dataclass
class TransitionResult:
    client: Client
    from_stage: str
    to_stage: str
    history: LifecycleStageHistory
    side_effects: list[dict[str, Any]]
    audit_event: AuditEvent


def _close_open_renewals_lost(client: Client, now, actor: Actor) -> list[dict[str, Any]]:
    renewal_model = other_model("expansion", "Renewal")
    if not has_fields(renewal_model, "client", "status"):
        return []
    effects = []
    for renewal in renewal_model.objects.select_for_update().filter(
        client=client, status__in=OPEN_RENEWAL_STATUSES
    ):
        old = renewal.status
        _close_renewal(renewal, status="lost", final_arr=Decimal("0"), now=now)
        rid = getattr(renewal, "renewal_id", None) or renewal.pk
        audit_record(
            actor=actor,
            action="expansion.renewal.lost",
            object_type="renewal",
            object_id=str(rid),
            client=client,
            changes={"status": [old, "lost"]},
            data={"reason": "churned"},
        )
        effects.append({"type": "renewal_lost", "id": rid})
    return effects


def _close_retention_campaigns(client: Client, now, actor: Actor) -> list[dict[str, Any]]:
    """RULES §7.1: active retention campaigns close with outcome ``churned``."""
    campaign_model = other_model("retention", "RetentionCampaign")
    if not has_fields(campaign_model, "client", "status", "outcome", "ended_at"):
        return []
    effects = []
    for campaign in campaign_model.objects.select_for_update().filter(client=client, status="active"):
        campaign.status = "completed"
        campaign.outcome = "churned"
        campaign.ended_at = now
        fields = ["status", "outcome", "ended_at"]
        if has_fields(campaign_model, "updated_at"):
            fields.append("updated_at")
        campaign.save(update_fields=fields)
        cid = getattr(campaign, "campaign_id", None) or campaign.pk
        audit_record(
            actor=actor,
            action="retention.campaign.closed",
            object_type="retention_campaign",
            object_id=str(cid),
            client=client,
            changes={"status": ["active", "completed"], "outcome": [None, "churned"]},
            data={"reason": "churned"},
        )
        effects.append({"type": "retention_campaign_closed", "id": cid})
    return effects


def _transition(
    *,
    client: Client,
    to_stage: str,
    actor: Actor,
    reason: str,
    rule_id: str,
    now,
    with_timeline: bool,
) -> TransitionResult:
    from_stage = client.lifecycle_stage
    if to_stage not in LifecycleStage.values:
        raise InvalidParameter(f"Unknown lifecycle stage '{to_stage}'.", field="to_stage")
    if not rules.transition_allowed(from_stage, to_stage):
        raise Conflict(f"Transition {from_stage} → {to_stage} is not allowed (RULES §7.1).", field="to_stage")
    side_effects: list[dict[str, Any]] = []
    changes: dict[str, list[Any]] = {"lifecycle_stage": [from_stage, to_stage]}
    LifecycleStageHistory.objects.filter(client=client, exited_at__isnull=True).update(exited_at=now)
    history = LifecycleStageHistory.objects.create(
        client=client,
        from_stage=from_stage,
        to_stage=to_stage,
        reason=reason[:500],
        rule_id=rule_id or "",
        actor=actor.label,
        entered_at=now,
    )
    client.lifecycle_stage = to_stage
    update_fields = ["lifecycle_stage", "updated_at"]
    arr = Decimal(client.contract_value)
    if to_stage == LifecycleStage.CHURNED:
        if client.status != AccountStatus.CHURNED:
            changes["status"] = [client.status, AccountStatus.CHURNED]
            client.status = AccountStatus.CHURNED
            update_fields.append("status")
        if arr > 0:
            movement = ArrMovement.objects.create(
                client=client,
                kind=ArrMovementKind.CHURN,
                amount=-arr,
                movement_date=now.date(),
                contract=active_contract(client),
                note="Churned",
            )
            side_effects.append({"type": "arr_movement_churn", "id": movement.pk})
        side_effects.extend(_close_open_renewals_lost(client, now, actor))
        for alert in Alert.objects.select_for_update().filter(
            client=client, status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED]
        ):
            _close_alert(alert, actor=actor, reason="churned", now=now, with_timeline=False)
            side_effects.append({"type": "alert_closed", "id": alert.alert_id})
        side_effects.extend(_close_retention_campaigns(client, now, actor))
    elif from_stage == LifecycleStage.CHURNED and to_stage == LifecycleStage.ONBOARDING:
        if client.status != AccountStatus.ACTIVE:
            changes["status"] = [client.status, AccountStatus.ACTIVE]
            client.status = AccountStatus.ACTIVE
            update_fields.append("status")
        if arr > 0:
            movement = ArrMovement.objects.create(
                client=client,
                kind=ArrMovementKind.REACTIVATION,
                amount=arr,
                movement_date=now.date(),
                contract=active_contract(client),
                note="Reactivated",
            )
            side_effects.append({"type": "arr_movement_reactivation", "id": movement.pk})
    client.save(update_fields=update_fields)
    negative = to_stage in (LifecycleStage.AT_RISK, LifecycleStage.CHURNED)
    positive = (
        to_stage in (LifecycleStage.ACTIVE, LifecycleStage.EXPANSION) or from_stage == LifecycleStage.CHURNED
    )
    kwargs = dict(
        actor=actor,
        action="customers.lifecycle.transitioned",
        client=client,
        object_type="lifecycle_stage_history",
        object_id=str(history.pk),
        changes=changes,
        data={"reason": reason, "rule_id": rule_id or None, "side_effects": side_effects},
    )
    if with_timeline:
        event = audit_and_timeline(
            **kwargs,
            event_type=TimelineEventType.LIFECYCLE,
            title=f"Lifecycle stage: {from_stage} → {to_stage}",
            description=reason,
            impact=Impact.NEGATIVE if negative else Impact.POSITIVE if positive else Impact.NEUTRAL,
            severity=Severity.HIGH if to_stage == LifecycleStage.CHURNED else Severity.INFO,
        )
    else:
        event = audit_record(**kwargs)
    return TransitionResult(
        client=client,
        from_stage=from_stage,
        to_stage=to_stage,
        history=history,
        side_effects=side_effects,
        audit_event=event,
    )


@transaction.atomic
def lifecycle_transition(
    *,
    actor: Actor,
    client: Client | str,
    to_stage: str,
    reason: str = "",
    rule_id: str = "",
) -> TransitionResult:
    """Move a client to another lifecycle stage per RULES §7.1, with its side effects; CONFLICT if illegal."""
    if isinstance(client, Client):
        client = get_client(client.client_id, for_update=True)
    else:
        client = get_client(client, for_update=True)
    return _transition(
        client=client,
        to_stage=to_stage,
        actor=actor,
        reason=reason or "",
        rule_id=rule_id,
        now=timezone.now(),
        with_timeline=True,
    )


# --- alerts (RULES §16) -------------------------------------------------------------------------------------

ALERT_DUE = {
    Priority.CRITICAL: dt.timedelta(days=1),
    Priority.HIGH: dt.timedelta(days=2),
    Priority.MEDIUM: dt.timedelta(days=5),
    Priority.LOW: dt.timedelta(days=10),
}

_REASON_TIMELINE_TYPE = [
    ("health_", TimelineEventType.HEALTH),
    ("churn_risk", TimelineEventType.HEALTH),
    ("adoption_overdue", TimelineEventType.HEALTH),
    ("usage_", TimelineEventType.USAGE),
    ("no_engagement", TimelineEventType.COMMUNICATION),
    ("champion_change", TimelineEventType.ACCOUNT),
    ("payment_", TimelineEventType.CONTRACT),
    ("nps_", TimelineEventType.FEEDBACK),
    ("csat_", TimelineEventType.FEEDBACK),
    ("sla_", TimelineEventType.SUPPORT),
    ("escalation_", TimelineEventType.SUPPORT),
    ("onboarding_", TimelineEventType.ONBOARDING),
    ("milestone_", TimelineEventType.ONBOARDING),
    ("renewal_", TimelineEventType.RENEWAL),
    ("upsell_", TimelineEventType.EXPANSION),
    ("expansion_", TimelineEventType.EXPANSION),
    ("ebr_", TimelineEventType.COMMUNICATION),
    ("retention_", TimelineEventType.RETENTION),
    ("lifecycle_", TimelineEventType.LIFECYCLE),
]
_TYPE_TIMELINE_TYPE = {
    AlertType.RISK: TimelineEventType.RETENTION,
    AlertType.OPPORTUNITY: TimelineEventType.EXPANSION,
    AlertType.LIFECYCLE: TimelineEventType.LIFECYCLE,
    AlertType.ACTIVITY: TimelineEventType.ACCOUNT,
    AlertType.OBJECTIVE: TimelineEventType.ACCOUNT,
}
_PRIORITY_SEVERITY = {
    Priority.CRITICAL: Severity.CRITICAL,
    Priority.HIGH: Severity.HIGH,
    Priority.MEDIUM: Severity.MEDIUM,
    Priority.LOW: Severity.LOW,
}


def alert_timeline_type(alert_type: str, reason: str) -> str:
    """Timeline type by reason family (RULES §16)."""
    for prefix, event_type in _REASON_TIMELINE_TYPE:
        if reason.startswith(prefix):
            return event_type
    return _TYPE_TIMELINE_TYPE.get(alert_type, TimelineEventType.ACCOUNT)


def higher_priority(a: str, b: str) -> str:
    return a if Priority.rank(a) <= Priority.rank(b) else b


@dataclass
class AlertResult:
    alert: Alert
    created: bool
    changed: bool
    audit_event: AuditEvent | None


@transaction.atomic
def alert_raise(
    *,
    actor: Actor,
    client: Client | str,
    type: str,  # noqa: A002 - the spec's field name
    reason: str,
    priority: str,
    rule_id: str = "",
    evidence: dict[str, Any] | None = None,
    owner=None,
    now: dt.datetime | None = None,
) -> AlertResult:
    """Open a CTA, or update the live one for (client, type, reason) (RULES §16 de-duplication).

    Existing open/snoozed alert: occurrence + 1, last_triggered_at, evidence replaced, priority = the higher
    of old and new (due date recomputed from the first trigger), clear-run counter reset.
    """
    if not isinstance(client, Client):
        client = get_client(client)
    if type not in AlertType.values:
        raise InvalidParameter(f"Unknown alert type '{type}'.", field="type")
    if priority not in Priority.values:
        raise InvalidParameter(f"Unknown priority '{priority}'.", field="priority")
    if not reason or len(reason) > 120:
        raise InvalidParameter("'reason' must be 1–120 characters.", field="reason")
    now = now or timezone.now()
    evidence = evidence or {}
    existing = (
        Alert.objects.select_for_update()
        .filter(client=client, type=type, reason=reason, status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED])
        .first()
    )
    timeline_type = alert_timeline_type(type, reason)
    if existing is None:
        alert = Alert.objects.create(
            client=client,
            type=type,
            reason=reason,
            priority=priority,
            status=AlertStatus.OPEN,
            owner=owner if owner is not None else client.csm_assigned,
            due_at=now + ALERT_DUE[priority],
            rule_id=rule_id or "",
            evidence=evidence,
            occurrence_count=1,
            first_triggered_at=now,
            last_triggered_at=now,
        )
        event = audit_and_timeline(
            actor=actor,
            action="customers.alert.raised",
            client=client,
            event_type=timeline_type,
            title=f"Alert raised: {reason} ({priority})",
            object_type="alert",
            object_id=alert.alert_id,
            data={
                "type": type,
                "reason": reason,
                "priority": priority,
                "rule_id": rule_id or None,
                "evidence": evidence,
            },
            impact=Impact.POSITIVE
            if type == AlertType.OPPORTUNITY
            else Impact.NEGATIVE
            if type == AlertType.RISK
            else Impact.NEUTRAL,
            severity=_PRIORITY_SEVERITY[priority],
        )
        return AlertResult(alert=alert, created=True, changed=True, audit_event=event)

    alert = existing
    changes = alert_retrigger_apply(alert, priority=priority, rule_id=rule_id, evidence=evidence, now=now)
    alert.save()
    event = audit_and_timeline(
        actor=actor,
        action="customers.alert.updated",
        client=client,
        event_type=timeline_type,
        title=f"Alert re-triggered: {reason} (×{alert.occurrence_count}, {alert.priority})",
        object_type="alert",
        object_id=alert.alert_id,
        changes=changes,
        data={"rule_id": rule_id or None},
        impact=Impact.NEGATIVE if type == AlertType.RISK else Impact.NEUTRAL,
        severity=_PRIORITY_SEVERITY[alert.priority],
    )
    return AlertResult(alert=alert, created=False, changed=True, audit_event=event)


def _close_alert(alert: Alert, *, actor: Actor, reason: str, now, with_timeline: bool) -> AuditEvent:
    old_status = alert.status
    alert.status = AlertStatus.CLOSED
    alert.closed_at = now
    alert.close_reason = reason[:100]
    alert.save(update_fields=["status", "closed_at", "close_reason"])
    kwargs = dict(
        actor=actor,
        action="customers.alert.closed",
        client=alert.client,
        object_type="alert",
        object_id=alert.alert_id,
        changes={"status": [old_status, AlertStatus.CLOSED], "close_reason": ["", alert.close_reason]},
        data={"reason": alert.reason, "type": alert.type},
    )
    if with_timeline:
        return audit_and_timeline(
            **kwargs,
            event_type=alert_timeline_type(alert.type, alert.reason),
            title=f"Alert closed: {alert.reason} ({reason})",
            impact=Impact.POSITIVE if reason in ("auto_resolved", "resolved") else Impact.NEUTRAL,
        )
    return audit_record(**kwargs)


@transaction.atomic
def alert_close(
    *, actor: Actor, alert: Alert | str, reason: str = "resolved", now: dt.datetime | None = None
) -> AlertResult:
    """Close an open or snoozed alert with a reason (``resolved``, ``auto_resolved``, ``churned``, …)."""
    alert_id = alert.alert_id if isinstance(alert, Alert) else alert
    try:
        obj = Alert.objects.select_for_update().select_related("client").get(alert_id=alert_id)
    except Alert.DoesNotExist:
        raise NotFound(f"Alert '{alert_id}' does not exist.", field="alert_id") from None
    if obj.status == AlertStatus.CLOSED:
        raise Conflict(f"Alert '{alert_id}' is already closed.", field="alert_id")
    if not reason:
        raise InvalidParameter("'reason' is required.", field="reason")
    event = _close_alert(obj, actor=actor, reason=reason, now=now or timezone.now(), with_timeline=True)
    return AlertResult(alert=obj, created=False, changed=True, audit_event=event)


@transaction.atomic
def alert_condition_cleared(
    *,
    actor: Actor,
    client: Client | str,
    type: str,
    reason: str,  # noqa: A002
) -> AlertResult | None:
    """A monitor found the condition false: after 2 consecutive clear runs the alert auto-closes (RULES §16).

    The first clear run only bumps a counter (no audit: it is monitor bookkeeping, not business data).
    """
    if not isinstance(client, Client):
        client = get_client(client)
    alert = (
        Alert.objects.select_for_update()
        .filter(client=client, type=type, reason=reason, status__in=[AlertStatus.OPEN, AlertStatus.SNOOZED])
        .first()
    )
    if alert is None:
        return None
    alert.consecutive_clear_runs += 1
    if alert.consecutive_clear_runs >= 2:
        alert.save(update_fields=["consecutive_clear_runs"])
        event = _close_alert(
            alert, actor=actor, reason="auto_resolved", now=timezone.now(), with_timeline=True
        )
        return AlertResult(alert=alert, created=False, changed=True, audit_event=event)
    alert.save(update_fields=["consecutive_clear_runs"])
    return AlertResult(alert=alert, created=False, changed=False, audit_event=None)


def alert_retrigger_apply(
    alert: Alert, *, priority: str, rule_id: str | None, evidence: dict[str, Any], now: dt.datetime
) -> dict[str, list[Any]]:
    """A new trigger of a live alert, in memory (RULES §16): occurrence + 1, last trigger, evidence replaced,
    the higher priority (due date recomputed from the first trigger), clear runs reset. Returns the audit changes."""
    changes: dict[str, list[Any]] = {"occurrence_count": [alert.occurrence_count, alert.occurrence_count + 1]}
    new_priority = higher_priority(alert.priority, priority)
    if new_priority != alert.priority:
        changes["priority"] = [alert.priority, new_priority]
        new_due = alert.first_triggered_at + ALERT_DUE[new_priority]
        changes["due_at"] = [alert.due_at, new_due]
        alert.priority = new_priority
        alert.due_at = new_due
    if alert.evidence != evidence:
        changes["evidence"] = [alert.evidence, evidence]
    alert.occurrence_count += 1
    alert.last_triggered_at = now
    alert.evidence = evidence
    alert.consecutive_clear_runs = 0
    if rule_id and not alert.rule_id:
        alert.rule_id = rule_id
    return changes


# Set-based alerts for nightly jobs: the rows, audit and timeline entries of alert_raise / alert_condition_cleared,
# built in memory per alert and written once per chunk (alerts_batch_save + customers.audit.audit_and_timeline_bulk).

ALERT_UPDATE_FIELDS = [
    "priority",
    "due_at",
    "evidence",
    "occurrence_count",
    "last_triggered_at",
    "consecutive_clear_runs",
    "rule_id",
    "status",
    "closed_at",
    "close_reason",
]


def alert_batch_new(
    *,
    client_id: int,
    type: str,  # noqa: A002
    reason: str,
    priority: str,
    rule_id: str | None,
    evidence: dict[str, Any],
    owner_id: int | None,
    now: dt.datetime,
) -> tuple[Alert, dict[str, Any]]:
    """An unsaved new alert and its audit/timeline entry (as ``alert_raise`` creates one)."""
    alert = Alert(
        client_id=client_id,
        type=type,
        reason=reason,
        priority=priority,
        status=AlertStatus.OPEN,
        owner_id=owner_id,
        due_at=now + ALERT_DUE[priority],
        rule_id=rule_id or "",
        evidence=evidence,
        occurrence_count=1,
        first_triggered_at=now,
        last_triggered_at=now,
    )
    entry = {
        "client": client_id,
        "action": "customers.alert.raised",
        "event_type": alert_timeline_type(type, reason),
        "title": f"Alert raised: {reason} ({priority})",
        "object_type": "alert",
        "object_id": alert.alert_id,
        "changes": {},
        "data": {
            "type": type,
            "reason": reason,
            "priority": priority,
            "rule_id": rule_id or None,
            "evidence": evidence,
        },
        "impact": Impact.POSITIVE
        if type == AlertType.OPPORTUNITY
        else Impact.NEGATIVE
        if type == AlertType.RISK
        else Impact.NEUTRAL,
        "severity": _PRIORITY_SEVERITY[priority],
    }
    return alert, entry


def alert_batch_retrigger(
    alert: Alert, *, priority: str, rule_id: str | None, evidence: dict[str, Any], now: dt.datetime
) -> dict[str, Any]:
    """Re-trigger a live alert in memory; returns its audit/timeline entry (as ``alert_raise`` updates one)."""
    changes = alert_retrigger_apply(alert, priority=priority, rule_id=rule_id, evidence=evidence, now=now)
    return {
        "client": alert.client_id,
        "action": "customers.alert.updated",
        "event_type": alert_timeline_type(alert.type, alert.reason),
        "title": f"Alert re-triggered: {alert.reason} (×{alert.occurrence_count}, {alert.priority})",
        "object_type": "alert",
        "object_id": alert.alert_id,
        "changes": changes,
        "data": {"rule_id": rule_id or None},
        "impact": Impact.NEGATIVE if alert.type == AlertType.RISK else Impact.NEUTRAL,
        "severity": _PRIORITY_SEVERITY[alert.priority],
    }


def alert_batch_clear_run(alert: Alert, *, now: dt.datetime) -> dict[str, Any] | None:
    """One clear run in memory (as ``alert_condition_cleared``): the second closes the alert (auto_resolved) and
    returns its audit/timeline entry; the first is bookkeeping only (None)."""
    alert.consecutive_clear_runs += 1
    if alert.consecutive_clear_runs < 2:
        return None
    old_status = alert.status
    alert.status, alert.closed_at, alert.close_reason = AlertStatus.CLOSED, now, "auto_resolved"
    return {
        "client": alert.client_id,
        "action": "customers.alert.closed",
        "event_type": alert_timeline_type(alert.type, alert.reason),
        "title": f"Alert closed: {alert.reason} (auto_resolved)",
        "object_type": "alert",
        "object_id": alert.alert_id,
        "changes": {"status": [old_status, AlertStatus.CLOSED], "close_reason": ["", "auto_resolved"]},
        "data": {"reason": alert.reason, "type": alert.type},
        "impact": Impact.POSITIVE,
        "severity": Severity.INFO,
    }


def alerts_batch_save(*, created: list[Alert], changed: list[Alert]) -> None:
    """Write a chunk's alerts: one set-based update of the changed ones, one bulk insert of the new ones."""
    if changed:
        rows_update(
            Alert,
            [{"id": a.pk, **{f: getattr(a, f) for f in ALERT_UPDATE_FIELDS}} for a in changed],
            ALERT_UPDATE_FIELDS,
        )
    if created:
        Alert.objects.bulk_create(created, batch_size=1000)


def timeline_log(
    *,
    actor: Actor,
    client: Client | str,
    event_type: str,
    title: str,
    description: str = "",
    counts_as_engagement: bool = False,
    occurred_at: dt.datetime | None = None,
) -> Any:
    """Staff-logged engagement (a meeting, a call): audit + timeline entry; feeds ``last_engagement_date``."""
    with transaction.atomic():
        if not isinstance(client, Client):
            client = get_client(client, for_update=True)
        event = audit_record(
            actor=actor,
            action="customers.timeline.logged",
            object_type="timeline",
            client=client,
            data={"event_type": event_type, "title": title, "counts_as_engagement": counts_as_engagement},
        )
        entry = timeline_record(
            client=client,
            event_type=event_type,
            title=title,
            description=description,
            audit_event=event,
            actor=actor,
            occurred_at=occurred_at,
            counts_as_engagement=counts_as_engagement,
        )
        if counts_as_engagement:
            day = timezone.localdate(entry.occurred_at)
            if client.last_engagement_date is None or day > client.last_engagement_date:
                Client.objects.filter(pk=client.pk).update(last_engagement_date=day)
        return entry
