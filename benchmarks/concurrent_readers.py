"""Tool latency under concurrent readers (issue 8, defect 3): N threads calling one read-only tool at once.

    git archive <commit before the change> | tar -x -C /tmp/before && ln -s "$PWD/.venv" /tmp/before/.venv
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cs_bench_readers \
        .venv/bin/python benchmarks/concurrent_readers.py --baseline-project /tmp/before --rounds 3 \
        --threads 8 --calls 30 --tool get_client_overview

Per run: prepares the database named by ``DATABASE_URL`` with that checkout's code (``migrate``;
``seed_demo --accounts N`` when it holds no client; a superuser ``bench_reader`` with a fresh ``read`` token),
starts its ``manage.py runserver --noreload`` on 127.0.0.1 (threaded: one thread per request;
``DB_CONN_MAX_AGE=0`` so that finished threads leave no connection open; throttling lifted), and lets
``--threads`` threads call ``--tool`` over REST (or ``--doorway mcp``) ``--calls`` times each, released together
after a warm-up, each call on its own HTTP connection, one account per call in a fixed order. Prints
p50/p90/p99/max and the throughput.

With ``--baseline-project`` each round runs the baseline, then ``--project`` (default: this checkout), on the
same database — interleaved, so that load from other processes on the machine hits both alike — and the
medians over ``--rounds`` and their ratio are printed. ``--save`` writes the figures as JSON, ``--compare``
prints the ratio to a saved run; ``--url``/``--token``/``--client-ids`` target a server already running.
``--mode recording`` times only what defect 3 changed — recording one call, by ``--threads`` threads at once
in one process, each on its own connection: the chained ``core.tool.called`` audit event (advisory lock, read
the chain head, insert, commit) in a checkout that has it, the access-log row in one that has that.
No randomness is used.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

PREPARE = """
from django.contrib.auth import get_user_model
from django.core.management import call_command
from cs_project.core.auth import token_create
from cs_project.core.context import Actor
from customers.models import Client
if not Client.objects.exists():
    call_command("seed_demo", accounts={accounts}, days={days}, quiet=True)
User = get_user_model()
user = User.objects.filter(username="bench_reader").first() or User.objects.create_superuser(
    "bench_reader", "bench_reader@example.com", "bench-reader-pass-123!"
)
_, raw = token_create(user=user, scopes=["read"], name="concurrent_readers", actor=Actor.system("benchmark"))
ids = list(Client.objects.order_by("id").values_list("client_id", flat=True)[:{sample}])
print("BENCH " + __import__("json").dumps({{"token": raw, "client_ids": ids}}))
"""


# --mode recording: only the part defect 3 changed — recording one call — by N threads at once, in-process, each
# on its own database connection: the audit chain (advisory lock, read the head, insert, commit) before, the
# access log (one INSERT) after, whichever the checkout has.
RECORDING = """
import json, threading, time
from django.contrib.auth import get_user_model
from django.db import connections
user = get_user_model().objects.get(username="bench_reader")
call = dict(user=user, channel="api", arguments={{"client_id": "demo_00001"}}, outcome="success",
            duration_ms=5, request_id="0" * 32)
try:
    from cs_project.core.access_log import access_record
    impl = "access log row"
    def record():
        access_record(tool="get_client_overview", **call)
except ImportError:
    from customers.audit import tool_call_record
    impl = "audit chain event"
    def record():
        tool_call_record(name="get_client_overview", **call)
threads, calls = {threads}, {calls}
barrier = threading.Barrier(threads)
samples = [[] for _ in range(threads)]
def worker(k):
    record()
    barrier.wait()
    for _ in range(calls):
        t = time.perf_counter()
        record()
        samples[k].append((time.perf_counter() - t) * 1000)
    connections.close_all()
workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
t0 = time.perf_counter()
for w in workers:
    w.start()
for w in workers:
    w.join()
print("BENCH " + json.dumps({{"impl": impl, "samples": [v for s in samples for v in s],
                             "wall": time.perf_counter() - t0}}))
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def prepare(project: Path, accounts: int, days: int, sample: int) -> tuple[str, list[str]]:
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=project, check=True)
    code = PREPARE.format(accounts=accounts, days=days, sample=sample)
    out = subprocess.run(
        [*manage, "shell", "-c", code], cwd=project, check=True, capture_output=True, text=True
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH "))
    data = json.loads(line[len("BENCH ") :])
    return data["token"], data["client_ids"]


def start_server(project: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "CS_API_THROTTLE_RATE": "1000000/min", "DB_CONN_MAX_AGE": "0"}
    return subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def make_call(doorway: str, tool: str):
    def rest(http: httpx.Client, arguments: dict) -> None:
        response = http.post(f"/api/v1/tools/{tool}/", json=arguments, headers={"Connection": "close"})
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    def mcp(http: httpx.Client, arguments: dict) -> None:
        response = http.post(
            "/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": tool, "arguments": arguments},
            },
            headers={
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
                "Connection": "close",
            },
        )
        response.raise_for_status()
        if response.json()["result"].get("isError"):
            raise RuntimeError(response.text[:300])

    return rest if doorway == "rest" else mcp


