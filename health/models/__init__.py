"""Usage events and their daily roll-ups, health scorecards and snapshots, churn models, value tiers,
segments and adoption milestones (RULES §3–§6, §8).

One module per topic; every model (and the id default functions migrations reference) is importable from here."""

from .scoring import (  # noqa: F401
    WEIGHT_FIELDS,
    ChurnModel,
    ChurnPrediction,
    HealthScorecard,
    HealthSnapshot,
)
from .segments import (  # noqa: F401
    AdoptionFramework,
    ClientMilestone,
    Segment,
    SegmentMembership,
    ValueTier,
    new_segment_id,
)
from .usage import (  # noqa: F401
    ClientUsageDaily,
    ExpiredEventReceipt,
    Feature,
    FeatureUsageDaily,
    UsageEvent,
    UsageRollupPending,
    UserActivityDaily,
)
