"""The trained churn model of RULES §5.2: observations, features, training, validation, promotion, prediction.

Why a module of its own: training is a monthly, portfolio-wide batch (``churn_model_training``, RULES §19) while
prediction runs inside the nightly chunk scorer; both must compute the *same* features, so the feature
arithmetic lives once here (:func:`feature_values`) and is fed either from history (:func:`training_observations`,
data ≤ each month-end ``t``) or from today's health results (:func:`chunk_features`).

- Reads are set-based: a fixed number of SQL queries for any portfolio size (100k accounts), never one per client.
- The fitted model is stored as plain JSON numbers on :class:`health.models.ChurnModel` (no pickles), so
  :func:`predict` is plain arithmetic — scikit-learn is imported only by :func:`churn_model_train`.
- A model replaces the heuristic only when it beats it on the same validation rows (AUC + 0.02 and Brier).

Conventions used where RULES is silent are listed in ``docs/architecture/churn-model.md``.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Count, DateField, Exists, Func, Max, Min, OuterRef, Q, Subquery
from django.db.models.fields.json import KT
from django.utils import timezone

from cs_project.core.context import Actor
from cs_project.core.errors import Conflict, NotFound
from customers.audit import audit_record
from customers.choices import ContractStatus, LifecycleStage, Tier
from customers.models import ArrMovement, Client, Contract, LifecycleStageHistory

from .choices import COMPONENTS, ChurnModelStatus
from .models import ChurnModel, HealthSnapshot
from .rollups import day_bounds, local_date
from .scoring import churn_level
from .selectors import optional_model

# ----------------------------------------------------------------------------------------------------------
# Constants of RULES §5.2 (not [S]: the spec fixes them)
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
OFFICIAL_LOOKBACK_DAYS = 30
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


def _num(value: Any) -> float | None:
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


def heuristic_probability(health_score: float | None) -> float | None:
    """RULES §5.1 ``p = clamp((100 − H) / 100, 0.05, 0.95)``: the baseline the model must beat."""
    if health_score is None:
        return None
    return min(0.95, max(0.05, (100 - health_score) / 100))


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


def _contract_at(contracts: list[dict], day: dt.date) -> dict | None:
    """The client's contract in force at ``day``: latest ``start_date ≤ day`` (then highest id), cancelled ones
    excluded. Contract status is current-only, so history cannot use "status = active"."""
    best = None
    for c in contracts:
        if c["start_date"] <= day and (
            best is None or (c["start_date"], c["id"]) > (best["start_date"], best["id"])
        ):
            best = c
    return best


def _tenure_start(client: dict, contracts: list[dict]) -> dt.date:
    """First contract start (or the client's contract start, whichever is earlier); else the creation day."""
    starts = [c["start_date"] for c in contracts]
    if client.get("contract_start_date"):
        starts.append(client["contract_start_date"])
    if starts:
        return min(starts)
    return local_date(client["created_at"])


def _arr_at(
    movements: list[tuple[dt.date, float]], cumulative: list[float], contract: dict | None, day: dt.date
):
    """ARR at ``day`` = Σ ArrMovement ≤ day (RULES §14); without any movement yet, the contract value."""
    i = bisect.bisect_right(movements, (day, math.inf))
    if i:
        return cumulative[i - 1]
    if contract is not None:
        return float(contract["value"])
    return None


def _open_tickets_at(created: list[dt.datetime], stopped: list[dt.datetime], moment: dt.datetime) -> int:
    """Tickets created before ``moment`` and neither resolved nor closed before it (timestamps, so that the
    count can be rebuilt for any past month-end; today's status alone cannot)."""
    return bisect.bisect_left(created, moment) - bisect.bisect_left(stopped, moment)


def _count_between(times: list[dt.datetime], start: dt.datetime, end: dt.datetime) -> int:
    return bisect.bisect_left(times, end) - bisect.bisect_left(times, start)


def _nps_mean(responses: list[tuple[dt.datetime, int, str, float]], start: dt.datetime, end: dt.datetime):
    """Mean NPS score (0–10) in [start, end), counting only each respondent's latest response (RULES §13.1)."""
    latest: dict[str, float] = {}
    for at, _pk, key, score in responses:  # sorted by (time, id): the last write per key is the latest answer
        if start <= at < end:
            latest[key] = score
    return sum(latest.values()) / len(latest) if latest else None


class _ShiftDays(Func):
    """``date ± n days`` in SQL (PostgreSQL ``date + int``, SQLite ``date(x, '+n days')``), so that "a later
    snapshot in the same window" and "the 30-day comparison snapshot" are correlated subqueries on the
    (client, as_of) index instead of fetching every daily snapshot into Python."""

    output_field = DateField()

    def __init__(self, expression, days: int):
        super().__init__(expression)
        self.days = int(days)

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"date({sql}, '{self.days:+d} days')", params

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} + ({self.days:d}))", params

    def as_sql(self, compiler, connection, **extra):  # pragma: no cover - the project runs PG or SQLite
        raise NotImplementedError(f"_ShiftDays is not implemented for {connection.vendor}")


def _official_snapshots():
    return HealthSnapshot.objects.filter(lookback_days=OFFICIAL_LOOKBACK_DAYS)


# ----------------------------------------------------------------------------------------------------------
# Shared set-based loaders (one query each, for any number of clients)
# ----------------------------------------------------------------------------------------------------------


