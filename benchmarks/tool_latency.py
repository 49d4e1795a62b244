"""Latency of one tool over MCP and over REST against a running server (e.g. the one `make run` starts).

    .venv/bin/python benchmarks/tool_latency.py --url http://127.0.0.1:8000 --token cst_... \
        --tool get_client_overview --args '{"client_id": "demo_00001"}' --calls 50

Prints p50 / p90 / p99 in milliseconds for each doorway. Both doorways share one execution path, so the
difference is the transport (JSON-RPC framing and the MCP SDK) rather than the tool.
"""

import argparse
import json
import statistics
import sys
import time

import httpx


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def _time_calls(fn, calls: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True)
    parser.add_argument("--tool", default="get_client_overview")
    parser.add_argument("--args", default='{"client_id": "demo_00001"}')
    parser.add_argument("--calls", type=int, default=50)
    opts = parser.parse_args()
    arguments = json.loads(opts.args)
    headers = {"Authorization": f"Bearer {opts.token}"}
    mcp_headers = {
        **headers,
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }

    with httpx.Client(base_url=opts.url, headers=headers, timeout=60) as http:

        def rest_call():
            response = http.post(f"/api/v1/tools/{opts.tool}/", json=arguments)
            response.raise_for_status()
            assert response.json()["status"] == "success", response.text[:500]

        def mcp_call():
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": opts.tool, "arguments": arguments},
            }
            response = http.post("/mcp", json=body, headers=mcp_headers)
            response.raise_for_status()
            result = response.json()["result"]
            assert not result.get("isError"), json.dumps(result)[:500]

        for name, fn in (("REST", rest_call), ("MCP", mcp_call)):
            samples = _time_calls(fn, opts.calls)
            print(
                f"{name:<5} {opts.tool}: n={len(samples)} p50={statistics.median(samples):.1f} ms "
                f"p90={_percentile(samples, 90):.1f} ms p99={_percentile(samples, 99):.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
