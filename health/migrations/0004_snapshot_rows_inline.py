"""Keep snapshot rows inline and uncompressed on PostgreSQL.

A snapshot row (components, inputs, explanation, data gaps as JSON) is about 2 KB — just over the default
TOAST threshold, so every nightly upsert paid for compressing its JSON. ``toast_tuple_target = 8160`` stores rows
up to a page inline as they are; the nightly write is one of the scoring run's largest costs (issue 4)."""

from django.db import migrations


def rows_inline(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE health_healthsnapshot SET (toast_tuple_target = 8160)")


def rows_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE health_healthsnapshot RESET (toast_tuple_target)")


class Migration(migrations.Migration):
    dependencies = [("health", "0003_drop_client_indexes_covered_by_composites")]

    operations = [migrations.RunPython(rows_inline, rows_default)]
