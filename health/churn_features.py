"""The trained churn model's features (RULES §5.2) and its prediction, as pure arithmetic: no query.

Why a module of its own: training (monthly, from history) and prediction (nightly, from today's health results)
must compute the *same* features, so the arithmetic lives once here (:func:`feature_values`), fed from history by
:func:`health.churn_data.training_observations` and from a scoring chunk by :func:`health.churn_data.chunk_features`.
The point-in-time helpers below answer "as of the end of day t" over pre-fetched, sorted rows, so history needs no
query per client. The fitted model is plain JSON numbers on :class:`health.models.ChurnModel`, so :func:`predict`
needs neither numpy nor scikit-learn. Conventions where RULES is silent: ``docs/architecture/churn-model.md``.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from customers.choices import Tier
from customers.rules import churn_level_for_probability

from .choices import COMPONENTS
from .rollups import local_date

if TYPE_CHECKING:
    from .models import ChurnModel

# ----------------------------------------------------------------------------------------------------------
# Constants of RULES §5.2 (not [S]: the spec fixes them) — the one home of every churn-model constant
# ----------------------------------------------------------------------------------------------------------

VERSION_PREFIX = "churn-logreg-"
HORIZON_DAYS = 90
SNAPSHOT_WINDOW_DAYS = 3  # an official snapshot within 3 days before t: as_of ∈ [t − 3, t]
MIN_TENURE_DAYS = 30
VALIDATION_MONTHS = 3
CALIBRATION_SHARE = 0.25
MIN_TRAINING_OBSERVATIONS = 500
MIN_TRAINING_POSITIVES = 40
MIN_VALIDATION_POSITIVES = 10
MIN_HISTORY_MONTHS = 12
PROMOTION_AUC_MARGIN = 0.02
SCORE_CHANGE_DAYS = 30  # "30-day score change": §4.6's comparison rule with N = 30 → window [s − 60, s − 30]
TICKET_WINDOW_DAYS = 90
NPS_WINDOW_DAYS = 180
DAYS_PER_MONTH = 365.25 / 12  # tenure months = tenure days / mean Gregorian month length
CONTRACT_END_CAP_DAYS = 365
ECE_BINS = 10
DECISION_THRESHOLD = 0.5
TOP_DECILE = 0.10
EPS_LOG_LOSS = 1e-15
MIN_STD = 1e-12  # a constant training column is stored with std 1.0 (its standardised value is then 0)
DRIVER_COUNT = 5

TIERS: tuple[str, ...] = tuple(Tier.values)

#: The model's inputs, in the order of the stored coefficient vector. Every nullable input carries a 0/1
#: missing-indicator (RULES §5.2: "missing → 0 plus a missing-indicator"); ``tickets_missing`` is set when the
#: ticket source (support app / its table) is absent or empty, so "no tickets" is never faked as "zero tickets".
FEATURE_NAMES: tuple[str, ...] = (
    *(f"{c}_score" for c in COMPONENTS),
    *(f"{c}_missing" for c in COMPONENTS),
    "health_score",
    "score_change_30d",
    "score_change_30d_missing",
    "log_arr",
    "arr_missing",
    "tenure_months",
    "days_to_contract_end",
    "contract_end_missing",
    "open_tickets",
    "p0_p1_tickets_90d",
    "tickets_missing",
    "nps_mean_180d",
    "nps_missing",
    "usage_change",
    "usage_change_missing",
    "seat_utilisation",
    "seat_utilisation_missing",
    *(f"tier_{t}" for t in TIERS),
)


def model_version(as_of: dt.date) -> str:
    """``churn-logreg-<YYYYMMDD>`` of the as-of date (RULES §1 versioning)."""
    return f"{VERSION_PREFIX}{as_of:%Y%m%d}"


# ----------------------------------------------------------------------------------------------------------
# Feature arithmetic — the single definition shared by training and scoring
# ----------------------------------------------------------------------------------------------------------


def num(value: Any) -> float | None:
    """A JSON / SQL value as a float (KT() returns text on PostgreSQL, a number on SQLite); None stays None."""
    if value is None or value == "":
        return None
    return float(value)


def feature_values(
    *,
    components: dict[str, float | None],
    health_score: float,
    score_change_30d: float | None,
    arr: float | None,
    tenure_days: int,
    days_to_contract_end: int | None,
    open_tickets: int,
    p0_p1_tickets_90d: int,
    tickets_available: bool,
    nps_mean_180d: float | None,
    usage_change: float | None,
    seat_utilisation: float | None,
    tier: str | None,
) -> dict[str, float]:
    """The RULES §5.2 feature vector as ``{name: float}`` in :data:`FEATURE_NAMES` order.

    Pure so that history (training) and today (scoring) go through the same arithmetic: a missing value becomes
    0 with its indicator set to 1; days to contract end are clamped to 0–365; ARR enters as log(1 + ARR)."""
    out: dict[str, float] = {}
    for c in COMPONENTS:
        s = components.get(c)
        out[f"{c}_score"] = 0.0 if s is None else float(s)
    for c in COMPONENTS:
        out[f"{c}_missing"] = 1.0 if components.get(c) is None else 0.0
    out["health_score"] = float(health_score)
    out["score_change_30d"] = 0.0 if score_change_30d is None else float(score_change_30d)
    out["score_change_30d_missing"] = 1.0 if score_change_30d is None else 0.0
    out["log_arr"] = 0.0 if arr is None else math.log1p(max(0.0, float(arr)))
    out["arr_missing"] = 1.0 if arr is None else 0.0
    out["tenure_months"] = tenure_days / DAYS_PER_MONTH
    if days_to_contract_end is None:
        out["days_to_contract_end"], out["contract_end_missing"] = 0.0, 1.0
    else:
        out["days_to_contract_end"] = float(min(CONTRACT_END_CAP_DAYS, max(0, days_to_contract_end)))
        out["contract_end_missing"] = 0.0
    out["open_tickets"] = float(open_tickets) if tickets_available else 0.0
    out["p0_p1_tickets_90d"] = float(p0_p1_tickets_90d) if tickets_available else 0.0
    out["tickets_missing"] = 0.0 if tickets_available else 1.0
    out["nps_mean_180d"] = 0.0 if nps_mean_180d is None else float(nps_mean_180d)
    out["nps_missing"] = 1.0 if nps_mean_180d is None else 0.0
    out["usage_change"] = 0.0 if usage_change is None else float(usage_change)
    out["usage_change_missing"] = 1.0 if usage_change is None else 0.0
    out["seat_utilisation"] = 0.0 if seat_utilisation is None else float(seat_utilisation)
    out["seat_utilisation_missing"] = 1.0 if seat_utilisation is None else 0.0
    for t in TIERS:
        out[f"tier_{t}"] = 1.0 if tier == t else 0.0
    return out


# ----------------------------------------------------------------------------------------------------------
# Point-in-time lookups over pre-fetched rows (per client, sorted): history without a query per client
# ----------------------------------------------------------------------------------------------------------


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every month-end date ``t`` with ``first ≤ t ≤ last``."""
    out = []
    t = month_end(first)
    while t <= last:
        if t >= first:
            out.append(t)
        t = month_end(t + dt.timedelta(days=1))
    return out


