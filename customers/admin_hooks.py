"""Panels other apps add to the customers Client admin page, without customers importing them (ARCHITECTURE).

The Client change page shows what other apps know of the account (health's score history chart and the link to
its explanation page). Those apps depend on customers, so the Client admin cannot import them; instead an app
registers a panel from its own ``admin.py`` (imported by the admin's autodiscovery):

```python
@admin.display(description="Health history (90 days)")
def health_history(client): ...

register_client_panel(health_history, fieldset=HEALTH_FIELDSET)
```

A panel is a read-only field of the change page: a function of the ``Client`` returning safe HTML or text, its
label taken from ``admin.display(description=…)`` and its CSS class (``field-<name>``) from the function's
name. It is appended to the fieldset titled ``fieldset``, or to a new fieldset of that title placed before
the ``Record`` fieldset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .models import Client

# Title of the Client admin fieldset holding the cached health columns, where health adds its chart.
HEALTH_FIELDSET = "Health (from the latest official snapshot)"
RECORD_FIELDSET = "Record"


@dataclass(frozen=True)
class ClientPanel:
    render: Callable[[Client], str]
    fieldset: str


_PANELS: dict[str, ClientPanel] = {}


def register_client_panel(render: Callable[[Client], str], *, fieldset: str) -> None:
    """Add ``render`` to the Client change page; registering the same function again replaces it."""
    _PANELS[f"{render.__module__}.{render.__qualname__}"] = ClientPanel(render=render, fieldset=fieldset)


def client_panels() -> list[ClientPanel]:
    """The registered panels, in registration order."""
    return list(_PANELS.values())


def with_panels(fieldsets, panels: list[ClientPanel]) -> list[tuple[str | None, dict]]:
    """``fieldsets`` (left untouched) with each panel appended to its fieldset, or to a new one before
    ``Record``."""
    result = [(title, {**options, "fields": tuple(options["fields"])}) for title, options in fieldsets]
    for panel in panels:
        target = next((options for title, options in result if title == panel.fieldset), None)
        if target is not None:
            target["fields"] += (panel.render,)
        else:
            titles = [title for title, _ in result]
            at = titles.index(RECORD_FIELDSET) if RECORD_FIELDSET in titles else len(result)
            result.insert(at, (panel.fieldset, {"fields": (panel.render,)}))
    return result
