"""Enumerations owned by the expansion app (RULES §2, §12). Shared ones (tier, priority…) are in customers."""

from django.db import models


class ExpansionType(models.TextChoices):
    """Kind of expansion opportunity (RULES §2)."""

    TIER_UPGRADE = "tier_upgrade", "Tier upgrade"
    UPSELL = "upsell", "Upsell"
    CROSS_SELL = "cross_sell", "Cross-sell"
    USER_EXPANSION = "user_expansion", "User expansion"
    USAGE_EXPANSION = "usage_expansion", "Usage expansion"
    PROFESSIONAL_SERVICES = "professional_services", "Professional services"
    TRAINING = "training", "Training"


class ExpansionStage(models.TextChoices):
    """Pipeline stage of an expansion opportunity (RULES §2); the last two are closed."""

    IDENTIFIED = "identified", "Identified"
    QUALIFIED = "qualified", "Qualified"
    PROPOSAL = "proposal", "Proposal"
    NEGOTIATION = "negotiation", "Negotiation"
    CLOSED_WON = "closed_won", "Closed won"
    CLOSED_LOST = "closed_lost", "Closed lost"


#: Stages of an opportunity still in the pipeline.
OPEN_EXPANSION_STAGES = (
    ExpansionStage.IDENTIFIED,
    ExpansionStage.QUALIFIED,
    ExpansionStage.PROPOSAL,
    ExpansionStage.NEGOTIATION,
)
CLOSED_EXPANSION_STAGES = (ExpansionStage.CLOSED_WON, ExpansionStage.CLOSED_LOST)


class RenewalStatus(models.TextChoices):
    """Renewal status (RULES §2, §12.2): three open statuses derived from probability, two closed outcomes."""

    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    HIGH_RISK = "high_risk", "High risk"
    WON = "won", "Won"
    LOST = "lost", "Lost"


OPEN_RENEWAL_STATUSES = (RenewalStatus.ON_TRACK, RenewalStatus.AT_RISK, RenewalStatus.HIGH_RISK)
CLOSED_RENEWAL_STATUSES = (RenewalStatus.WON, RenewalStatus.LOST)


class ReminderOffset(models.IntegerChoices):
    """Days before the renewal date at which a reminder is due (RULES §12.3, §20)."""

    D90 = 90, "90 days"
    D60 = 60, "60 days"
    D30 = 30, "30 days"
    D14 = 14, "14 days"
    D7 = 7, "7 days"


class ReminderStatus(models.TextChoices):
    """Reminder status as reported (RULES §12.3). Derived from the reminder's time stamps, not stored:
    ``pending`` depends on today's date."""

    SCHEDULED = "scheduled", "Scheduled"
    PENDING = "pending", "Pending (due within 7 days)"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class NegotiationStrategy(models.TextChoices):
    """``negotiation_strategy`` of ``negotiate_renewals`` (TOOLS §7.6)."""

    VALUE_REINFORCEMENT = "value_reinforcement", "Value reinforcement"
    COMPETITIVE_DEFENSE = "competitive_defense", "Competitive defense"
    EXPANSION_BUNDLE = "expansion_bundle", "Expansion bundle"


class ProposalStatus(models.TextChoices):
    """Life of a renewal proposal: stored as ``draft`` by ``negotiate_renewals``, then moved by people."""

    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent to customer"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ProductPricing(models.TextChoices):
    """How a catalogue product is priced (RULES §12.5): flat per year or per seat per year."""

    FLAT = "flat", "Flat"
    PER_SEAT = "per_seat", "Per seat"
