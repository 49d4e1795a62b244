# ruff: noqa: E501  (SQL text)
"""Health scoring benchmark against PostgreSQL (not part of the test suite).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cs_health_dev \
        .venv/bin/python benchmarks/run.py --accounts 2000 --events 200000

Generates N accounts (``bench_…``) with contracts, invoices, one engagement entry and M usage events spread over
90 days (``INSERT … SELECT generate_series``; random data), builds the daily roll-ups, then times
(a) the floor: one SQL aggregate of the same events per account over the scoring window, and
(b) a full official scoring run (set-based chunks → snapshots, churn predictions, Client cache),
and prints both, their ratio, and the same at half size (the first N/2 accounts). ``--skip-generate`` reuses
the data of a previous run. Randomness is allowed here (conventions: benchmarks/).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_project.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from customers.models import Client  # noqa: E402
from health.models import Feature, HealthSnapshot  # noqa: E402
from health.rollups import local_date, rebuild_range  # noqa: E402
from health.scoring import score_chunk  # noqa: E402
from health.services import chunked, health_scoring_run  # noqa: E402

PREFIX = "bench_"
DAYS = 90


def log(msg: str) -> None:
    print(msg, flush=True)


def bench_ids() -> list[int]:
    return list(
        Client.objects.filter(client_id__startswith=PREFIX).order_by("id").values_list("id", flat=True)
    )


def cleanup() -> None:
    ids = bench_ids()
    if not ids:
        return
    with connection.cursor() as cur:
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
            "customers_timelineevent",
            "customers_alert",
        ):
            cur.execute(f"DELETE FROM {table} WHERE client_id = ANY(%s)", [ids])
        cur.execute("DELETE FROM customers_auditevent WHERE client_id = ANY(%s)", [ids])
        cur.execute("DELETE FROM customers_client WHERE id = ANY(%s)", [ids])


def generate(accounts: int, events: int) -> None:
    t0 = time.perf_counter()
    cleanup()
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
        cur.execute(
            """
            INSERT INTO health_usageevent (client_id, user_id, event_name, feature_key, occurred_at, quantity,
                properties, source, message_id, received_at)
            SELECT %s + (random() * (%s - 1))::int, 'u' || (random() * 25)::int, 'bench', 'bf' || (random() * 11)::int,
                   ts, 1, '{}'::jsonb, 'mixpanel', 'bench-' || g, ts
            FROM (SELECT g, now() - random() * interval '%s days' AS ts FROM generate_series(1, %s) g) s
            """,
            [lo, n, DAYS, events],
        )
    log(f"generated {accounts} accounts, {events} events in {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    rebuild_range(list(range(lo, hi + 1)), today - dt.timedelta(days=DAYS), today)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    log(f"roll-ups for {DAYS + 1} days built in {time.perf_counter() - t0:.1f}s")


def floor_query(ids: list[int], as_of: dt.date) -> float:
    """One aggregate of the raw events per account over the scoring window (the least any scorer must read)."""
    start = dt.datetime.combine(as_of - dt.timedelta(days=59), dt.time.min, tzinfo=dt.UTC)
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT client_id, count(*), count(DISTINCT user_id), sum(quantity), count(DISTINCT feature_key)
            FROM health_usageevent WHERE client_id = ANY(%s) AND occurred_at >= %s GROUP BY client_id
            """,
            [ids, start],
        )
        rows = cur.fetchall()
    assert rows, "no events: run without --skip-generate first"
    return time.perf_counter() - t0


def scoring_run(ids: list[int], as_of: dt.date, chunk_size: int) -> float:
    t0 = time.perf_counter()
    for chunk in chunked(ids, chunk_size):
        with transaction.atomic():
            score_chunk(chunk, as_of)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--full-job", action="store_true", help="Also time the whole job (alerts, JobRun).")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("benchmarks/run.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    if not args.skip_generate:
        generate(args.accounts, args.events)
    ids = bench_ids()
    as_of = local_date(timezone.now())
    results = []
    for label, subset in (("full", ids), ("half", ids[: len(ids) // 2])):
        floor_query(subset, as_of)  # warm the cache once
        floor = min(floor_query(subset, as_of) for _ in range(3))
        HealthSnapshot.objects.filter(client_id__in=subset, as_of=as_of).delete()
        score = scoring_run(subset, as_of, args.chunk_size)
        rescore = scoring_run(subset, as_of, args.chunk_size)  # same-day re-run (upsert path)
        results.append((label, len(subset), floor, score, rescore))
        log(
            f"[{label}] accounts={len(subset)} floor={floor:.3f}s scoring={score:.3f}s rescoring={rescore:.3f}s "
            f"ratio={score / floor:.1f}x per-account={1000 * score / max(1, len(subset)):.2f}ms"
        )
    (_, n_full, f_full, s_full, _), (_, n_half, f_half, s_half, _) = results
    log(
        f"scaling full/half: floor {f_full / f_half:.2f}x, scoring {s_full / s_half:.2f}x "
        f"(accounts {n_full / max(1, n_half):.2f}x)"
    )
    if args.full_job:
        t0 = time.perf_counter()
        run = health_scoring_run(as_of=as_of, client_ids=ids, chunk_size=args.chunk_size, job="benchmark")
        log(
            f"[job] full nightly job incl. alerts: {time.perf_counter() - t0:.3f}s ({run.processed} ok, {run.failed} failed)"
        )


if __name__ == "__main__":
    main()
