"""20 concurrent ``register_client`` calls with one client_id: one success, 19 CONFLICT, no INTERNAL.

Real threads, each with its own PostgreSQL connection (``transactional_db``: the rows are committed, so the
unique constraint — not the earlier existence check — decides the race).
"""

import threading

import pytest
from django.db import connection

from customers.models import AuditEvent, Client, Contract
from tests.conftest import require_service

THREADS = 20


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_register_with_one_client_id_is_one_success_and_conflicts(superuser):
    require_service(connection.vendor == "postgresql", "PostgreSQL (one connection per thread)")
    from cs_project.core.registry import execute_tool

    barrier = threading.Barrier(THREADS)
    results: list[dict] = []
    lock = threading.Lock()

    def register(n: int) -> None:
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=30)
            result = execute_tool(
                "register_client",
                {"client_name": f"Racer {n}", "company_name": "Race Inc", "client_id": "race"},
                user=superuser,
                channel="api",
            )
            with lock:
                results.append(result)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=register, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    outcomes = sorted(
        r["status"] if r["status"] == "success" else f"{r['error']['code']}:{r['error'].get('field')}"
        for r in results
    )
    assert len(results) == THREADS
    assert outcomes == ["CONFLICT:client_id"] * (THREADS - 1) + ["success"]
    assert Client.objects.filter(client_id="race").count() == 1
    assert Contract.objects.filter(client__client_id="race").count() == 1
    assert AuditEvent.objects.filter(action="customers.client.created", object_id="race").count() == 1
