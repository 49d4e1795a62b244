"""The trained churn model's reads (RULES §5.2): labelled observations from history, and the features of a
scoring chunk. Set-based: a fixed number of queries for any portfolio size (100k accounts), never one per client.

Why a module of its own: it is the only part of the churn model that touches the database besides the training
service's writes; the arithmetic it feeds is in :mod:`health.churn_features`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, DateField, Exists, Func, Max, Min, OuterRef, Q, Subquery
from django.db.models.fields.json import KT
from django.utils import timezone

from customers.choices import ContractStatus, LifecycleStage
from customers.models import ArrMovement, Client, Contract, LifecycleStageHistory
from support.choices import OPEN_TICKET_STATUSES

from .choices import COMPONENTS, ChurnModelStatus
from .churn_features import (
    HORIZON_DAYS,
    MIN_TENURE_DAYS,
    NPS_WINDOW_DAYS,
    SCORE_CHANGE_DAYS,
    SNAPSHOT_WINDOW_DAYS,
    TICKET_WINDOW_DAYS,
    arr_at,
    contract_at,
    count_between,
    feature_values,
    month_end,
    month_ends,
    nps_mean,
    num,
    open_tickets_at,
    predict,
    tenure_start,
)
from .models import ChurnModel, HealthSnapshot
from .rollups import day_bounds
from .scoring_formulas import HIGH_PRIORITIES, OFFICIAL_LOOKBACK_DAYS, respondent_key
from .selectors import optional_model


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
    open_statuses = set(OPEN_TICKET_STATUSES)
    per: dict[int, dict[str, list]] = defaultdict(lambda: {"created": [], "stopped": [], "high": []})
    for cid, created, resolved, closed, priority, status in qs.order_by().values_list(
        "client_id", "created_at", "resolved_at", "closed_at", "priority", "status"
    ):
        row = per[cid]
        row["created"].append(created)
        stops = [s for s in (resolved, closed) if s is not None]
        if stops and status not in open_statuses:
            row["stopped"].append(min(stops))
        if priority in HIGH_PRIORITIES:
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
        per[cid].append((at, pk, respondent_key(mail, f"#{pk}"), float(score)))
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
        tenure_days = (t - tenure_start(client, client_contracts)).days
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
    contract = contract_at(contracts, t)
    moves, running = arr or ([], [])
    earlier = r["score_earlier"]
    t_rows = tickets or {"created": [], "stopped": [], "high": []}
    return feature_values(
        components={c: r[f"{c}_score"] for c in COMPONENTS},
        health_score=r["health_score"],
        score_change_30d=(r["health_score"] - earlier) if earlier is not None else None,
        arr=arr_at(moves, running, contract, t),
        tenure_days=(t - tenure_start(client, contracts)).days,
        days_to_contract_end=(contract["end_date"] - t).days if contract else None,
        open_tickets=open_tickets_at(t_rows["created"], t_rows["stopped"], end_t) if tickets_ok else 0,
        p0_p1_tickets_90d=(
            count_between(t_rows["high"], _window_start(t, TICKET_WINDOW_DAYS), end_t) if tickets_ok else 0
        ),
        tickets_available=tickets_ok,
        nps_mean_180d=(nps_mean(nps or [], _window_start(t, NPS_WINDOW_DAYS), end_t) if nps_ok else None),
        usage_change=num(r["usage_change"]),
        seat_utilisation=num(r["seat_utilisation"]),
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
        contract = contract_at(client_contracts, as_of)
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
                arr=arr_at(moves, running, contract, as_of),
                tenure_days=(as_of - tenure_start(client, client_contracts)).days,
                days_to_contract_end=(contract["end_date"] - as_of).days if contract else None,
                open_tickets=counts.get("open", 0),
                p0_p1_tickets_90d=counts.get("high", 0),
                tickets_available=tickets_ok,
                nps_mean_180d=nps_mean(nps.get(cid, []), nps_start, end) if nps_ok else None,
                usage_change=num(usage_inputs.get("aud_change")),
                seat_utilisation=num(usage_inputs.get("utilisation")),
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
    still_open = Q(status__in=OPEN_TICKET_STATUSES) | (
        (Q(resolved_at__isnull=True) | Q(resolved_at__gte=end))
        & (Q(closed_at__isnull=True) | Q(closed_at__gte=end))
    )
    rows = (
        model.objects.filter(client_id__any=ids, created_at__lt=end)
        .values("client_id")
        .annotate(
            open=Count("id", filter=still_open),
            high=Count("id", filter=Q(priority__in=HIGH_PRIORITIES, created_at__gte=high_from)),
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
# The active model in the nightly chunk (its arithmetic: churn_features.predict)
# ----------------------------------------------------------------------------------------------------------


def active_churn_model() -> ChurnModel | None:
    """The model currently used for scoring, or None (heuristic). One query; call once per chunk."""
    return ChurnModel.objects.filter(status=ChurnModelStatus.ACTIVE).first()


def apply_active_model(*, client_ids: list[int], as_of: dt.date, results: dict[int, dict[str, Any]]) -> None:
    """RULES §5.2: an active trained model replaces the heuristic's prediction in the chunk's ``results``
    (1 query when there is none, 9 more when there is)."""
    model = active_churn_model()
    if model is None:
        return
    for pk, features in chunk_features(client_ids=client_ids, as_of=as_of, results=results).items():
        if features["values"] is not None:
            results[pk]["churn"] = predict(model=model, features=features)
