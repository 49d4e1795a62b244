# ruff: noqa: E501  (SQL text)
"""Health scoring benchmark against PostgreSQL (not part of the test suite). Issue 4, item 7.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cs_perf \
        .venv/bin/python benchmarks/run.py --accounts 100000 --events 20000000

Generates N accounts (``bench_…``) with contracts, invoices, one engagement entry and M usage events spread over
90 days — all with ``INSERT … SELECT generate_series`` in SQL (random data) — builds the daily roll-ups with the
set-based ``rollups.rebuild_range`` and ``VACUUM ANALYZE``s, then, for the N accounts and for the first N/2:

(a) floor: one SQL aggregate of the same raw events per account over the scoring window (W + P = 60 days:
    count, distinct users, quantity, distinct features per account). PostgreSQL may run it with its parallel
    workers (``max_parallel_workers_per_gather``, printed) — the floor also gets the machine's cores;
(b) full scoring run: the nightly job's unit of work, ``services.health_chunk_score`` per chunk —
    official snapshots, churn predictions, Client cache, movers' audit/timeline, alerts HLT-03/HLT-02/HLT-07
    raised/updated/cleared — after ``rollup_pending``; chunks (``services.DEFAULT_CHUNK_SIZE``) are spread over ``--workers`` processes
    (default 2 = the machine's cores; each its own DB connection, disjoint chunks), as Celery workers would.
    It is timed twice: a first run of the day (no snapshot, no alert, empty Client cache: every alert is
    created) and a same-day re-run (upserts, every alert re-triggered). Then, for N, the whole nightly chunk
    with its last steps — adoption milestones and lifecycle automation (RULES §19) — is timed too (first run:
    records every milestone reached so far; re-run: the nightly steady state) with ``--nightly``;

and prints floor, scoring, their ratio, the growth N vs N/2, and p50/p99 of one ``calculate_health_score``
call over MCP (JSON-RPC ``tools/call`` over HTTP to a ``runserver`` process on the same database, with a bearer
token; ``--tool-only`` times just that).
``--skip-generate`` reuses the data of a previous run. Randomness is allowed here (conventions: benchmarks/).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_project.settings")

import django  # noqa: E402


def ensure_database() -> None:
    """Create the benchmark's PostgreSQL database when it does not exist yet (one command from a clean machine)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    server = {
        "host": cfg["HOST"],
        "port": cfg["PORT"] or 5432,
        "user": cfg["USER"],
        "password": cfg["PASSWORD"],
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


ensure_database()
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from cs_project.core.context import Actor  # noqa: E402
from customers.models import Client  # noqa: E402
from health.models import Feature  # noqa: E402
from health.rollups import local_date, rebuild_range, rollup_pending  # noqa: E402
from health.services import (  # noqa: E402
    DEFAULT_CHUNK_SIZE,
    chunked,
    health_chunk_score,
    job_run_finish,
    job_run_start,
)

PREFIX = "bench_"
DAYS = 90
FLOOR_DAYS = 60  # W + P of the official 30-day lookback


def log(msg: str) -> None:
    print(msg, flush=True)


def bench_ids() -> list[int]:
    return list(
        Client.objects.filter(client_id__startswith=PREFIX).order_by("id").values_list("id", flat=True)
    )


def cleanup() -> None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM customers_client WHERE client_id LIKE %s",
            [PREFIX + "%"],
        )
        lo, hi = cur.fetchone()
        if hi < lo:
            return
        cur.execute("DELETE FROM customers_timelineevent WHERE client_id BETWEEN %s AND %s", [lo, hi])
        for table in (
            "health_usageevent",
            "health_useractivitydaily",
            "health_featureusagedaily",
            "health_clientusagedaily",
            "health_usagerolluppending",
            "health_healthsnapshot",
            "health_churnprediction",
            "customers_invoice",
            "customers_contract",
            "customers_alert",
            "customers_auditevent",
        ):
            cur.execute(f"DELETE FROM {table} WHERE client_id BETWEEN %s AND %s", [lo, hi])
        cur.execute(
            "DELETE FROM customers_client WHERE id BETWEEN %s AND %s AND client_id LIKE %s",
            [lo, hi, PREFIX + "%"],
        )


@contextmanager
def bulk_load_session():
    """Generation only (never timed): skip per-row FK triggers and build indexes once, sorted, after the load.

    ``session_replication_role = replica`` turns off the deferred FK checks that otherwise dominate the
    roll-up build (the generated rows are consistent by construction); secondary indexes of the event and roll-up
    tables are dropped for the bulk insert and re-created from their own definitions afterwards."""
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET work_mem = '1GB'")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("RESET session_replication_role")
            cur.execute("RESET maintenance_work_mem")
            cur.execute("RESET work_mem")


