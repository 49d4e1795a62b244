"""Dependencies point one way (ARCHITECTURE): the other apps import customers, customers imports none of them —
function-local imports included. What customers shows of them comes from what they register in ``ready()``."""

import ast
from pathlib import Path

import pytest

import customers

DOMAIN_APPS = {"health", "onboarding", "retention", "communication", "support", "expansion", "feedback"}
# Known debt outside this package's services and selectors: the client admin page embeds health's score chart.
KNOWN = {"admin.py": {"health.admin", "health.models"}}


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
        domain -= KNOWN.get(rel, set())
        if domain:
            offending[rel] = sorted(domain)
    assert offending == {}


@pytest.mark.django_db
def test_the_registered_hooks_cover_what_customers_reads():
    from customers import summaries

    assert set(summaries.summary_providers()) == DOMAIN_APPS
    assert set(summaries.list_column_providers()) == {"health", "support"}
    assert summaries.value_tier_for_arr(0) == "starter"
