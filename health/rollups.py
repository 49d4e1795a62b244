"""Daily usage roll-ups (RULES §3.3): rebuild every touched (client, date) from the raw events.

Ingestion records each touched (client, date) in ``UsageRollupPending`` in the same transaction as the events.
``rollup_pending`` takes a chunk of those rows, deletes them and rebuilds their roll-ups in one transaction:
per date, one DELETE and one INSERT … SELECT … GROUP BY per roll-up table. Rebuilding replaces rows, so it is
idempotent. Dates older than the raw-retention window are never rebuilt from raw (their raw events are gone);
late events for such dates are merged into the roll-ups directly by :func:`merge_expired_events`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import (
    ClientUsageDaily,
    Feature,
    FeatureUsageDaily,
    UsageEvent,
    UsageRollupPending,
    UserActivityDaily,
)

ANON_PREFIX = "anon:"


def reporting_tz() -> ZoneInfo:
    return ZoneInfo(settings.CS_RULES.get("reporting_time_zone") or "UTC")


def local_date(moment: dt.datetime) -> dt.date:
    """Calendar day of a UTC instant in the reporting time zone (RULES §1)."""
    return timezone.localtime(moment, reporting_tz()).date()


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a reporting-time-zone day, as aware datetimes."""
    tz = reporting_tz()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end


def raw_retention_cutoff(today: dt.date | None = None) -> dt.date:
    """First day whose raw events are still kept (RULES §3.3)."""
    today = today or local_date(timezone.now())
    return today - dt.timedelta(days=int(settings.CS_RULES.get("usage_raw_retention_days", 180)) - 1)


def pending_touch(pairs: Iterable[tuple[int, dt.date]]) -> None:
    """Record touched (client pk, date) pairs (upsert; call inside the ingestion transaction)."""
    now = timezone.now()
    rows = [UsageRollupPending(client_id=c, date=d, touched_at=now) for c, d in set(pairs)]
    if rows:
        UsageRollupPending.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["client", "date"], update_fields=["touched_at"]
        )


def _in_list(values: list) -> str:
    return ",".join(["%s"] * len(values))


def rebuild(client_ids: list[int], day: dt.date) -> None:
    """Replace the three roll-ups of ``day`` for ``client_ids`` with aggregates of the raw events."""
    if not client_ids:
        return
    start, end = day_bounds(day)
    ev, feat = UsageEvent._meta.db_table, Feature._meta.db_table
    uad, fud, cud = (
        UserActivityDaily._meta.db_table,
        FeatureUsageDaily._meta.db_table,
        ClientUsageDaily._meta.db_table,
    )
    ids = list(client_ids)
    marks = _in_list(ids)
    counting = "CASE WHEN f.counts_as_activity IS NULL OR f.counts_as_activity THEN 1 ELSE 0 END"
    with connection.cursor() as cur:
        for table in (uad, fud, cud):
            cur.execute(f"DELETE FROM {table} WHERE date = %s AND client_id IN ({marks})", [day, *ids])
        cur.execute(
            f"""
            INSERT INTO {uad} (client_id, user_id, date, events, quantity, counting_events, features_used)
            SELECT e.client_id, e.user_id, %s, COUNT(*), SUM(e.quantity), SUM({counting}),
                   COUNT(DISTINCT e.feature_key)
            FROM {ev} e LEFT JOIN {feat} f ON f.feature_key = e.feature_key
            WHERE e.client_id IN ({marks}) AND e.occurred_at >= %s AND e.occurred_at < %s
            GROUP BY e.client_id, e.user_id
            """,
            [day, *ids, start, end],
        )
        cur.execute(
            f"""
            INSERT INTO {fud} (client_id, feature_key, date, events, quantity, active_users)
            SELECT e.client_id, e.feature_key, %s, COUNT(*), SUM(e.quantity),
                   COUNT(DISTINCT CASE WHEN e.user_id NOT LIKE %s THEN e.user_id END)
            FROM {ev} e
            WHERE e.client_id IN ({marks}) AND e.occurred_at >= %s AND e.occurred_at < %s
            GROUP BY e.client_id, e.feature_key
            """,
            [day, ANON_PREFIX + "%", *ids, start, end],
        )
        _client_daily_from_users(cur, ids, day)


def _client_daily_from_users(cur, ids: list[int], day: dt.date) -> None:
    uad, cud = UserActivityDaily._meta.db_table, ClientUsageDaily._meta.db_table
    marks = _in_list(ids)
    cur.execute(
        f"""
        INSERT INTO {cud} (client_id, date, events, quantity, counting_events, active_users)
        SELECT u.client_id, u.date, SUM(u.events), SUM(u.quantity), SUM(u.counting_events),
               SUM(CASE WHEN u.counting_events > 0 AND u.user_id NOT LIKE %s THEN 1 ELSE 0 END)
        FROM {uad} u
        WHERE u.date = %s AND u.client_id IN ({marks})
        GROUP BY u.client_id, u.date
        """,
        [ANON_PREFIX + "%", day, *ids],
    )


