"""Dependencies point one way (ARCHITECTURE): the other apps import customers, customers imports none of them —
function-local imports included, no exception. What customers shows of them comes from what they register
(summaries and signal receivers in ``ready()``, Client admin panels in their ``admin.py``)."""

import ast
from pathlib import Path

import pytest

import customers

DOMAIN_APPS = {"health", "onboarding", "retention", "communication", "support", "expansion", "feedback"}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module)
    return found


def test_customers_imports_no_app_that_depends_on_it():
    root = Path(customers.__file__).parent
    offending = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("migrations/"):
            continue
        domain = {m for m in imported_modules(path) if m.split(".")[0] in DOMAIN_APPS}
        if domain:
            offending[rel] = sorted(domain)
    assert offending == {}


@pytest.mark.django_db
def test_the_registered_hooks_cover_what_customers_reads():
    from customers import summaries

    assert set(summaries.summary_providers()) == DOMAIN_APPS
    assert set(summaries.list_column_providers()) == {"health", "support"}
    assert summaries.value_tier_for_arr(0) == "starter"


def test_customers_looks_no_model_up_by_label():
    """``apps.get_model("expansion", …)`` would hide the dependency from the import check above."""
    root = Path(customers.__file__).parent
    offending = [
        path.relative_to(root).as_posix()
        for path in sorted(root.rglob("*.py"))
        if not path.relative_to(root).as_posix().startswith("migrations/")
        and any(name in path.read_text(encoding="utf-8") for name in ("get_model(", "other_model"))
    ]
    assert offending == []


def test_expansion_and_retention_subscribe_to_the_account_changes():
    from customers.models import Client
    from customers.signals import client_churned, contract_end_moved

    assert client_churned.has_listeners(Client)
    assert contract_end_moved.has_listeners(Client)


def test_health_registers_its_client_admin_panel():
    """Registered when the admin's autodiscovery (at setup) imports health.admin."""
    from customers.admin_hooks import HEALTH_FIELDSET, client_panels

    assert [(p.render.__module__, p.render.__name__, p.fieldset) for p in client_panels()] == [
        ("health.admin", "health_history", HEALTH_FIELDSET)
    ]