def _load_contracts(ids: list[int] | None) -> dict[int, list[dict]]:
    qs = Contract.objects.exclude(status=ContractStatus.CANCELLED)
    if ids is not None:
        qs = qs.filter(client_id__any=ids)
    out: dict[int, list[dict]] = defaultdict(list)
    for row in qs.order_by().values("id", "client_id", "start_date", "end_date", "value", "tier", "status"):
        out[row["client_id"]].append(row)
    return out


def _load_arr(ids: list[int] | None, last_day: dt.date) -> dict[int, tuple[list, list]]:
    """Per client: sorted (date, amount) movements ≤ last_day and their running sums (ARR at each date)."""
    qs = ArrMovement.objects.filter(movement_date__lte=last_day)
    if ids is not None:
        qs = qs.filter(client_id__any=ids)
    per: dict[int, list[tuple[dt.date, float]]] = defaultdict(list)
    for cid, day, amount in qs.order_by("client_id", "movement_date", "id").values_list(
        "client_id", "movement_date", "amount"
    ):
        per[cid].append((day, float(amount)))
    out = {}
    for cid, moves in per.items():
        running, total = [], 0.0
        for _, amount in moves:
            total += amount
            running.append(total)
        out[cid] = (moves, running)
    return out


def _ticket_model():
    return optional_model(
        "support.Ticket", "client", "created_at", "priority", "status", "resolved_at", "closed_at"
    )


def _open_ticket_statuses() -> tuple[str, ...]:
    from customers.selectors import OPEN_TICKET_STATUSES

    return tuple(OPEN_TICKET_STATUSES)


def _survey_model():
    return optional_model(
        "feedback.SurveyResponse", "client", "survey_type", "score", "respondent_email", "responded_at"
    )


def _load_tickets(ids: list[int] | None, before: dt.datetime) -> tuple[bool, dict[int, dict[str, list]]]:
    """(source available, per client sorted ``created`` / ``stopped`` / ``high`` (P0/P1 created) instants).

    A ticket stops being open at the earlier of ``resolved_at`` / ``closed_at``, unless its current status is an
    open one (a reopened ticket may keep an old ``resolved_at``; its reopening time is not stored, so it counts
    as open since creation — which also makes today's count equal the status-based one)."""
    model = _ticket_model()
    if model is None or not model.objects.exists():
        return False, {}
    qs = model.objects.filter(created_at__lt=before)
    if ids is not None:
        qs = qs.filter(client_id__any=ids)
    open_statuses = set(_open_ticket_statuses())
    per: dict[int, dict[str, list]] = defaultdict(lambda: {"created": [], "stopped": [], "high": []})
    for cid, created, resolved, closed, priority, status in qs.order_by().values_list(
        "client_id", "created_at", "resolved_at", "closed_at", "priority", "status"
    ):
        row = per[cid]
        row["created"].append(created)
        stops = [s for s in (resolved, closed) if s is not None]
        if stops and status not in open_statuses:
            row["stopped"].append(min(stops))
        if priority in ("P0", "P1"):
            row["high"].append(created)
    for row in per.values():
        for key in row:
            row[key].sort()
    return True, per


def _load_nps(ids: list[int] | None, start: dt.datetime, end: dt.datetime) -> tuple[bool, dict[int, list]]:
    """(source available, per client NPS responses in [start, end) as (time, id, respondent key, score))."""
    model = _survey_model()
    if model is None or not model.objects.filter(survey_type="nps").exists():
        return False, {}
    qs = model.objects.filter(survey_type="nps", responded_at__gte=start, responded_at__lt=end)
    if ids is not None:
        qs = qs.filter(client_id__any=ids)
    per: dict[int, list] = defaultdict(list)
    for pk, cid, mail, score, at in qs.order_by("responded_at", "id").values_list(
        "id", "client_id", "respondent_email", "score", "responded_at"
    ):
        per[cid].append((at, pk, (mail or "").strip().lower() or f"#{pk}", float(score)))
    return True, per


# ----------------------------------------------------------------------------------------------------------
# Observations (RULES §5.2): client × month-end t, label from lifecycle history
# ----------------------------------------------------------------------------------------------------------


def labelled_month_ends(*, as_of: dt.date, first_snapshot: dt.date | None) -> list[dt.date]:
    """Month-ends ``t`` with ``t ≤ as_of − 90 d`` from the month of the first official snapshot on."""
    if first_snapshot is None:
        return []
    return month_ends(first_snapshot, as_of - dt.timedelta(days=HORIZON_DAYS))


