"""``field__any=[…]``: membership in a list sent as one array parameter on PostgreSQL.

Django's ``__in`` renders one placeholder per value; for a scoring chunk of thousands of ids that means preparing
every value in Python and, with client-side binding, psycopg splitting a query with thousands of placeholders —
repeated in each of the chunk's queries. ``= ANY(%s)`` sends the list as one array (same rows, same plans for
id lists). Other databases get the plain ``IN`` of ``__in``."""

from __future__ import annotations

from django.db.models import Field, ForeignObject
from django.db.models.lookups import In, Lookup


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        values = list(self.rhs)
        if all(type(v) is int for v in values):  # ids: already what the database takes
            return values
        return [self.lhs.output_field.get_prep_value(v) for v in values]

    def as_sql(self, compiler, connection):
        return In(self.lhs, self.rhs).as_sql(compiler, connection)

    def as_postgresql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs_sql} = ANY(%s)", [*lhs_params, list(self.rhs)]


def register() -> None:
    Field.register_lookup(AnyOf)
    ForeignObject.register_lookup(AnyOf)  # relations only see lookups registered on ForeignObject and below