def whole_months(first: dt.date, last: dt.date) -> int:
    """Completed calendar months from ``first`` to ``last`` (2025-01-15 → 2026-01-14 is 11, → 01-15 is 12)."""
    months = (last.year - first.year) * 12 + (last.month - first.month)
    if last.day < first.day and last != month_end(last):
        months -= 1
    return max(0, months)


def contract_at(contracts: list[dict], day: dt.date) -> dict | None:
    """The client's contract in force at ``day``: latest ``start_date ≤ day`` (then highest id), cancelled ones
    excluded. Contract status is current-only, so history cannot use "status = active"."""
    best = None
    for c in contracts:
        if c["start_date"] <= day and (
            best is None or (c["start_date"], c["id"]) > (best["start_date"], best["id"])
        ):
            best = c
    return best


def tenure_start(client: dict, contracts: list[dict]) -> dt.date:
    """First contract start (or the client's contract start, whichever is earlier); else the creation day."""
    starts = [c["start_date"] for c in contracts]
    if client.get("contract_start_date"):
        starts.append(client["contract_start_date"])
    if starts:
        return min(starts)
    return local_date(client["created_at"])


def arr_at(
    movements: list[tuple[dt.date, float]], cumulative: list[float], contract: dict | None, day: dt.date
):
    """ARR at ``day`` = Σ ArrMovement ≤ day (RULES §14); without any movement yet, the contract value."""
    i = bisect.bisect_right(movements, (day, math.inf))
    if i:
        return cumulative[i - 1]
    if contract is not None:
        return float(contract["value"])
    return None