def snapshot_history(*, as_of: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """(first, last) official snapshot day ≤ as_of — one aggregate query."""
    agg = _official_snapshots().filter(as_of__lte=as_of).aggregate(first=Min("as_of"), last=Max("as_of"))
    return agg["first"], agg["last"]


def _churn_events(ids: list[int] | None = None) -> dict[int, list[tuple[dt.datetime, bool]]]:
    """Per client, (entered_at, entered churned?) of every transition into or out of ``churned``, in order."""
    qs = LifecycleStageHistory.objects.filter(
        Q(to_stage=LifecycleStage.CHURNED) | Q(from_stage=LifecycleStage.CHURNED)
    )
    if ids is not None:
        qs = qs.filter(client_id__any=ids)
    out: dict[int, list] = defaultdict(list)
    for cid, to_stage, at in qs.order_by("client_id", "entered_at", "id").values_list(
        "client_id", "to_stage", "entered_at"
    ):
        out[cid].append((at, to_stage == LifecycleStage.CHURNED))
    return out


def _churned_at(events: list[tuple[dt.datetime, bool]], moment: dt.datetime) -> bool:
    """Stage at ``moment`` is churned: the last churn-related transition before it entered ``churned``."""
    state = False
    for at, entered in events:
        if at >= moment:
            break
        state = entered
    return state


def _label(events: list[tuple[dt.datetime, bool]], after: dt.datetime, until: dt.datetime) -> int:
    """1 when the client entered ``churned`` in [after, until) — i.e. on a day in (t, t + 90 d]."""
    return int(any(entered and after <= at < until for at, entered in events))


def training_observations(*, as_of: dt.date) -> list[dict[str, Any]]:
    """All labelled observation points of RULES §5.2 as of ``as_of``, sorted by (t, client pk).

    Each point is a client × month-end ``t ≤ as_of − 90 d`` with an official snapshot (lookback 30, health score
    present) dated within [t − 3, t] (the latest one is used), the client not in stage ``churned`` at the end of
    ``t``, tenure at ``t`` ≥ 30 days. ``label`` = 1 when the client entered ``churned`` on a day in (t, t + 90 d].
    Features use data ≤ t only (snapshot ≤ t; tickets, surveys, contracts, ARR as of the end of day t).

    Set-based: nine queries whatever the portfolio size. The snapshot query keeps the latest snapshot of each
    client's window (``NOT EXISTS`` a later one) and reads the 30-day comparison score with a correlated
    subquery — both index lookups on (client, as_of) — and only two numbers out of the ``inputs`` JSON.
    Returns ``[{client_id, t, snapshot_as_of, label, health_score, features}]``."""
    first, _last = snapshot_history(as_of=as_of)
    ends = labelled_month_ends(as_of=as_of, first_snapshot=first)
    if not ends:
        return []
    window_days = [t - dt.timedelta(days=d) for t in ends for d in range(SNAPSHOT_WINDOW_DAYS + 1)]
    earlier = (
        _official_snapshots()
        .filter(
            client_id=OuterRef("client_id"),
            health_score__isnull=False,
            as_of__lte=_ShiftDays(OuterRef("as_of"), -SCORE_CHANGE_DAYS),
            as_of__gte=_ShiftDays(OuterRef("as_of"), -2 * SCORE_CHANGE_DAYS),
        )
        .order_by("-as_of")
        .values("health_score")[:1]
    )
    # a later scored snapshot in the same window: as_of in (s, s + 3] ∩ window days (windows are 4 days at
    # each month-end, so s + 3 never reaches the next one)
    later = _official_snapshots().filter(
        client_id=OuterRef("client_id"),
        health_score__isnull=False,
        as_of__in=window_days,
        as_of__gt=OuterRef("as_of"),
        as_of__lte=_ShiftDays(OuterRef("as_of"), SNAPSHOT_WINDOW_DAYS),
    )
    snapshots = (
        _official_snapshots()
        .filter(as_of__in=window_days, health_score__isnull=False)
        .filter(~Exists(later))
        .annotate(
            usage_change=KT("inputs__usage__aud_change"),
            seat_utilisation=KT("inputs__usage__utilisation"),
            score_earlier=Subquery(earlier),
        )
        .values(
            "client_id",
            "as_of",
            "health_score",
            *(f"{c}_score" for c in COMPONENTS),
            "usage_change",
            "seat_utilisation",
            "score_earlier",
        )
    )
    rows = list(snapshots.order_by())
    if not rows:
        return []
    last_t = ends[-1]
    last_moment = day_bounds(last_t)[1]
    clients = {
        c["id"]: c
        for c in Client.objects.filter(id__any=sorted({r["client_id"] for r in rows}))
        .order_by()
        .values("id", "tier", "contract_start_date", "created_at")
    }
    contracts = _load_contracts(None)
    arr = _load_arr(None, last_t)
    tickets_ok, tickets = _load_tickets(None, last_moment)
    nps_ok, nps = _load_nps(None, _window_start(ends[0], NPS_WINDOW_DAYS), last_moment)
    churn = _churn_events()

    out = []
    for r in rows:
        cid = r["client_id"]
        client = clients.get(cid)
        if client is None:
            continue
        t = month_end(r["as_of"])
        t_end = day_bounds(t)[1]
        events = churn.get(cid, [])
        if _churned_at(events, t_end):
            continue
        client_contracts = contracts.get(cid, [])
        tenure_days = (t - _tenure_start(client, client_contracts)).days
        if tenure_days < MIN_TENURE_DAYS:
            continue
        label = _label(events, t_end, day_bounds(t + dt.timedelta(days=HORIZON_DAYS))[1])
        features = _history_features(
            r, t, client, client_contracts, arr.get(cid), tickets_ok, tickets.get(cid), nps_ok, nps.get(cid)
        )
        out.append(
            {
                "client_id": cid,
                "t": t,
                "snapshot_as_of": r["as_of"],
                "label": label,
                "health_score": r["health_score"],
                "features": features,
            }
        )
    out.sort(key=lambda o: (o["t"], o["client_id"]))
    return out


def _window_start(day: dt.date, days: int) -> dt.datetime:
    """First instant of the ``days`` whole days ending with ``day`` (RULES §1 "last N days", reporting zone)."""
    return day_bounds(day - dt.timedelta(days=days - 1))[0]


def _history_features(r, t, client, contracts, arr, tickets_ok, tickets, nps_ok, nps) -> dict[str, float]:
    end_t = day_bounds(t)[1]
    contract = _contract_at(contracts, t)
    moves, running = arr or ([], [])
    earlier = r["score_earlier"]
    t_rows = tickets or {"created": [], "stopped": [], "high": []}
    return feature_values(
        components={c: r[f"{c}_score"] for c in COMPONENTS},
        health_score=r["health_score"],
        score_change_30d=(r["health_score"] - earlier) if earlier is not None else None,
        arr=_arr_at(moves, running, contract, t),
        tenure_days=(t - _tenure_start(client, contracts)).days,
        days_to_contract_end=(contract["end_date"] - t).days if contract else None,
        open_tickets=_open_tickets_at(t_rows["created"], t_rows["stopped"], end_t) if tickets_ok else 0,
        p0_p1_tickets_90d=(
            _count_between(t_rows["high"], _window_start(t, TICKET_WINDOW_DAYS), end_t) if tickets_ok else 0
        ),
        tickets_available=tickets_ok,
        nps_mean_180d=(_nps_mean(nps or [], _window_start(t, NPS_WINDOW_DAYS), end_t) if nps_ok else None),
        usage_change=_num(r["usage_change"]),
        seat_utilisation=_num(r["seat_utilisation"]),
        tier=contract["tier"] if contract else client["tier"],
    )


# ----------------------------------------------------------------------------------------------------------
# Features for today's scoring (the nightly chunk)
# ----------------------------------------------------------------------------------------------------------


def chunk_features(
    *, client_ids: list[int], as_of: dt.date, results: dict[int, dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """The §5.2 features of a scoring chunk for ``as_of``, from the chunk's health results plus 8 queries.

    ``results`` are ``health.scoring.score_chunk`` results keyed by client pk (``components``, ``health_score``,
    ``coverage``, ``inputs``). Returns ``{pk: {"values": {feature: float}, "health_score", "contract_end_date",
    "data_coverage"}}`` — the ``features`` argument of :func:`predict`. Same definitions as the training
    observations with ``t = as_of`` (the 30-day change compares today's score with the latest official snapshot
    in [as_of − 60, as_of − 30]), so a model sees at scoring time what it saw in training."""
    ids = sorted({int(i) for i in client_ids if int(i) in results})
    if not ids:
        return {}
    end = min(day_bounds(as_of)[1], timezone.now())
    clients = {
        c["id"]: c
        for c in Client.objects.filter(id__any=ids)
        .order_by()
        .values("id", "tier", "contract_start_date", "contract_end_date", "created_at")
    }
    contracts = _load_contracts(ids)
    arr = _load_arr(ids, as_of)
    tickets_ok, open_counts = _chunk_tickets(ids, as_of, end)
    nps_start = _window_start(as_of, NPS_WINDOW_DAYS)
    nps_ok, nps = _load_nps(ids, nps_start, end)
    earlier: dict[int, int] = {}
    for cid, score in (
        _official_snapshots()
        .filter(
            client_id__any=ids,
            health_score__isnull=False,
            as_of__lte=as_of - dt.timedelta(days=SCORE_CHANGE_DAYS),
            as_of__gte=as_of - dt.timedelta(days=2 * SCORE_CHANGE_DAYS),
        )
        .order_by("client_id", "as_of")
        .values_list("client_id", "health_score")
    ):
        earlier[cid] = score  # ascending: the last one per client is the latest
    out: dict[int, dict[str, Any]] = {}
    for cid in ids:
        client = clients.get(cid)
        if client is None:
            continue
        result = results[cid]
        client_contracts = contracts.get(cid, [])
        contract = _contract_at(client_contracts, as_of)
        moves, running = arr.get(cid) or ([], [])
        usage_inputs = (result.get("inputs") or {}).get("usage") or {}
        health = result.get("health_score")
        counts = open_counts.get(cid) or {}
        values = None
        if health is not None:
            values = feature_values(
                components=result["components"],
                health_score=health,
                score_change_30d=(health - earlier[cid]) if cid in earlier else None,
                arr=_arr_at(moves, running, contract, as_of),
                tenure_days=(as_of - _tenure_start(client, client_contracts)).days,
                days_to_contract_end=(contract["end_date"] - as_of).days if contract else None,
                open_tickets=counts.get("open", 0),
                p0_p1_tickets_90d=counts.get("high", 0),
                tickets_available=tickets_ok,
                nps_mean_180d=_nps_mean(nps.get(cid, []), nps_start, end) if nps_ok else None,
                usage_change=_num(usage_inputs.get("aud_change")),
                seat_utilisation=_num(usage_inputs.get("utilisation")),
                tier=contract["tier"] if contract else client["tier"],
            )
        out[cid] = {
            "values": values,
            "health_score": health,
            "contract_end_date": _current_contract_end(client_contracts, client, as_of),
            "data_coverage": result.get("coverage"),
        }
    return out


def _chunk_tickets(ids: list[int], as_of: dt.date, end: dt.datetime) -> tuple[bool, dict[int, dict]]:
    """Open tickets at ``end`` and P0/P1 tickets created in the 90 days ending with the as-of day: one GROUP BY
    (same rules as :func:`_load_tickets` for history)."""
    model = _ticket_model()
    if model is None or not model.objects.exists():
        return False, {}
    high_from = _window_start(as_of, TICKET_WINDOW_DAYS)
    still_open = Q(status__in=_open_ticket_statuses()) | (
        (Q(resolved_at__isnull=True) | Q(resolved_at__gte=end))
        & (Q(closed_at__isnull=True) | Q(closed_at__gte=end))
    )
    rows = (
        model.objects.filter(client_id__any=ids, created_at__lt=end)
        .values("client_id")
        .annotate(
            open=Count("id", filter=still_open),
            high=Count("id", filter=Q(priority__in=["P0", "P1"], created_at__gte=high_from)),
        )
        .order_by()
    )
    return True, {r["client_id"]: r for r in rows}


def _current_contract_end(contracts: list[dict], client: dict, as_of: dt.date) -> dt.date | None:
    """RULES §5.1's "current contract end date" exactly as the heuristic reads it: the active contract started
    by as-of with the latest start, else ``Client.contract_end_date``."""
    active = [c for c in contracts if c["status"] == ContractStatus.ACTIVE and c["start_date"] <= as_of]
    if active:
        return max(active, key=lambda c: (c["start_date"], c["id"]))["end_date"]
    return client.get("contract_end_date")


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
        "risk_level": churn_level(p),
        "drivers": drivers,
        "predicted_churn_date": end if (p >= 0.5 and end) else None,
    }


def active_churn_model() -> ChurnModel | None:
    """The model currently used for scoring, or None (heuristic). One query; call once per chunk."""
    return ChurnModel.objects.filter(status=ChurnModelStatus.ACTIVE).first()


# ----------------------------------------------------------------------------------------------------------
# Validation metrics (RULES §5.2) — pure functions, computed for the model and the heuristic on the same rows
# ----------------------------------------------------------------------------------------------------------


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Mann–Whitney AUC with mid-ranks for ties; None without both classes."""
    n = len(scores)
    pos = sum(labels)
    neg = n - pos
    if pos == 0 or neg == 0:
        return None
    order = sorted(range(n), key=lambda i: scores[i])
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mid = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = mid
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def pr_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Average precision ``Σ (R_k − R_{k−1}) · P_k`` over the distinct score thresholds (no interpolation, as
    ``sklearn.metrics.average_precision_score``); None without positives."""
    pos = sum(labels)
    if pos == 0:
        return None
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    tp = fp = 0
    ap = prev_recall = 0.0
    i = 0
    while i < len(pairs):
        threshold = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == threshold:
            tp += pairs[i][1]
            fp += 1 - pairs[i][1]
            i += 1
        recall = tp / pos
        ap += (recall - prev_recall) * (tp / (tp + fp))
        prev_recall = recall
    return ap


def brier_score(probabilities: Sequence[float], labels: Sequence[int]) -> float | None:
    if not labels:
        return None
    return sum((p - y) ** 2 for p, y in zip(probabilities, labels, strict=True)) / len(labels)


def log_loss(probabilities: Sequence[float], labels: Sequence[int]) -> float | None:
    """Mean negative log-likelihood, probabilities clipped to [1e-15, 1 − 1e-15]."""
    if not labels:
        return None
    total = 0.0
    for p, y in zip(probabilities, labels, strict=True):
        p = min(1 - EPS_LOG_LOSS, max(EPS_LOG_LOSS, p))
        total -= math.log(p) if y else math.log(1 - p)
    return total / len(labels)


def expected_calibration_error(probabilities: Sequence[float], labels: Sequence[int]) -> float | None:
    """ECE over 10 equal-width bins [0, 0.1), …, [0.9, 1.0]: Σ_b (n_b / N) · |mean p_b − mean y_b|."""
    n = len(labels)
    if not n:
        return None
    sums: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for p, y in zip(probabilities, labels, strict=True):
        b = min(int(p * ECE_BINS), ECE_BINS - 1)
        sums[b][0] += 1
        sums[b][1] += p
        sums[b][2] += y
    return sum(abs(sp - sy) / n for _, sp, sy in sums.values())


def precision_recall_at(
    probabilities: Sequence[float], labels: Sequence[int], threshold: float = DECISION_THRESHOLD
) -> tuple[float | None, float | None]:
    """Precision and recall of ``p ≥ threshold``; None where the denominator is 0."""
    predicted = [p >= threshold for p in probabilities]
    tp = sum(1 for hit, y in zip(predicted, labels, strict=True) if hit and y)
    n_pred = sum(predicted)
    pos = sum(labels)
    return (tp / n_pred if n_pred else None), (tp / pos if pos else None)


def top_decile_lift(probabilities: Sequence[float], labels: Sequence[int]) -> float | None:
    """Positive rate in the top 10 % by probability ÷ overall positive rate.

    The top decile is exactly N/10 rows; a group of tied probabilities straddling the cut (and a fractional
    last row) counts with its mean label, so the result does not depend on row order — the heuristic's
    probabilities are coarse (steps of 0.01) and ties are common."""
    n = len(labels)
    pos = sum(labels)
    if not n or not pos:
        return None
    k = n * TOP_DECILE
    groups: dict[float, list[int]] = defaultdict(lambda: [0, 0])
    for p, y in zip(probabilities, labels, strict=True):
        groups[p][0] += 1
        groups[p][1] += y
    taken = hits = 0.0
    for p in sorted(groups, reverse=True):
        size, group_pos = groups[p]
        if taken + size <= k:
            taken += size
            hits += group_pos
        else:
            hits += (k - taken) * group_pos / size
            taken = k
        if taken >= k:
            break
    return (hits / k) / (pos / n)


def evaluate(probabilities: Sequence[float], labels: Sequence[int]) -> dict[str, Any]:
    """All validation metrics of RULES §5.2 for one scorer on one set of rows."""
    precision, recall = precision_recall_at(probabilities, labels)
    return {
        "roc_auc": roc_auc(probabilities, labels),
        "pr_auc": pr_auc(probabilities, labels),
        "brier_score": brier_score(probabilities, labels),
        "log_loss": log_loss(probabilities, labels),
        "ece": expected_calibration_error(probabilities, labels),
        "precision_at_0_5": precision,
        "recall_at_0_5": recall,
        "top_decile_lift": top_decile_lift(probabilities, labels),
        "rows": len(labels),
        "positives": int(sum(labels)),
    }


def promotion_decision(model_metrics: dict[str, Any], heuristic_metrics: dict[str, Any]) -> tuple[bool, str]:
    """RULES §5.2: active only if AUC ≥ heuristic AUC + 0.02 **and** Brier ≤ heuristic Brier.

    A 1e-12 tolerance absorbs float noise in the sum (0.70 + 0.02 is 0.7199999…)."""
    m_auc, h_auc = model_metrics.get("roc_auc"), heuristic_metrics.get("roc_auc")
    m_brier, h_brier = model_metrics.get("brier_score"), heuristic_metrics.get("brier_score")
    if None in (m_auc, h_auc, m_brier, h_brier):
        return False, "Metrics could not be computed on the validation rows."
    auc_ok = m_auc >= h_auc + PROMOTION_AUC_MARGIN - 1e-12
    brier_ok = m_brier <= h_brier + 1e-12
    detail = (
        f"ROC AUC {m_auc:.4f} vs heuristic {h_auc:.4f} (needs ≥ +{PROMOTION_AUC_MARGIN}); "
        f"Brier {m_brier:.4f} vs heuristic {h_brier:.4f} (needs ≤)."
    )
    return auc_ok and brier_ok, detail


# ----------------------------------------------------------------------------------------------------------
# Split, standardisation, calibration
# ----------------------------------------------------------------------------------------------------------


def split_observations(observations: list[dict], *, as_of: dt.date) -> dict[str, Any]:
    """Out-of-time split: validation = the last 3 labelled month-ends (``t ≤ as_of − 90 d``, calendar months,
    whether or not they have observations); training = every earlier one. No random split."""
    last = month_end(as_of - dt.timedelta(days=HORIZON_DAYS))
    if last > as_of - dt.timedelta(days=HORIZON_DAYS):
        last = last.replace(day=1) - dt.timedelta(days=1)
    validation_dates = [last]
    while len(validation_dates) < VALIDATION_MONTHS:
        validation_dates.insert(0, validation_dates[0].replace(day=1) - dt.timedelta(days=1))
    first_validation = validation_dates[0]
    return {
        "validation_dates": validation_dates,
        "training": [o for o in observations if o["t"] < first_validation],
        "validation": [o for o in observations if first_validation <= o["t"] <= last],
    }


def calibration_split(training: list[dict]) -> tuple[list[dict], list[dict], list[dt.date]]:
    """(fit rows, calibration rows, calibration dates): calibration = the latest 25 % of the distinct training
    dates (at least one), fit = the earlier ones — disjoint, so Platt scaling sees scores of unseen rows."""
    dates = sorted({o["t"] for o in training})
    n_cal = max(1, math.ceil(len(dates) * CALIBRATION_SHARE)) if dates else 0
    cal_dates = dates[len(dates) - n_cal :] if n_cal else []
    first_cal = cal_dates[0] if cal_dates else None
    fit = [o for o in training if first_cal is None or o["t"] < first_cal]
    cal = [o for o in training if first_cal is not None and o["t"] >= first_cal]
    return fit, cal, cal_dates


def standardisation(rows) -> tuple[list[float], list[float]]:
    """Per-column mean and population standard deviation of the training rows (RULES §5.2 "standardised with
    training means and standard deviations"); a constant column gets std 1.0, so its z is 0 everywhere."""
    import numpy as np

    x = np.asarray(rows, dtype=float).reshape(len(rows), -1)
    if not len(x):
        return [0.0] * len(FEATURE_NAMES), [1.0] * len(FEATURE_NAMES)
    means = x.mean(axis=0)
    stds = x.std(axis=0)
    stds = np.where(stds > MIN_STD, stds, 1.0)
    return [float(m) for m in means], [float(sd) for sd in stds]


def platt_fit(
    scores: Sequence[float], labels: Sequence[int], *, iterations: int = 100
) -> tuple[float, float]:
    """Platt scaling ``p = σ(a · s + b)`` fitted by Newton's method (with step halving) on Platt's smoothed
    targets — (N₊ + 1)/(N₊ + 2) for positives, 1/(N₋ + 2) for negatives — as in Platt (1999) and scikit-learn's
    ``CalibratedClassifierCV(method="sigmoid")``, which writes it ``1 / (1 + exp(A s + B))``, i.e. a = −A,
    b = −B. The smoothing keeps the optimum finite even when the scores separate the classes."""
    import numpy as np

    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    pos = int(y.sum())
    neg = len(y) - pos
    t = np.where(y == 1, (pos + 1) / (pos + 2), 1 / (neg + 2))

    def objective(a: float, b: float) -> float:
        x = a * s + b  # −[t·log σ(x) + (1 − t)·log(1 − σ(x))] = log(1 + eˣ) − t·x, without overflow
        return float(np.sum(np.logaddexp(0.0, x) - t * x))

    a, b = 0.0, math.log((pos + 1) / (neg + 1))
    current = objective(a, b)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a * s + b)))
        d, w = p - t, p * (1 - p)
        g_a, g_b = float(d @ s), float(d.sum())
        h_aa, h_ab, h_bb = float(w @ (s * s)) + 1e-12, float(w @ s), float(w.sum()) + 1e-12
        det = h_aa * h_bb - h_ab * h_ab
        if det <= 0:
            break
        step_a = (h_bb * g_a - h_ab * g_b) / det
        step_b = (h_aa * g_b - h_ab * g_a) / det
        scale = 1.0
        while scale > 1e-10:
            trial = objective(a - scale * step_a, b - scale * step_b)
            if trial <= current + 1e-15:
                break
            scale /= 2
        else:
            break
        a, b = a - scale * step_a, b - scale * step_b
        improvement, current = current - trial, trial
        if max(abs(scale * step_a), abs(scale * step_b)) < 1e-12 or improvement < 1e-14:
            break
    return float(a), float(b)


