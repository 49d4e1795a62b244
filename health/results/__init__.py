"""Result types of the 10 health & segmentation tools (TOOLS §3).

Each tool in ``health/tools.py`` names its type as its return annotation; the registry publishes the envelope
schema generated from it (``cs_project.core.results``). Keys and nesting follow the tool's "Returns" line in
TOOLS.md; ``X | None`` where the value can be missing (with a data gap) or where TOOLS.md says "(or null)";
``dict[str, Any]`` where TOOLS.md leaves the inner shape open (keyed by segment, tier, stage, milestone …).
A key that is not in TOOLS.md is marked as such in a comment. One module per topic; this package re-exports
every tool's result type (``health.tools`` names them as ``results.<Tool>Result``).
"""

from .scoring import (
    AnalyzeHealthTrendsResult,
    CalculateHealthScoreResult,
    ChurnPrediction,
    GenerateHealthReportsResult,
)
from .segments import (
    LifecycleAnalyzeResult,
    LifecycleHistoryResult,
    LifecycleTransitionResult,
    ManageLifecycleStagesResult,
    SegmentByValueTierResult,
    SegmentCustomersResult,
)
from .usage import (
    AnalyzeEngagementPatternsResult,
    TrackAdoptionMilestonesResult,
    TrackFeatureAdoptionResult,
    TrackUsageEngagementResult,
)

__all__ = [
    "AnalyzeEngagementPatternsResult",
    "AnalyzeHealthTrendsResult",
    "CalculateHealthScoreResult",
    "ChurnPrediction",
    "GenerateHealthReportsResult",
    "LifecycleAnalyzeResult",
    "LifecycleHistoryResult",
    "LifecycleTransitionResult",
    "ManageLifecycleStagesResult",
    "SegmentByValueTierResult",
    "SegmentCustomersResult",
    "TrackAdoptionMilestonesResult",
    "TrackFeatureAdoptionResult",
    "TrackUsageEngagementResult",
]
