"""The plumbing (cs_project/) imports no domain app, not even inside a function (ARCHITECTURE).

``cs_project/demo`` is not plumbing: the demo world generator sits on top of every app (like a test fixture)."""

import ast
from pathlib import Path

from django.conf import settings

DOMAIN_APPS = {
    "customers",
    "health",
    "onboarding",
    "retention",
    "communication",
    "support",
    "expansion",
    "feedback",
}


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_plumbing_imports_no_domain_app():
    plumbing = Path(settings.BASE_DIR) / "cs_project"
    offenders = {
        f"{path.relative_to(plumbing.parent)} -> {name}"
        for path in plumbing.rglob("*.py")
        if "demo" not in path.relative_to(plumbing).parts[:1]
        for name in _imported_modules(path)
        if name.split(".")[0] in DOMAIN_APPS
    }
    assert not offenders, sorted(offenders)
