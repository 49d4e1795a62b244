from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from health.models import AdoptionFramework, HealthScorecard, ValueTier
from health.selectors import value_tier_for_arr

pytestmark = pytest.mark.django_db


def test_seeded_value_tiers_match_rules_6_1():
    rows = list(ValueTier.objects.order_by("priority").values_list("name", "min_arr", "max_arr", "colour"))
    assert rows == [
        ("strategic", Decimal("200000.00"), None, "platinum"),
        ("enterprise", Decimal("100000.00"), Decimal("200000.00"), "gold"),
        ("professional", Decimal("50000.00"), Decimal("100000.00"), "silver"),
        ("standard", Decimal("10000.00"), Decimal("50000.00"), "bronze"),
        ("starter", Decimal("0.00"), Decimal("10000.00"), "standard"),
    ]


@pytest.mark.parametrize(
    ("arr", "tier"),
    [
        (0, "starter"),
        (Decimal("9999.99"), "starter"),
        (10000, "standard"),
        (49999, "standard"),
        (50000, "professional"),
        (99999.99, "professional"),
        (100000, "enterprise"),
        (199999, "enterprise"),
        (200000, "strategic"),
        (10_000_000, "strategic"),
        (None, "starter"),
    ],
)
def test_value_tier_for_arr_lower_bound_inclusive(arr, tier):
    assert value_tier_for_arr(arr) == tier


def test_value_tier_reads_the_table():
    ValueTier.objects.filter(name="standard").update(min_arr=20000)
    ValueTier.objects.filter(name="starter").update(max_arr=20000)
    assert value_tier_for_arr(15000) == "starter"


def test_default_scorecard_and_standard_framework_seeded():
    card = HealthScorecard.objects.get(is_default=True, is_active=True)
    assert card.weights() == {
        "usage": 0.35,
        "engagement": 0.25,
        "support": 0.15,
        "satisfaction": 0.15,
        "payment": 0.1,
    }
    framework = AdoptionFramework.objects.get(key="standard")
    assert [m["id"] for m in framework.milestones] == [f"m{i}" for i in range(1, 9)]
    assert [m["typical_days"] for m in framework.milestones] == [3, 14, 30, 60, 45, 90, 120, 180]


def _card(**kw):
    base = dict(
        name="Ent",
        tier="enterprise",
        usage_weight=Decimal("0.4"),
        engagement_weight=Decimal("0.2"),
        support_weight=Decimal("0.2"),
        satisfaction_weight=Decimal("0.1"),
        payment_weight=Decimal("0.1"),
    )
    base.update(kw)
    return HealthScorecard(**base)


def test_scorecard_clean_validates_sum_and_single_default():
    _card().full_clean()
    with pytest.raises(ValidationError, match="sum to 1.00"):
        _card(payment_weight=Decimal("0.2")).full_clean()
    with pytest.raises(ValidationError):
        _card(tier=None, is_default=True).full_clean()  # a second active default
    default = HealthScorecard.objects.get(is_default=True)
    default.is_active = False
    with pytest.raises(ValidationError, match="Exactly one active default"):
        default.full_clean()


def test_scorecard_db_constraints():
    with pytest.raises(IntegrityError), transaction.atomic():
        _card(payment_weight=Decimal("0.3")).save()  # sum 1.2
    with pytest.raises(IntegrityError), transaction.atomic():
        _card(usage_weight=Decimal("-0.1"), engagement_weight=Decimal("0.7")).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        _card(tier=None, is_default=True).save()  # second active default
