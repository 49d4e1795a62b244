"""Read side of the health app. Tools stay thin: each calls one of these (or a scoring entry point)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps

from .models import ValueTier


def optional_model(label: str, *fields: str):
    """A model of another app ("app.Model"), or None while it — or a field we read — does not exist: whatever
    is drawn from it is then "no data" / "not met" rather than an error (apps are built one after another)."""
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return None
    names = {f.name for f in model._meta.get_fields()}
    return model if set(fields) <= names else None


def value_tiers() -> list[ValueTier]:
    """The value-tier table (RULES §6.1), highest tier first."""
    return list(ValueTier.objects.order_by("-min_arr"))


def value_tier_for_arr(arr: Decimal | float | int | None) -> str:
    """Name of the value tier whose ARR band contains ``arr`` (lower bound inclusive, upper exclusive).

    Reads the ``health.ValueTier`` table. ARR null or below every band → the lowest tier."""
    amount = Decimal(str(arr or 0))
    tiers = value_tiers()
    for tier in tiers:  # highest first
        if amount >= tier.min_arr and (tier.max_arr is None or amount < tier.max_arr):
            return tier.name
    return tiers[-1].name if tiers else "starter"


def value_tier_bands() -> list[dict[str, Any]]:
    """The tiers as plain dicts (for tools and for set-based CASE expressions)."""
    return [
        {
            "name": t.name,
            "min": t.min_arr,
            "max": t.max_arr,
            "colour": t.colour,
            "priority": t.priority,
            "touch_cadence": t.touch_cadence,
            "ebr_cadence": t.ebr_cadence,
            "targets": {
                "health": t.target_health,
                "nps": t.target_nps,
                "grr": float(t.target_grr) if t.target_grr is not None else None,
            },
            "accounts_per_csm": t.accounts_per_csm,
        }
        for t in value_tiers()
    ]
