"""Placement of the Client admin panels other apps register (customers.admin_hooks.with_panels)."""

from customers.admin_hooks import ClientPanel, with_panels

FIELDSETS = (
    (None, {"fields": ("client_id",)}),
    ("Health", {"fields": ("health_score",)}),
    ("Record", {"fields": ("created_at",)}),
)


def chart(client):
    return "chart"


def tickets(client):
    return "tickets"


def test_a_panel_joins_its_fieldset_or_gets_a_new_one_before_record():
    result = with_panels(FIELDSETS, [ClientPanel(chart, "Health"), ClientPanel(tickets, "Support")])
    assert result == [
        (None, {"fields": ("client_id",)}),
        ("Health", {"fields": ("health_score", chart)}),
        ("Support", {"fields": (tickets,)}),
        ("Record", {"fields": ("created_at",)}),
    ]
    assert FIELDSETS[1] == ("Health", {"fields": ("health_score",)})  # the class attribute is left untouched


def test_without_a_record_fieldset_a_new_panel_goes_last():
    result = with_panels(FIELDSETS[:2], [ClientPanel(tickets, "Support")])
    assert [title for title, _ in result] == [None, "Health", "Support"]
