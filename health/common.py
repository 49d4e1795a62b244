"""Small helpers shared by the health selectors and services: today's reporting date, data gaps, money,
deterministic analysis ids, client lookup and peer benchmarks (RULES §15)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from cs_project.core.errors import NotFound
from cs_project.core.stats import percentile_rank, quartiles, r
from customers.choices import ContractStatus, Tier
from customers.models import Client, Contract

from .models import Feature
from .rollups import local_date


def today() -> dt.date:
    return local_date(timezone.now())


def gap(field: str, reason: str, detail: str) -> dict[str, str]:
    return {"field": field, "reason": reason, "detail": detail}


def money(value: Any) -> float | None:
    return None if value is None else float(Decimal(value).quantize(Decimal("0.01")))


def stable_id(prefix: str, tool: str, payload: Any) -> str:
    """Deterministic id of (tool, arguments[, as-of]) (TOOLS §0.3)."""
    text = json.dumps([tool, payload], sort_keys=True, default=str)
    return f"{prefix}_{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def resolve_client(client_id: str) -> Client:
    try:
        return Client.objects.get(client_id=client_id)
    except Client.DoesNotExist:
        raise NotFound(f"Client '{client_id}' does not exist.", field="client_id") from None


#: The keys of a benchmark (RULES §15.1) that need the minimum number of peers.
BENCHMARK_PEER_KEYS = ("percentile", "peer_p25", "peer_median", "peer_p75")


def benchmark(
    metric: str,
    value: float | None,
    peers: list[float],
    dimension: str,
    dim_value: str,
    gaps: list,
    path: str,
) -> dict[str, Any]:
    """RULES §15.1 shape; fewer than ``benchmark_min_peers`` → percentile and quartiles null, each with a
    ``peer_group_too_small`` gap naming the peer count (TOOLS §0.6: every null from missing data has a gap)."""
    minimum = int(settings.CS_RULES.get("benchmark_min_peers", 5))
    out = {
        "metric": metric,
        "value": value,
        "peer_group": {"dimension": dimension, "value": dim_value, "size": len(peers)},
        "percentile": None,
        "peer_p25": None,
        "peer_median": None,
        "peer_p75": None,
    }
    if len(peers) < minimum:
        detail = f"{len(peers)} peers (< {minimum})."
        gaps.extend(gap(f"{path}.{key}", "peer_group_too_small", detail) for key in BENCHMARK_PEER_KEYS)
        return out
    p25, p50, p75 = quartiles(sorted(peers))
    out.update(
        peer_p25=r(p25, 4),
        peer_median=r(p50, 4),
        peer_p75=r(p75, 4),
        percentile=percentile_rank(value, peers) if value is not None else None,
    )
    if value is None:
        gaps.append(gap(f"{path}.value", "not_enough_data", "The client's own value is not available."))
        gaps.append(gap(f"{path}.percentile", "not_enough_data", "No own value to rank among the peers."))
    return out


def tier_rank(tier: str) -> int:
    try:
        return Tier.rank(tier)
    except ValueError:
        return 0


def seats_of(client: Client) -> int | None:
    return (
        Contract.objects.filter(client=client, status=ContractStatus.ACTIVE)
        .order_by("-start_date", "-id")
        .values_list("included_users", flat=True)
        .first()
    )


def counting_exclusions() -> list[str]:
    """Feature keys whose events do not count as activity (RULES §3.1)."""
    return list(Feature.objects.filter(counts_as_activity=False).values_list("feature_key", flat=True))
