"""Plain statistics and rounding shared by every app's analytics: no ORM, no domain rules.

RULES §1 rounds half-up on the printed value; every app rounds through :func:`round_half_up` / :func:`r`.
"""

from __future__ import annotations

import math
import statistics
from decimal import ROUND_HALF_UP, Decimal

_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(9)}
_SCALES = {places: 10.0**places for places in range(9)}


def round_half_up(value: float, places: int = 0) -> float:
    """Half-up rounding of the value as printed (``repr``), e.g. 2.675 → 2.68, as RULES' examples read.

    Fast path: away from a tie, the float and its printed form round the same way, and ``round`` is exact;
    within 1e-7 of a tie (or for huge / non-finite values) the decimal path decides."""
    scale = _SCALES.get(places)
    if scale is not None and -1e9 < value < 1e9:
        scaled = value * scale
        if abs(abs(scaled - math.floor(scaled)) - 0.5) > 1e-7:
            return round(value, places)
    q = _QUANTA.get(places) or Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(q, rounding=ROUND_HALF_UP))


def r(value: float | None, places: int) -> float | None:
    return None if value is None else round_half_up(float(value), places)


def rate_change(new: float | None, old: float | None) -> float | None:
    if new is None or not old:
        return None
    return (new - old) / old


def ols(xs: list[float], ys: list[float]) -> dict[str, float] | None:
    """Ordinary least squares y = a + b·x with r² and the residual standard error (n − 2 d.o.f.)."""
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    sse = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    sst = sum((y - my) ** 2 for y in ys)
    return {
        "slope": slope,
        "intercept": intercept,
        "r2": 1 - sse / sst if sst else 1.0,
        "se": math.sqrt(sse / (n - 2)),
        "n": n,
    }


def clamp(v: float, low: float = 0.0, high: float = 100.0) -> float:
    return max(low, min(high, v))


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[1], q[2]


def percentile_rank(value: float, peers: list[float]) -> int:
    """RULES §15.1: 100 × (peers below + 0.5 × peers equal) ÷ peers, integer."""
    below = sum(1 for p in peers if p < value)
    equal = sum(1 for p in peers if p == value)
    return int(r(100 * (below + 0.5 * equal) / len(peers), 0))


def gini(values: list[float]) -> float | None:
    xs = sorted(values)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return None
    return (2 * sum((i + 1) * x for i, x in enumerate(xs))) / (n * total) - (n + 1) / n