def rollup_pending(*, client_ids: Iterable[int] | None = None, chunk_size: int = 5000) -> int:
    """Rebuild pending (client, date) pairs, oldest first, one transaction per chunk. Returns pairs done.

    With ``client_ids`` only those clients' pending dates are rebuilt (readers call this before reading)."""
    done = 0
    cutoff = raw_retention_cutoff()
    ids = list(client_ids) if client_ids is not None else None
    while True:
        with transaction.atomic():
            qs = UsageRollupPending.objects.order_by("touched_at", "id")
            if ids is not None:
                qs = qs.filter(client_id__any=ids)
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True)
            rows = list(qs.values_list("id", "client_id", "date")[:chunk_size])
            if not rows:
                return done
            UsageRollupPending.objects.filter(id__in=[r[0] for r in rows]).delete()
            by_day: dict[dt.date, list[int]] = defaultdict(list)
            for _, client_id, day in rows:
                if day >= cutoff:  # older dates have no raw events left to rebuild from
                    by_day[day].append(client_id)
            for day, day_ids in sorted(by_day.items()):
                rebuild(day_ids, day)
            done += len(rows)
        if len(rows) < chunk_size:
            return done


def ensure_fresh(client_ids: Iterable[int]) -> int:
    """Readers' guarantee (RULES §3.3): rebuild the still-pending dates of these clients (1 query if none)."""
    ids = list(client_ids)
    if not ids or not UsageRollupPending.objects.filter(client_id__any=ids).exists():
        return 0
    return rollup_pending(client_ids=ids)


RANGE_CHUNK_CLIENTS = 2000


def rebuild_range(
    client_ids: list[int], start: dt.date, end: dt.date, *, chunk_clients: int = RANGE_CHUNK_CLIENTS
) -> int:
    """Rebuild every date of [start, end] for the clients (benchmarks, seeding, repairs); returns the days.

    PostgreSQL, set-based: per chunk of clients, one DELETE per roll-up table for the whole range, then one
    ``INSERT … SELECT … GROUP BY client, user|feature, local date`` per table over the range (ClientUsageDaily
    from the fresh UserActivityDaily rows). Same rows as :func:`rebuild` day by day (which other databases
    use, since the reporting-time-zone day of a timestamp needs ``AT TIME ZONE``). Events arrive in time order,
    so every chunk reads pages spread over the whole range: a bulk load of the whole portfolio passes
    ``chunk_clients=len(client_ids)`` to read the events once. The ids are joined as ``unnest(array)`` so
    that the planner can hash them: ``= ANY(array)`` as a filter is a linear search per row."""
    if end < start:
        return 0
    days = (end - start).days + 1
    ids = sorted(set(client_ids))
    if connection.vendor != "postgresql":
        with transaction.atomic():
            for i in range(days):
                rebuild(ids, start + dt.timedelta(days=i))
        return days
    lo, hi = day_bounds(start)[0], day_bounds(end)[1]
    tz = str(reporting_tz())
    ev, feat = UsageEvent._meta.db_table, Feature._meta.db_table
    uad, fud, cud = (
        UserActivityDaily._meta.db_table,
        FeatureUsageDaily._meta.db_table,
        ClientUsageDaily._meta.db_table,
    )
    counting = "CASE WHEN f.counts_as_activity IS NULL OR f.counts_as_activity THEN 1 ELSE 0 END"
    local_day = "(e.occurred_at AT TIME ZONE %s)::date"
    with transaction.atomic(), connection.cursor() as cur:
        for i in range(0, len(ids), chunk_clients):
            chunk = ids[i : i + chunk_clients]
            for table in (uad, fud, cud):
                cur.execute(
                    f"DELETE FROM {table} AS t USING unnest(%s::bigint[]) AS c(id) "
                    "WHERE t.client_id = c.id AND t.date BETWEEN %s AND %s",
                    [chunk, start, end],
                )
            cur.execute(
                f"""
                INSERT INTO {uad} (client_id, user_id, date, events, quantity, counting_events, features_used)
                SELECT e.client_id, e.user_id, {local_day}, COUNT(*), SUM(e.quantity), SUM({counting}),
                       COUNT(DISTINCT e.feature_key)
                FROM {ev} e JOIN unnest(%s::bigint[]) AS c(id) ON c.id = e.client_id
                LEFT JOIN {feat} f ON f.feature_key = e.feature_key
                WHERE e.occurred_at >= %s AND e.occurred_at < %s
                GROUP BY 1, 2, 3
                """,
                [tz, chunk, lo, hi],
            )
            cur.execute(
                f"""
                INSERT INTO {fud} (client_id, feature_key, date, events, quantity, active_users)
                SELECT e.client_id, e.feature_key, {local_day}, COUNT(*), SUM(e.quantity),
                       COUNT(DISTINCT CASE WHEN e.user_id NOT LIKE %s THEN e.user_id END)
                FROM {ev} e JOIN unnest(%s::bigint[]) AS c(id) ON c.id = e.client_id
                WHERE e.occurred_at >= %s AND e.occurred_at < %s
                GROUP BY 1, 2, 3
                """,
                [tz, ANON_PREFIX + "%", chunk, lo, hi],
            )
            cur.execute(
                f"""
                INSERT INTO {cud} (client_id, date, events, quantity, counting_events, active_users)
                SELECT u.client_id, u.date, SUM(u.events), SUM(u.quantity), SUM(u.counting_events),
                       SUM(CASE WHEN u.counting_events > 0 AND u.user_id NOT LIKE %s THEN 1 ELSE 0 END)
                FROM {uad} u JOIN unnest(%s::bigint[]) AS c(id) ON c.id = u.client_id
                WHERE u.date BETWEEN %s AND %s
                GROUP BY u.client_id, u.date
                """,
                [ANON_PREFIX + "%", chunk, start, end],
            )
    return days


