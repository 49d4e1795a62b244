"""Account writes: register a client (TOOLS §1.1) and update its whitelisted fields (TOOLS §1.3)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from cs_project.core.context import Actor
from cs_project.core.errors import Conflict, InvalidParameter
from customers.audit import audit_and_timeline
from customers.choices import (
    AccountStatus,
    ArrMovementKind,
    ContactRole,
    ContractStatus,
    Impact,
    LifecycleStage,
    PaymentStatus,
    Severity,
    Tier,
    TimelineEventType,
)
from customers.models import (
    CLIENT_ID_PATTERN,
    ArrMovement,
    AuditEvent,
    Client,
    Contact,
    Contract,
    LifecycleStageHistory,
)
from customers.selectors.common import active_contract, today
from customers.signals import contract_end_moved, send_collecting_side_effects

from .common import (
    CENT,
    check_email,
    check_text,
    contract_type_for_term,
    generate_client_id,
    get_client,
    json_value,
    resolve_staff_user,
    to_date,
    to_money,
    value_tier_for,
)
from .lifecycle import transition_apply

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


GENERATED_ID_ATTEMPTS = 5


def _client_insert(client: Client, *, generated: bool) -> None:
    """Insert the client under a savepoint so that the unique ``client_id`` — not the earlier existence check —
    decides a race between concurrent registrations: the loser gets CONFLICT (an explicit id) or the next
    ``_<n>`` suffix (a generated id, RULES §20), and the caller's transaction stays usable."""
    for _attempt in range(GENERATED_ID_ATTEMPTS if generated else 1):
        try:
            with transaction.atomic():
                client.save(force_insert=True)
            return
        except IntegrityError:
            if not Client.objects.filter(client_id=client.client_id).exists():
                raise  # another constraint: a defect, not a race
            if generated:
                client.client_id = generate_client_id(client.client_name)
    raise Conflict(f"Client '{client.client_id}' already exists.", field="client_id")


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
    _client_insert(client, generated=not data["client_id"])
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
        previous[key] = json_value(getattr(client, key))
        new[key] = json_value(value)
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
                json_value(client.renewal_date),
                json_value(changed["contract_end_date"]),
            )
            client.renewal_date = changed["contract_end_date"]
        side_effects.extend(
            send_collecting_side_effects(
                contract_end_moved, client=client, new_end=changed["contract_end_date"], actor=actor, now=now
            )
        )
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
            stage_change = transition_apply(
                client=client,
                to_stage=LifecycleStage.CHURNED,
                actor=actor,
                reason="Status set to churned",
                rule_id="",
                now=now,
                with_timeline=False,
            )
        elif old_status == AccountStatus.CHURNED and new_status == AccountStatus.ACTIVE:
            stage_change = transition_apply(
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