# ----------------------------------------------------------------------------------------------------------
# Training job (RULES §5.2, §19 `churn_model_training`)
# ----------------------------------------------------------------------------------------------------------


def _matrix(observations: Iterable[dict]):
    """Observations → float matrix in :data:`FEATURE_NAMES` order (numpy: the training set can hold millions
    of rows)."""
    import numpy as np

    rows = [[o["features"][name] for name in FEATURE_NAMES] for o in observations]
    return np.asarray(rows, dtype=float).reshape(len(rows), len(FEATURE_NAMES))


def _linear(observations: list[dict], means, stds, coefs, intercept: float) -> list[float]:
    """``intercept + Σ coef · (x − mean) / std`` per row — the same arithmetic :func:`predict` does one by one."""
    import numpy as np

    z = (_matrix(observations) - np.asarray(means)) / np.asarray(stds)
    return [float(v) for v in z @ np.asarray(coefs) + intercept]


def _counts(training, validation, fit, cal, history_months, observations) -> dict[str, Any]:
    return {
        "observations": len(observations),
        "training": len(training),
        "training_positives": sum(o["label"] for o in training),
        "validation": len(validation),
        "validation_positives": sum(o["label"] for o in validation),
        "fit": len(fit),
        "fit_positives": sum(o["label"] for o in fit),
        "calibration": len(cal),
        "calibration_positives": sum(o["label"] for o in cal),
        "snapshot_history_months": history_months,
        "clients": len({o["client_id"] for o in observations}),
    }