def merge_expired_events(events: list[dict]) -> None:
    """Add events older than the raw-retention window to the roll-ups without storing them raw (RULES §3.2).

    ``events`` carry client_id (pk), user_id, feature_key, date, quantity, counting (bool). Event and quantity
    totals are exact; per-day distinct counts (features per user, users per feature) are the larger of the
    stored and the new value, since the raw events that produced the stored value are gone."""
    if not events:
        return
    uad_new: dict[tuple, dict] = defaultdict(
        lambda: {"events": 0, "quantity": Decimal(0), "counting": 0, "f": set()}
    )
    fud_new: dict[tuple, dict] = defaultdict(lambda: {"events": 0, "quantity": Decimal(0), "users": set()})
    for e in events:
        u = uad_new[(e["client_id"], e["user_id"], e["date"])]
        u["events"] += 1
        u["quantity"] += e["quantity"]
        u["counting"] += 1 if e["counting"] else 0
        u["f"].add(e["feature_key"])
        f = fud_new[(e["client_id"], e["feature_key"], e["date"])]
        f["events"] += 1
        f["quantity"] += e["quantity"]
        if not e["user_id"].startswith(ANON_PREFIX):
            f["users"].add(e["user_id"])
    clients = {k[0] for k in uad_new}
    dates = {k[2] for k in uad_new}
    existing_u = {
        (r.client_id, r.user_id, r.date): r
        for r in UserActivityDaily.objects.filter(client_id__in=clients, date__in=dates)
    }
    existing_f = {
        (r.client_id, r.feature_key, r.date): r
        for r in FeatureUsageDaily.objects.filter(client_id__in=clients, date__in=dates)
    }
    u_rows = []
    for key, v in uad_new.items():
        old = existing_u.get(key)
        u_rows.append(
            UserActivityDaily(
                client_id=key[0],
                user_id=key[1],
                date=key[2],
                events=v["events"] + (old.events if old else 0),
                quantity=v["quantity"] + (old.quantity if old else 0),
                counting_events=v["counting"] + (old.counting_events if old else 0),
                features_used=max(len(v["f"]), old.features_used if old else 0),
            )
        )
    f_rows = []
    for key, v in fud_new.items():
        old = existing_f.get(key)
        f_rows.append(
            FeatureUsageDaily(
                client_id=key[0],
                feature_key=key[1],
                date=key[2],
                events=v["events"] + (old.events if old else 0),
                quantity=v["quantity"] + (old.quantity if old else 0),
                active_users=max(len(v["users"]), old.active_users if old else 0),
            )
        )
    UserActivityDaily.objects.bulk_create(
        u_rows,
        update_conflicts=True,
        unique_fields=["client", "user_id", "date"],
        update_fields=["events", "quantity", "counting_events", "features_used"],
    )
    FeatureUsageDaily.objects.bulk_create(
        f_rows,
        update_conflicts=True,
        unique_fields=["client", "feature_key", "date"],
        update_fields=["events", "quantity", "active_users"],
    )
    by_day: dict[dt.date, set[int]] = defaultdict(set)
    for c, _, d in uad_new:
        by_day[d].add(c)
    with connection.cursor() as cur:
        for day, ids in by_day.items():
            ids = sorted(ids)
            table = ClientUsageDaily._meta.db_table
            cur.execute(
                f"DELETE FROM {table} WHERE date = %s AND client_id IN ({_in_list(ids)})", [day, *ids]
            )
            _client_daily_from_users(cur, ids, day)
