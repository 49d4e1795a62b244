"""Argument checks and small lookups shared by the customers services (one home each)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q

from cs_project.core.errors import InvalidParameter, NotFound
from customers.choices import ContractType
from customers.models import Client
from customers.summaries import value_tier_for_arr

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")


# --- small helpers ---------------------------------------------------------------------------------------


def value_tier_for(arr: Decimal | float | int) -> str | None:
    """RULES §6.1 band of an ARR, from the health app's ``ValueTier`` table (its one home), which health publishes
    through ``customers.summaries`` (customers does not import the apps that depend on it)."""
    tier = value_tier_for_arr(arr)
    if tier is None:
        logger.warning("no app publishes the value-tier table; value_tier left unchanged")
    return tier


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


def json_value(value: Any) -> Any:
    """A date, datetime or Decimal as the JSON value audit ``changes`` record."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