def run(url: str, token: str, client_ids: list[str], opts) -> dict:
    call = make_call(opts.doorway, opts.tool)
    barrier = threading.Barrier(opts.threads)
    samples: list[list[float]] = [[] for _ in range(opts.threads)]
    errors: list[str] = []

    def reader(index: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            try:
                for n in range(opts.warmup):
                    call(http, {"client_id": client_ids[(index + n) % len(client_ids)]})
                barrier.wait()
                for n in range(opts.calls):
                    arguments = {"client_id": client_ids[(index * opts.calls + n) % len(client_ids)]}
                    started = time.perf_counter()
                    call(http, arguments)
                    samples[index].append((time.perf_counter() - started) * 1000)
            except Exception as exc:  # reported below; the other threads finish their calls
                errors.append(repr(exc))
                barrier.abort()

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(opts.threads)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} reader(s) failed, first: {errors[0]}")
    flat = [value for values in samples for value in values]
    return _figures(opts, flat, wall, opts.tool)


def _figures(opts, samples: list[float], wall: float, tool: str) -> dict:
    return {
        "tool": tool,
        "doorway": opts.doorway if opts.mode == "http" else "in-process",
        "threads": opts.threads,
        "calls": len(samples),
        "p50_ms": round(statistics.median(samples), 2),
        "p90_ms": round(percentile(samples, 90), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "max_ms": round(max(samples), 2),
        "calls_per_s": round(len(samples) / wall, 1),
    }


def measure_recording(project: Path, opts) -> dict:
    code = RECORDING.format(threads=opts.threads, calls=opts.calls)
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=project,
        env={**os.environ, "CS_ACCESS_LOG_LEVEL": "INFO", "DB_CONN_MAX_AGE": "0"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH "))
    data = json.loads(line[len("BENCH ") :])
    return _figures(opts, data["samples"], data["wall"], f"recording one call ({data['impl']})")


def measure(project: Path, opts) -> dict:
    """Prepare the database with ``project``'s code, serve it, run the readers, stop the server."""
    token, client_ids = prepare(project, opts.accounts, opts.days, sample=200)
    if opts.mode == "recording":
        return {**measure_recording(project, opts), "project": str(project)}
    url = f"http://127.0.0.1:{opts.port}"
    server = start_server(project, opts.port)
    try:
        with httpx.Client(base_url=url, timeout=5) as http:
            for _ in range(150):
                try:
                    http.get("/api/v1/tools/")
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
        figures = run(url, token, client_ids, opts)
    finally:
        server.terminate()
        server.wait(timeout=30)
    figures["project"] = str(project)
    return figures


def describe(figures: dict) -> str:
    return (
        f"{figures['tool']} over {figures['doorway']}, {figures['threads']} concurrent readers, "
        f"{figures['calls']} calls: p50={figures['p50_ms']} ms p90={figures['p90_ms']} ms "
        f"p99={figures['p99_ms']} ms max={figures['max_ms']} ms, {figures['calls_per_s']} calls/s"
    )


def median_of(runs: list[dict]) -> dict:
    keys = ("p50_ms", "p90_ms", "p99_ms", "max_ms", "calls_per_s")
    return {
        **runs[0],
        **{k: round(statistics.median(r[k] for r in runs), 1) for k in keys},
        "rounds": len(runs),
    }


def ratio(after: dict, before: dict) -> str:
    return (
        f"p50 {after['p50_ms'] / before['p50_ms']:.2f}x, p99 {after['p99_ms'] / before['p99_ms']:.2f}x, "
        f"throughput {after['calls_per_s'] / before['calls_per_s']:.2f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--project", type=Path, default=ROOT, help="checkout whose manage.py serves the calls"
    )
    parser.add_argument(
        "--baseline-project",
        type=Path,
        help="a checkout of the code before the change: each round runs it, then --project (interleaved A/B)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds; the median of each figure is reported")
    parser.add_argument("--url", help="target a running server instead of starting one (needs --token)")
    parser.add_argument("--token", help="a read token for --url")
    parser.add_argument("--client-ids", default="", help="comma-separated accounts for --url")
    parser.add_argument(
        "--mode",
        choices=["http", "recording"],
        default="http",
        help="http: the tool over a server; recording: only the recording of a call, in-process",
    )
    parser.add_argument("--tool", default="get_client_overview")
    parser.add_argument("--doorway", choices=["rest", "mcp"], default="rest")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--calls", type=int, default=50, help="timed calls per thread")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per thread before the start")
    parser.add_argument("--accounts", type=int, default=200, help="seed_demo size when the database is empty")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--save", type=Path, help="write the figures as JSON")
    parser.add_argument("--compare", type=Path, help="a saved run (e.g. before the change) to compare with")
    opts = parser.parse_args()

    if opts.url:
        if not opts.token or not opts.client_ids:
            parser.error("--url needs --token and --client-ids")
        figures = run(opts.url, opts.token, opts.client_ids.split(","), opts)
        print(describe(figures))
        result = {"after": figures}
    else:
        projects = [("after", opts.project.resolve())]
        if opts.baseline_project:
            projects.insert(0, ("before", opts.baseline_project.resolve()))
        runs: dict[str, list[dict]] = {label: [] for label, _ in projects}
        for round_no in range(1, opts.rounds + 1):
            for label, project in projects:
                figures = measure(project, opts)
                runs[label].append(figures)
                print(f"round {round_no} {label:<6} {describe(figures)}", flush=True)
        result = {label: median_of(values) for label, values in runs.items()}
        for label, figures in result.items():
            print(f"median {label:<6} {describe(figures)} ({figures['rounds']} rounds, {figures['project']})")
        if "before" in result:
            print(f"after/before (medians): {ratio(result['after'], result['before'])}")
    if opts.compare:
        print(f"vs {opts.compare}: {ratio(result['after'], json.loads(opts.compare.read_text()))}")
    if opts.save:
        opts.save.write_text(json.dumps(result["after"], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