def minimum_data_shortfalls(counts: dict[str, Any]) -> list[str]:
    """Which RULES §5.2 minimum-data conditions fail (empty = enough data). The fit and calibration parts must
    also each hold both classes, or neither the regression nor the calibration can be fitted."""
    out = []
    if counts["training"] < MIN_TRAINING_OBSERVATIONS:
        out.append(f"training observations {counts['training']} < {MIN_TRAINING_OBSERVATIONS}")
    if counts["training_positives"] < MIN_TRAINING_POSITIVES:
        out.append(f"training positives {counts['training_positives']} < {MIN_TRAINING_POSITIVES}")
    if counts["validation_positives"] < MIN_VALIDATION_POSITIVES:
        out.append(f"validation positives {counts['validation_positives']} < {MIN_VALIDATION_POSITIVES}")
    if counts["snapshot_history_months"] < MIN_HISTORY_MONTHS:
        out.append(f"snapshot history {counts['snapshot_history_months']} months < {MIN_HISTORY_MONTHS}")
    if not out:
        for part in ("fit", "calibration"):
            if counts[f"{part}_positives"] in (0, counts[part]):
                out.append(f"{part} rows do not contain both classes")
    return out


def _fit_logistic(observations: list[dict], means, stds) -> tuple[list[float], float]:
    """RULES §5.2's regression on standardised rows. scikit-learn ≥ 1.8 spells ``penalty="l2"`` as
    ``l1_ratio=0.0`` (``penalty`` is deprecated there and warns); the fitted model is the same L2-penalised one."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    z = (_matrix(observations) - np.asarray(means)) / np.asarray(stds)
    y = np.asarray([o["label"] for o in observations], dtype=int)
    clf = LogisticRegression(l1_ratio=0.0, C=1.0, class_weight="balanced", max_iter=1000)
    clf.fit(z, y)
    return [float(c) for c in clf.coef_[0]], float(clf.intercept_[0])


@transaction.atomic
def churn_model_train(*, as_of: dt.date | None = None, actor: Actor) -> ChurnModel:
    """Train, validate and (maybe) promote ``churn-logreg-<as_of>`` (RULES §5.2). Atomic and audited.

    - Not enough data → a ``skipped`` row with the counts, nothing else changes.
    - Otherwise the regression is fitted on the training months except the latest 25 % of their dates, Platt
      calibration on those latest dates, both scorers evaluated on the validation months; the model becomes
      ``active`` (retiring the previous active one) if it beats the heuristic, else ``rejected``.
    - Idempotent per as-of day: a same-day re-run replaces a ``skipped``/``rejected`` row of that version and
      returns an ``active``/``retired``/``deactivated`` one unchanged (its predictions may reference it)."""
    as_of = as_of or local_date(timezone.now())
    version = model_version(as_of)
    existing = ChurnModel.objects.select_for_update().filter(version=version).first()
    if existing is not None and existing.status not in (ChurnModelStatus.SKIPPED, ChurnModelStatus.REJECTED):
        return existing

    observations = training_observations(as_of=as_of)
    first, last = snapshot_history(as_of=as_of)
    history_months = whole_months(first, last) if first and last else 0
    split = split_observations(observations, as_of=as_of)
    training, validation = split["training"], split["validation"]
    fit, cal, cal_dates = calibration_split(training)
    counts = _counts(training, validation, fit, cal, history_months, observations)
    counts["validation_window"] = [d.isoformat() for d in split["validation_dates"]]
    counts["calibration_window"] = [d.isoformat() for d in cal_dates]
    model = existing or ChurnModel(version=version)
    model.trained_at = timezone.now()
    model.counts = counts
    model.training_window_start = training[0]["t"] if training else None
    model.training_window_end = training[-1]["t"] if training else None
    model.feature_names = list(FEATURE_NAMES)

    shortfalls = minimum_data_shortfalls(counts)
    if shortfalls:
        model.status = ChurnModelStatus.SKIPPED
        model.means = model.stds = model.coefficients = []
        model.intercept = model.calibration_a = model.calibration_b = None
        model.metrics = model.heuristic_metrics = {}
        model.notes = "Not enough data: " + "; ".join(shortfalls) + "."
        model.save()
        _audit_trained(model, actor)
        return model

    means, stds = standardisation(_matrix(training))
    coefs, intercept = _fit_logistic(fit, means, stds)
    a, b = platt_fit(_linear(cal, means, stds, coefs, intercept), [o["label"] for o in cal])
    val_scores = _linear(validation, means, stds, coefs, intercept)
    labels = [o["label"] for o in validation]
    model_p = [sigmoid(a * s + b) for s in val_scores]
    heuristic_p = [heuristic_probability(o["health_score"]) for o in validation]

    model.means, model.stds, model.coefficients = means, stds, coefs
    model.intercept, model.calibration_a, model.calibration_b = intercept, a, b
    model.metrics = evaluate(model_p, labels)
    model.heuristic_metrics = evaluate(heuristic_p, labels)
    promote, detail = promotion_decision(model.metrics, model.heuristic_metrics)
    previous = None
    if promote:
        previous = (
            ChurnModel.objects.select_for_update()
            .filter(status=ChurnModelStatus.ACTIVE)
            .exclude(pk=model.pk)
            .first()
        )
        if previous is not None:
            previous.status = ChurnModelStatus.RETIRED
            previous.save(update_fields=["status"])
        model.status = ChurnModelStatus.ACTIVE
        model.notes = "Promoted: " + detail
    else:
        model.status = ChurnModelStatus.REJECTED
        model.notes = "Rejected (not better than the heuristic): " + detail
    model.save()
    _audit_trained(model, actor)
    if previous is not None:
        audit_record(
            actor=actor,
            action="health.churn_model.retired",
            object_type="churn_model",
            object_id=previous.version,
            changes={"status": [ChurnModelStatus.ACTIVE, ChurnModelStatus.RETIRED]},
            data={"replaced_by": model.version},
        )
    if promote:
        audit_record(
            actor=actor,
            action="health.churn_model.promoted",
            object_type="churn_model",
            object_id=model.version,
            changes={"status": [None, ChurnModelStatus.ACTIVE]},
            data={
                "previous_active": previous.version if previous else None,
                "roc_auc": model.metrics["roc_auc"],
                "heuristic_roc_auc": model.heuristic_metrics["roc_auc"],
                "brier_score": model.metrics["brier_score"],
                "heuristic_brier_score": model.heuristic_metrics["brier_score"],
            },
        )
    return model


def _audit_trained(model: ChurnModel, actor: Actor) -> None:
    audit_record(
        actor=actor,
        action="health.churn_model.trained",
        object_type="churn_model",
        object_id=model.version,
        data={
            "status": model.status,
            "counts": model.counts,
            "metrics": model.metrics,
            "heuristic_metrics": model.heuristic_metrics,
            "notes": model.notes,
        },
    )


@transaction.atomic
def churn_model_deactivate(*, model_id: int, actor: Actor) -> ChurnModel:
    """Admin switch-off of the active model (RULES §5.2): scoring falls back to the heuristic. Audited."""
    model = ChurnModel.objects.select_for_update().filter(pk=model_id).first()
    if model is None:
        raise NotFound(f"Churn model {model_id} does not exist.", field="model_id")
    if model.status != ChurnModelStatus.ACTIVE:
        raise Conflict(f"Churn model {model.version} is {model.status}, not active.", field="model_id")
    model.status = ChurnModelStatus.DEACTIVATED
    model.notes = (model.notes + "\n" if model.notes else "") + f"Deactivated by {actor.label}."
    model.save(update_fields=["status", "notes"])
    audit_record(
        actor=actor,
        action="health.churn_model.deactivated",
        object_type="churn_model",
        object_id=model.version,
        changes={"status": [ChurnModelStatus.ACTIVE, ChurnModelStatus.DEACTIVATED]},
    )
    return model


__all__ = [
    "FEATURE_NAMES",
    "active_churn_model",
    "chunk_features",
    "churn_model_deactivate",
    "churn_model_train",
    "evaluate",
    "feature_values",
    "predict",
    "promotion_decision",
    "training_observations",
]