def open_tickets_at(created: list[dt.datetime], stopped: list[dt.datetime], moment: dt.datetime) -> int:
    """Tickets created before ``moment`` and neither resolved nor closed before it (timestamps, so that the
    count can be rebuilt for any past month-end; today's status alone cannot)."""
    return bisect.bisect_left(created, moment) - bisect.bisect_left(stopped, moment)


def count_between(times: list[dt.datetime], start: dt.datetime, end: dt.datetime) -> int:
    return bisect.bisect_left(times, end) - bisect.bisect_left(times, start)


def nps_mean(responses: list[tuple[dt.datetime, int, str, float]], start: dt.datetime, end: dt.datetime):
    """Mean NPS score (0–10) in [start, end), counting only each respondent's latest response (RULES §13.1)."""
    latest: dict[str, float] = {}
    for at, _pk, key, score in responses:  # sorted by (time, id): the last write per key is the latest answer
        if start <= at < end:
            latest[key] = score
    return sum(latest.values()) / len(latest) if latest else None


# ----------------------------------------------------------------------------------------------------------
# Prediction: plain arithmetic on the stored JSON numbers
# ----------------------------------------------------------------------------------------------------------


def sigmoid(x: float) -> float:
    """Numerically stable logistic function."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def predict(*, model: ChurnModel, features: dict[str, Any]) -> dict[str, Any]:
    """The churn prediction of one client by a stored model (RULES §5.2 "Output when active").

    ``features`` is one record of :func:`chunk_features`. ``p = σ(a · (intercept + Σ coef_i · z_i) + b)`` with
    ``z_i = (x_i − mean_i) / std_i`` and (a, b) the Platt calibration. Same keys as the heuristic's output
    (``health.scoring.churn_heuristic``) plus ``model_id``. A client without a health score gets
    ``probability = None`` as with the heuristic (§4.3: no score rests on < 50 % coverage)."""
    values = features.get("values")
    base = {
        "method": model.version,
        "calibrated": True,
        "horizon_days": HORIZON_DAYS,
        "data_coverage": features.get("data_coverage"),
        "model_metrics": dict(model.metrics or {}),
        "model_id": model.pk,
    }
    if values is None:
        return {**base, "probability": None, "risk_level": None, "drivers": [], "predicted_churn_date": None}
    missing = [n for n in model.feature_names if n not in values]
    if missing:
        raise ValueError(f"Features {missing} required by {model.version} were not computed.")
    logit = float(model.intercept)
    contributions = []
    for name, mean, std, coef in zip(
        model.feature_names, model.means, model.stds, model.coefficients, strict=True
    ):
        z = (values[name] - mean) / std
        part = coef * z
        logit += part
        contributions.append((name, values[name], z, part))
    p = sigmoid(model.calibration_a * logit + model.calibration_b)
    drivers = [
        {
            "feature": name,
            "value": value,
            "standardised_value": z,
            "contribution": part,
            "direction": "increases_risk" if part > 0 else "decreases_risk",
        }
        for name, value, z, part in sorted(contributions, key=lambda c: (-abs(c[3]), c[0]))
        if part != 0
    ][:DRIVER_COUNT]
    end = features.get("contract_end_date")
    return {
        **base,
        "probability": p,
        "risk_level": churn_level_for_probability(p),
        "drivers": drivers,
        "predicted_churn_date": end if (p >= 0.5 and end) else None,
    }
