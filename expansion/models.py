"""Expansion and renewals (RULES §12): product catalogue, expansion pipeline, renewals with reminders and
negotiation proposals. ARR history itself is ``customers.ArrMovement``; nothing here duplicates it."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from cs_project.core.ids import format_seq_id, new_prefixed_id
from customers.choices import Tier

from .choices import (
    CLOSED_EXPANSION_STAGES,
    CLOSED_RENEWAL_STATUSES,
    OPEN_EXPANSION_STAGES,
    OPEN_RENEWAL_STATUSES,
    ExpansionStage,
    ExpansionType,
    NegotiationStrategy,
    ProductPricing,
    ProposalStatus,
    ReminderOffset,
    ReminderStatus,
    RenewalStatus,
)

MONEY = {"max_digits": 14, "decimal_places": 2}
UNIT_INTERVAL = [MinValueValidator(0), MaxValueValidator(1)]
NON_NEGATIVE = [MinValueValidator(Decimal("0"))]

#: A reminder is reported ``pending`` when it is due within this many days (RULES §12.3).
REMINDER_PENDING_WINDOW_DAYS = 7


def new_renewal_id() -> str:
    return new_prefixed_id("rnw")


def new_proposal_id() -> str:
    return new_prefixed_id("prop")


def _unit_interval(field: str, name: str, nullable: bool = True) -> models.CheckConstraint:
    condition = Q(**{f"{field}__gte": 0, f"{field}__lte": 1})
    if nullable:
        condition |= Q(**{f"{field}__isnull": True})
    return models.CheckConstraint(condition=condition, name=name)


class Product(models.Model):
    """An entry of the cross-sell catalogue [DB] (RULES §12.5). Ownership is the active contract's product
    list; candidates are active products not owned, available to the client's tier, prerequisites owned."""

    product_key = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    family = models.CharField(max_length=100, help_text="e.g. analytics, integrations, services.")
    description = models.TextField(blank=True, default="")
    use_case = models.CharField(max_length=500, blank=True, default="")
    annual_list_price = models.DecimalField(**MONEY, validators=NON_NEGATIVE)
    currency = models.CharField(max_length=3, default="USD")
    pricing = models.CharField(max_length=10, choices=ProductPricing.choices, default=ProductPricing.FLAT)
    min_tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.STARTER)
    prerequisites = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="required_by",
        help_text="Products a client must own.",
    )
    signal_feature_keys = models.JSONField(
        default=list, blank=True, help_text="Keys of health features whose use signals fit (list of strings)."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family", "name"]
        indexes = [models.Index(fields=["active", "family"], name="exp_product_active_family_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(annual_list_price__gte=0), name="exp_product_price_non_negative"
            ),
            models.CheckConstraint(condition=Q(min_tier__in=Tier.values), name="exp_product_min_tier_valid"),
            models.CheckConstraint(
                condition=Q(pricing__in=ProductPricing.values), name="exp_product_pricing_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.product_key})"

    def clean(self) -> None:
        keys = self.signal_feature_keys
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValidationError({"signal_feature_keys": "Give a list of feature keys (strings)."})


class ExpansionOpportunity(models.Model):
    """One expansion opportunity in the pipeline (``EXP-<n>``): tier upgrade, cross-sell, seats, usage,
    services…, created by ``upsell_detector`` (stage ``identified``) or by people, then worked to a close.

    While open there is at most one per (client, type, target), where target = target tier + target product
    (RULES §19 ``upsell_detector`` upserts on it). Seat and usage opportunities have no tier/product, so a
    client has at most one open of each such type; ``target_seats`` is the quantity and is updated in place.
    """

    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="expansion_opportunities"
    )
    opportunity_type = models.CharField(max_length=30, choices=ExpansionType.choices)
    stage = models.CharField(max_length=20, choices=ExpansionStage.choices, default=ExpansionStage.IDENTIFIED)
    description = models.CharField(max_length=300, blank=True, default="")
    target_tier = models.CharField(
        max_length=20, choices=Tier.choices, blank=True, default="", help_text="Tier upgrades: the next tier."
    )
    target_product = models.ForeignKey(
        Product,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="opportunities",
        help_text="Cross-sell / services: the catalogue product.",
    )
    target_seats = models.PositiveIntegerField(
        null=True, blank=True, help_text="User expansion: extra seats proposed (≥ 1)."
    )
    amount = models.DecimalField(
        "annual value",
        **MONEY,
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
        help_text="Expected added ARR; empty when it cannot be valued (e.g. no overage price).",
    )
    currency = models.CharField(max_length=3, default="USD")
    probability = models.FloatField(null=True, blank=True, validators=UNIT_INTERVAL)
    expected_close_date = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="expansion_opportunities",
    )
    identified_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=500, blank=True, default="")
    rule_id = models.CharField(
        max_length=20, blank=True, default="", help_text="Rule that raised it, e.g. EXP-01."
    )
    evidence = models.JSONField(default=dict, blank=True, help_text="Inputs and values the rule used.")
    notes = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "expansion opportunities"
        ordering = ["-identified_at", "-id"]
        permissions = [
            ("mcp_read", "Can call read-only expansion tools"),
            ("mcp_write", "Can call mutating expansion tools"),
        ]
        indexes = [
            models.Index(fields=["client", "identified_at"], name="exp_opp_client_time_idx"),
            models.Index(fields=["client", "stage"], name="exp_opp_client_stage_idx"),
            models.Index(fields=["stage", "opportunity_type"], name="exp_opp_stage_type_idx"),
            models.Index(fields=["opportunity_type", "closed_at"], name="exp_opp_type_closed_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                F("client"),
                F("opportunity_type"),
                F("target_tier"),
                Coalesce(F("target_product"), Value(0), output_field=models.BigIntegerField()),
                condition=Q(stage__in=OPEN_EXPANSION_STAGES),
                name="exp_opp_one_open_per_target",
                violation_error_message="An open opportunity for this client, type and target exists.",
            ),
            models.CheckConstraint(
                condition=Q(opportunity_type__in=ExpansionType.values), name="exp_opp_type_valid"
            ),
            models.CheckConstraint(condition=Q(stage__in=ExpansionStage.values), name="exp_opp_stage_valid"),
            models.CheckConstraint(
                condition=Q(target_tier="") | Q(target_tier__in=Tier.values), name="exp_opp_target_tier_valid"
            ),
            models.CheckConstraint(
                condition=~Q(opportunity_type=ExpansionType.TIER_UPGRADE) | ~Q(target_tier=""),
                name="exp_opp_tier_upgrade_has_tier",
            ),
            models.CheckConstraint(
                condition=~Q(opportunity_type=ExpansionType.CROSS_SELL) | Q(target_product__isnull=False),
                name="exp_opp_cross_sell_has_product",
            ),
            models.CheckConstraint(
                condition=Q(target_seats__isnull=True) | Q(target_seats__gte=1), name="exp_opp_seats_positive"
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="exp_opp_amount_non_negative"
            ),
            _unit_interval("probability", "exp_opp_probability_0_1"),
            models.CheckConstraint(
                condition=Q(stage__in=OPEN_EXPANSION_STAGES, closed_at__isnull=True)
                | Q(stage__in=CLOSED_EXPANSION_STAGES, closed_at__isnull=False),
                name="exp_opp_closed_at_iff_closed",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("identified_at")),
                name="exp_opp_closed_after_identified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.opportunity_id} {self.opportunity_type} ({self.stage})"

    @property
    def opportunity_id(self) -> str | None:
        return format_seq_id("EXP", self.pk)

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_EXPANSION_STAGES

    @property
    def weighted_amount(self) -> Decimal | None:
        """amount × probability (pipeline weighting); None when either is unknown."""
        if self.amount is None or self.probability is None:
            return None
        return self.amount * Decimal(str(self.probability))


class Renewal(models.Model):
    """The renewal of one contract (``rnw_…``), created when the contract end nears (RULES §12.3).

    ``target_arr`` is the ARR up for renewal, ``probability``/``status`` are refreshed from health while open
    (RULES §12.2), ``final_arr`` is set on close (won: ARR after renewal; lost: 0). At most one open renewal
    per contract, and one per contract and renewal date.
    """

    renewal_id = models.CharField(max_length=20, unique=True, default=new_renewal_id, editable=False)
    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="renewals")
    contract = models.ForeignKey(
        "customers.Contract",
        on_delete=models.RESTRICT,  # renewal history outlives nothing but its client
        related_name="renewals",
    )
    renewal_date = models.DateField()
    target_arr = models.DecimalField(**MONEY, validators=NON_NEGATIVE)
    final_arr = models.DecimalField(**MONEY, null=True, blank=True, validators=NON_NEGATIVE)
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=20, choices=RenewalStatus.choices, default=RenewalStatus.ON_TRACK)
    probability = models.FloatField(
        null=True,
        blank=True,
        validators=UNIT_INTERVAL,
        help_text="RULES §12.2; empty when health is unknown.",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome_note = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["renewal_date", "id"]
        indexes = [
            models.Index(fields=["client", "renewal_date"], name="exp_renewal_client_date_idx"),
            models.Index(fields=["status", "renewal_date"], name="exp_renewal_status_date_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["contract"],
                condition=Q(status__in=OPEN_RENEWAL_STATUSES),
                name="exp_renewal_one_open_per_contract",
                violation_error_message="This contract already has an open renewal.",
            ),
            models.UniqueConstraint(
                fields=["contract", "renewal_date"], name="exp_renewal_unique_contract_date"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RenewalStatus.values), name="exp_renewal_status_valid"
            ),
            models.CheckConstraint(condition=Q(target_arr__gte=0), name="exp_renewal_target_non_negative"),
            models.CheckConstraint(
                condition=Q(final_arr__isnull=True) | Q(final_arr__gte=0),
                name="exp_renewal_final_non_negative",
            ),
            _unit_interval("probability", "exp_renewal_probability_0_1"),
            models.CheckConstraint(
                condition=Q(status__in=OPEN_RENEWAL_STATUSES, closed_at__isnull=True)
                | Q(status__in=CLOSED_RENEWAL_STATUSES, closed_at__isnull=False),
                name="exp_renewal_closed_at_iff_closed",
            ),
            models.CheckConstraint(
                condition=Q(status__in=OPEN_RENEWAL_STATUSES, final_arr__isnull=True)
                | Q(status=RenewalStatus.WON, final_arr__isnull=False)
                | (Q(status=RenewalStatus.LOST) & (Q(final_arr__isnull=True) | Q(final_arr=0))),
                name="exp_renewal_final_matches_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.renewal_id} {self.renewal_date} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_RENEWAL_STATUSES

    @property
    def forecast_arr(self) -> Decimal | None:
        """target × probability (RULES §12.3 ``forecast_amount``); derived, never stored."""
        if self.probability is None:
            return None
        return self.target_arr * Decimal(str(self.probability))

    def clean(self) -> None:
        if self.contract_id and self.client_id and self.contract.client_id != self.client_id:
            raise ValidationError({"contract": "The contract belongs to another client."})


class RenewalReminder(models.Model):
    """A reminder N days before a renewal date (N in 90/60/30/14/7, RULES §12.3), sent by the daily
    ``renewal_reminders`` job. Its reported status derives from the time stamps (see ``status_on``)."""

    renewal = models.ForeignKey(Renewal, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.PositiveSmallIntegerField(choices=ReminderOffset.choices)
    due_date = models.DateField()
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True, help_text="Last failed send attempt.")
    last_error = models.TextField(blank=True, default="")
    cancelled_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the renewal closed unsent."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["renewal", "-days_before"]
        indexes = [
            models.Index(
                fields=["due_date"],
                condition=Q(sent_at__isnull=True, cancelled_at__isnull=True),
                name="exp_reminder_due_unsent_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["renewal", "days_before"], name="exp_reminder_unique_offset"),
            models.CheckConstraint(
                condition=Q(days_before__in=ReminderOffset.values), name="exp_reminder_offset_valid"
            ),
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(cancelled_at__isnull=True),
                name="exp_reminder_not_sent_and_cancelled",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reminder_type} due {self.due_date}"

    def status_on(self, today: dt.date) -> str:
        """Reported status (RULES §12.3) as of ``today``."""
        if self.cancelled_at:
            return ReminderStatus.CANCELLED
        if self.sent_at:
            return ReminderStatus.SENT
        if self.failed_at:
            return ReminderStatus.FAILED
        if (self.due_date - today).days <= REMINDER_PENDING_WINDOW_DAYS:
            return ReminderStatus.PENDING
        return ReminderStatus.SCHEDULED

    @property
    def reminder_type(self) -> str:
        return f"{self.days_before}_day_notice"


class RenewalProposal(models.Model):
    """A stored renewal negotiation package (``prop_…``, TOOLS §7.6): one per renewal and strategy, upserted
    as ``draft`` by ``negotiate_renewals``. ``package`` keeps the full package as built (expansion and term
    options, value proposition, guardrails, talking points)."""

    proposal_id = models.CharField(max_length=20, unique=True, default=new_proposal_id, editable=False)
    renewal = models.ForeignKey(Renewal, on_delete=models.CASCADE, related_name="proposals")
    strategy = models.CharField(
        max_length=30, choices=NegotiationStrategy.choices, default=NegotiationStrategy.VALUE_REINFORCEMENT
    )
    status = models.CharField(max_length=20, choices=ProposalStatus.choices, default=ProposalStatus.DRAFT)
    base_arr = models.DecimalField("base renewal ARR", **MONEY, validators=NON_NEGATIVE)
    proposed_arr = models.DecimalField("total proposed ARR", **MONEY, validators=NON_NEGATIVE)
    discount = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0"), validators=UNIT_INTERVAL, help_text="0–1."
    )
    term_months = models.PositiveSmallIntegerField(default=12, validators=[MinValueValidator(1)])
    package = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="exp_proposal_status_time_idx")]
        constraints = [
            models.UniqueConstraint(fields=["renewal", "strategy"], name="exp_proposal_unique_per_strategy"),
            models.CheckConstraint(
                condition=Q(strategy__in=NegotiationStrategy.values), name="exp_proposal_strategy_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ProposalStatus.values), name="exp_proposal_status_valid"
            ),
            models.CheckConstraint(condition=Q(base_arr__gte=0), name="exp_proposal_base_non_negative"),
            models.CheckConstraint(
                condition=Q(proposed_arr__gte=0), name="exp_proposal_proposed_non_negative"
            ),
            _unit_interval("discount", "exp_proposal_discount_0_1", nullable=False),
            models.CheckConstraint(condition=Q(term_months__gte=1), name="exp_proposal_term_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.proposal_id} {self.strategy} ({self.status})"