def plain_indexes_dropped(*tables: str):
    """Drop the tables' plain secondary indexes (constraints stay); return a function that re-creates them."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            """,
            [list(tables)],
        )
        definitions = cur.fetchall()
        for name, _ in definitions:
            cur.execute(f'DROP INDEX "{name}"')

    def recreate() -> None:
        with connection.cursor() as cur:
            for _, definition in definitions:
                cur.execute(definition)

    return recreate


def generate(accounts: int, events: int) -> None:
    with bulk_load_session():
        _generate(accounts, events)


def _generate(accounts: int, events: int) -> None:
    t0 = time.perf_counter()
    cleanup()
    log(f"  cleanup {time.perf_counter() - t0:.1f}s")
    for i in range(12):
        Feature.objects.get_or_create(
            feature_key=f"bf{i}",
            defaults={"name": f"Bench feature {i}", "is_core": i < 8, "category": "core"},
        )
    today = local_date(timezone.now())
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO customers_client (client_id, client_name, company_name, industry, tier, value_tier, status,
                lifecycle_stage, contract_value, currency, primary_contact_email, primary_contact_name, health_trend,
                risk_level, created_at, updated_at, contract_start_date, contract_end_date)
            SELECT %s || g, 'Bench ' || g, 'Bench ' || g, 'Technology',
                   (ARRAY['starter','standard','professional','enterprise'])[1 + g %% 4], 'standard', 'active',
                   'active', 25000, 'USD', '', '', '', '', now(), now(), %s, %s
            FROM generate_series(1, %s) g
            """,
            [PREFIX, today - dt.timedelta(days=400), today + dt.timedelta(days=200), accounts],
        )
        cur.execute("SELECT min(id), max(id) FROM customers_client WHERE client_id LIKE %s", [PREFIX + "%"])
        lo, hi = cur.fetchone()
        n = hi - lo + 1
        cur.execute(
            """
            INSERT INTO customers_contract (client_id, contract_type, status, tier, value, currency, start_date,
                end_date, included_users, auto_renew, notice_period_days, payment_status, payment_status_manual,
                created_at)
            SELECT id, 'annual', 'active', tier, 25000, 'USD', %s, %s, 10 + (id %% 40), false, 30, 'current', false,
                   now()
            FROM customers_client WHERE id BETWEEN %s AND %s
            """,
            [today - dt.timedelta(days=400), today + dt.timedelta(days=200), lo, hi],
        )
        cur.execute(
            """
            INSERT INTO customers_invoice (client_id, amount, currency, issued_on, due_date, paid_on, status)
            SELECT c.id, 1000, 'USD', %s::date - k * 30, %s::date - k * 30 + 30,
                   CASE WHEN random() < 0.8 THEN %s::date - k * 30 + (random() * 45)::int END,
                   'open'
            FROM customers_client c CROSS JOIN generate_series(1, 3) k WHERE c.id BETWEEN %s AND %s
            """,
            [today, today, today, lo, hi],
        )
        cur.execute(
            "UPDATE customers_invoice SET status = 'paid' WHERE paid_on IS NOT NULL AND client_id BETWEEN %s AND %s",
            [lo, hi],
        )
        cur.execute(
            """
            INSERT INTO customers_timelineevent (event_id, client_id, occurred_at, event_type, title, description,
                impact, severity, source_type, source_id, actor, counts_as_engagement)
            SELECT gen_random_uuid(), id, now() - random() * interval '120 days', 'communication', 'Call', '',
                   'neutral', 'info', '', '', 'bench', true
            FROM customers_client WHERE id BETWEEN %s AND %s
            """,
            [lo, hi],
        )
    log(f"  accounts, contracts, invoices, timeline {time.perf_counter() - t0:.1f}s")
    t1 = time.perf_counter()
    recreate_indexes = plain_indexes_dropped("health_usageevent")
    step = 2_000_000  # one statement per 2M events (one transaction each), in time order like ingestion
    for first in range(1, events + 1, step):
        last = min(events, first + step - 1)
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                """
                INSERT INTO health_usageevent (client_id, user_id, event_name, feature_key, occurred_at, quantity,
                    properties, source, message_id, received_at)
                SELECT %s + (random() * (%s - 1))::int, 'u' || (random() * 25)::int, 'bench', 'bf' || (random() * 11)::int,
                       ts, 1, '{}'::jsonb, 'mixpanel', 'bench-' || g, ts
                FROM (SELECT g, now() - interval '%s days' * (1 - (g - random()) / %s) AS ts
                      FROM generate_series(%s, %s) g) s
                """,
                [lo, n, DAYS, events, first, last],
            )
    log(f"  {events} usage events {time.perf_counter() - t1:.1f}s")
    t1 = time.perf_counter()
    recreate_indexes()
    log(f"  event indexes re-created {time.perf_counter() - t1:.1f}s")
    log(f"generated {accounts} accounts, {events} events in {time.perf_counter() - t0:.1f}s")
    build_rollups(lo, hi)


def build_rollups(lo: int, hi: int) -> None:
    """Roll-ups of the bench accounts (ids lo..hi) over the event days, then VACUUM ANALYZE."""
    today = local_date(timezone.now())
    t0 = time.perf_counter()
    recreate_indexes = plain_indexes_dropped(
        "health_useractivitydaily", "health_featureusagedaily", "health_clientusagedaily"
    )
    rebuild_range(list(range(lo, hi + 1)), today - dt.timedelta(days=DAYS), today, chunk_clients=hi - lo + 1)
    recreate_indexes()
    log(
        f"roll-ups for {DAYS + 1} days built in {time.perf_counter() - t0:.1f}s (rollups.rebuild_range, set-based)"
    )
    t0 = time.perf_counter()
    connection.ensure_connection()
    old_autocommit = connection.get_autocommit()
    connection.set_autocommit(True)
    with connection.cursor() as cur:
        for table in (
            "health_usageevent",
            "health_useractivitydaily",
            "health_featureusagedaily",
            "health_clientusagedaily",
            "customers_client",
            "customers_contract",
            "customers_invoice",
            "customers_timelineevent",
        ):
            cur.execute(f"VACUUM ANALYZE {table}")
    connection.set_autocommit(old_autocommit)
    log(f"VACUUM ANALYZE {time.perf_counter() - t0:.1f}s")


FLOOR_PLANS = {
    "server defaults": {},
    "work_mem 256MB, no plain index scan": {"work_mem": "256MB", "enable_indexscan": "off"},
}


def floor_query(ids: list[int], as_of: dt.date, settings: dict[str, str] | None = None) -> float:
    """One aggregate of the raw events per account over the scoring window (the least any scorer must read).

    The accounts of a run are one contiguous id range, so the filter is ``client_id BETWEEN`` (a 50k-element
    ``= ANY(array)`` costs seconds of index probing by itself). ``settings`` (``SET LOCAL``) steer the plan:
    with the server defaults PostgreSQL picks an index scan on client_id — random heap reads over
    time-ordered events, and a 4 MB sort — which is 2–3× slower than a parallel bitmap scan with an in-memory
    sort; the benchmark times both and divides by the faster, so the ratio is never flattered."""
    start = dt.datetime.combine(as_of - dt.timedelta(days=FLOOR_DAYS - 1), dt.time.min, tzinfo=dt.UTC)
    lo, hi = min(ids), max(ids)
    assert hi - lo + 1 == len(ids), "bench accounts are one contiguous id range"
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        for name, value in (settings or {}).items():
            cur.execute("SELECT set_config(%s, %s, true)", [name, value])
        cur.execute(
            """
            SELECT client_id, count(*), count(DISTINCT user_id), sum(quantity), count(DISTINCT feature_key)
            FROM health_usageevent WHERE client_id BETWEEN %s AND %s AND occurred_at >= %s GROUP BY client_id
            """,
            [lo, hi, start],
        )
        rows = cur.fetchall()
    assert rows, "no events: run without --skip-generate first"
    return time.perf_counter() - t0


def reset_day(ids: list[int], as_of: dt.date) -> None:
    """State before the first run of the day: no snapshot/prediction for as_of, no alert, empty Client cache."""
    with transaction.atomic(), connection.cursor() as cur:
        lo, hi = min(ids), max(ids)
        cur.execute(
            "DELETE FROM health_healthsnapshot WHERE client_id BETWEEN %s AND %s AND as_of = %s",
            [lo, hi, as_of],
        )
        cur.execute(
            "DELETE FROM health_churnprediction WHERE client_id BETWEEN %s AND %s AND as_of = %s",
            [lo, hi, as_of],
        )
        cur.execute("DELETE FROM customers_alert WHERE client_id BETWEEN %s AND %s", [lo, hi])
        cur.execute("DELETE FROM health_clientmilestone WHERE client_id BETWEEN %s AND %s", [lo, hi])
        cur.execute(
            "UPDATE customers_client SET health_score = NULL, health_trend = '', risk_level = '', health_as_of = NULL "
            "WHERE id BETWEEN %s AND %s",
            [lo, hi],
        )
    # The reset is set-up, not the job: vacuum its dead rows so that autovacuum does not run during the timing
    # (a real night starts from a vacuumed table, not from 100k rows deleted a second ago).
    vacuum("health_healthsnapshot", "health_churnprediction", "customers_alert", "customers_client")


def vacuum(*tables: str) -> None:
    connection.ensure_connection()
    old_autocommit = connection.get_autocommit()
    connection.set_autocommit(True)
    try:
        with connection.cursor() as cur:
            for table in tables:
                cur.execute(f"VACUUM ANALYZE {table}")
    finally:
        connection.set_autocommit(old_autocommit)


def _score_chunk_in_worker(args: tuple[list[int], str, bool]) -> dict:
    chunk, as_of, adoption = args
    return health_chunk_score(
        client_ids=chunk,
        as_of=dt.date.fromisoformat(as_of),
        actor=Actor.system("benchmark"),
        adoption_and_lifecycle=adoption,
    )


def scoring_run(
    ids: list[int], as_of: dt.date, chunk_size: int, workers: int, *, adoption: bool = False
) -> tuple[float, int, int]:
    """The nightly job, timed end to end: JobRun, pending roll-ups, every chunk (in ``workers`` processes).

    ``adoption=False`` times the scoring (snapshots, predictions, cache, movers, health alerts);
    ``adoption=True`` the whole nightly chunk, adoption milestones and lifecycle automation included."""
    t0 = time.perf_counter()
    run = job_run_start(job="benchmark", params={"as_of": as_of.isoformat(), "clients": len(ids)})
    rollup_pending()
    work = [(c, as_of.isoformat(), adoption) for c in chunked(ids, chunk_size)]
    if workers <= 1:
        outcomes = [_score_chunk_in_worker(w) for w in work]
    else:
        connections.close_all()  # children open their own connections (never share a socket over fork)
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            outcomes = list(pool.imap_unordered(_score_chunk_in_worker, work))
    processed = sum(o["processed"] for o in outcomes)
    failed = sum(o["failed"] for o in outcomes)
    job_run_finish(
        job_run_id=run.pk,
        processed=processed,
        failed=failed,
        errors=[e for o in outcomes for e in o["errors"]],
    )
    return time.perf_counter() - t0, processed, failed


def alert_count(ids: list[int]) -> int:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM customers_alert WHERE client_id BETWEEN %s AND %s AND status IN ('open', 'snoozed')",
            [min(ids), max(ids)],
        )
        return cur.fetchone()[0]


def _bench_user():
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    return user_model.objects.filter(username="bench_root").first() or user_model.objects.create_superuser(
        "bench_root", "bench_root@example.com", "bench-root-pass-123!"
    )


def _mcp_call(http, name: str, arguments: dict) -> dict:
    response = http.post(
        "/mcp",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        },
        # A new connection per call: runserver answers keep-alive requests with the headers and the body in
        # separate writes, and Nagle + delayed ACK then add ~40 ms that no production server would.
        headers={
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "Connection": "close",
        },
    )
    response.raise_for_status()
    result = response.json()["result"]
    if result.get("isError"):
        raise RuntimeError(str(result)[:300])
    return result


def tool_latency(ids: list[int], calls: int, port: int) -> tuple[str, list[float]]:
    """p50/p99 of ``calculate_health_score`` for one account over MCP (streamable HTTP, JSON-RPC ``tools/call``)
    against a server process on this database (``manage.py runserver --noreload``), one account per call."""
    import httpx

    from cs_project.core.auth import token_create

    sample = random.Random(7).sample(ids, min(calls, len(ids)))
    client_ids = dict(Client.objects.filter(id__in=sample).values_list("id", "client_id"))
    _, raw = token_create(
        user=_bench_user(), scopes=["read", "write"], name="benchmark", actor=Actor.system("benchmark")
    )
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    times = []
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {raw}"}, timeout=60
        ) as http:
            for _ in range(100):
                try:
                    http.get("/api/v1/")
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            for pk in sample[:3]:  # warm-up: imports, connection, first compilation
                _mcp_call(http, "calculate_health_score", {"client_id": client_ids[pk]})
            for pk in sample:
                t0 = time.perf_counter()
                _mcp_call(http, "calculate_health_score", {"client_id": client_ids[pk]})
                times.append(time.perf_counter() - t0)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return f"MCP tools/call over HTTP (runserver on 127.0.0.1:{port})", times


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    parser.add_argument(
        "--workers", type=int, default=2, help="processes scoring disjoint chunks (default 2)"
    )
    parser.add_argument("--tool-calls", type=int, default=200)
    parser.add_argument(
        "--port", type=int, default=8765, help="port of the MCP server process for tool timing"
    )
    parser.add_argument("--tool-only", action="store_true", help="only time calculate_health_score over MCP")
    parser.add_argument(
        "--nightly",
        action="store_true",
        help="also time the whole nightly chunk (adoption milestones + lifecycle automation) for N",
    )
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--generate-only", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("benchmarks/run.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0)
    t_all = time.perf_counter()
    if not args.skip_generate:
        generate(args.accounts, args.events)
    if args.generate_only:
        return
    ids = bench_ids()
    as_of = local_date(timezone.now())
    with connection.cursor() as cur:
        cur.execute("SHOW max_parallel_workers_per_gather")
        gather = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*) FROM health_usageevent WHERE client_id BETWEEN %s AND %s", [min(ids), max(ids)]
        )
        n_events = cur.fetchone()[0]
    log(
        f"data: {len(ids)} accounts, {n_events} events over {DAYS} days; as_of {as_of}; chunk {args.chunk_size}; "
        f"scoring in {args.workers} process(es); floor with max_parallel_workers_per_gather={gather}; "
        f"cores {os.cpu_count()}"
    )
    if args.tool_only:
        how, times = tool_latency(ids, args.tool_calls, args.port)
        log(
            f"calculate_health_score via {how}: {len(times)} calls, p50={1000 * statistics.median(times):.1f}ms "
            f"p99={1000 * pct(times, 99):.1f}ms"
        )
        return
    results = {}
    for label, subset in (("N", ids), ("N/2", ids[: len(ids) // 2])):
        floors = {}
        for plan, settings in FLOOR_PLANS.items():
            floor_query(subset, as_of, settings)  # warm the cache once
            floors[plan] = min(floor_query(subset, as_of, settings) for _ in range(2))
        floor = min(floors.values())
        log(f"[{label}] floor: " + "; ".join(f"{t:.2f}s ({plan})" for plan, t in floors.items()))
        reset_day(subset, as_of)
        first, processed, failed = scoring_run(subset, as_of, args.chunk_size, args.workers)
        alerts = alert_count(subset)
        rerun, _, _ = scoring_run(subset, as_of, args.chunk_size, args.workers)
        results[label] = (len(subset), floor, first, rerun)
        log(
            f"[{label}] accounts={len(subset)} floor={floor:.2f}s scoring(first run of the day)={first:.2f}s "
            f"ratio={first / floor:.2f}x | same-day re-run={rerun:.2f}s ratio={rerun / floor:.2f}x | "
            f"{1000 * first * args.workers / max(1, len(subset)):.3f} ms/account/process, "
            f"{processed} ok, {failed} failed, {alerts} live alerts"
        )
        if label == "N" and args.nightly:
            nightly_first, _, failed_n = scoring_run(
                subset, as_of, args.chunk_size, args.workers, adoption=True
            )
            nightly_rerun, _, _ = scoring_run(subset, as_of, args.chunk_size, args.workers, adoption=True)
            log(
                f"[{label}] whole nightly chunk incl. adoption milestones + lifecycle automation: "
                f"first run {nightly_first:.2f}s (records every milestone reached so far), "
                f"same-day re-run {nightly_rerun:.2f}s ratio={nightly_rerun / floor:.2f}x, {failed_n} failed"
            )
    (n_full, f_full, s_full, r_full), (n_half, f_half, s_half, r_half) = results["N"], results["N/2"]
    log(
        f"growth N/(N/2) ({n_full / max(1, n_half):.2f}x accounts): floor {f_full / f_half:.2f}x, "
        f"scoring {s_full / s_half:.2f}x, re-run {r_full / r_half:.2f}x"
    )
    how, times = tool_latency(ids, args.tool_calls, args.port)
    log(
        f"calculate_health_score via {how}: {len(times)} calls, p50={1000 * statistics.median(times):.1f}ms "
        f"p99={1000 * pct(times, 99):.1f}ms"
    )
    log(f"benchmark total {time.perf_counter() - t_all:.0f}s")


if __name__ == "__main__":
    main()
