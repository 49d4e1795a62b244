"""The FilterSet every list filter derives from: a value the filtered column cannot hold is invalid.

A filter such as ``health_score_min=2147483648`` (or ``1e40``) used to be passed to the database, which
either raised (an INTERNAL answer) or silently matched nothing depending on the column and the backend.
:class:`BoundedFilterSet` makes it a form error on that filter, so the REST resources answer 400
``INVALID_PARAMETER`` naming the query parameter, and list tools built on the same FilterSet (``list_clients``)
raise ``InvalidParameter`` for the same value. The ranges are PostgreSQL's (the production database), applied
on every backend so that SQLite and PostgreSQL answer alike.
"""

import math
from decimal import Decimal

import django_filters
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models.constants import LOOKUP_SEP

INTEGER_RANGES: dict[str, tuple[int, int]] = BaseDatabaseOperations.integer_field_ranges


def model_field(model: type[models.Model], path: str) -> models.Field | None:
    """The field at the end of a ``a__b__c`` path (following relations), or None when it is not a field."""
    field = None
    for part in path.split(LOOKUP_SEP):
        if model is None:
            return None
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        model = field.related_model if field.is_relation else None
    return field


def value_error(field: models.Field, value) -> str | None:
    """Why ``value`` cannot be compared with ``field``'s column, or None when it can."""
    if isinstance(value, list | tuple):
        return next((error for item in value if (error := value_error(field, item))), None)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        return "Must be a finite number."
    internal_type = field.get_internal_type()
    if internal_type in INTEGER_RANGES:
        low, high = INTEGER_RANGES[internal_type]
        if not low <= value <= high:
            return f"Must be between {low} and {high}."
    elif isinstance(field, models.DecimalField):
        bound = Decimal(10) ** (field.max_digits - field.decimal_places)
        if not -bound < Decimal(value) < bound:
            return f"Must be greater than -{bound} and less than {bound}."
    return None


class BoundedFilterSet(django_filters.FilterSet):
    """``is_valid()`` is also False when a cleaned value does not fit the filtered column."""

    def is_valid(self) -> bool:
        if not super().is_valid():
            return False
        model = self._meta.model
        for name, value in list(self.form.cleaned_data.items()):
            filter_ = self.filters.get(name)
            if filter_ is None or value is None or model is None:
                continue
            field = model_field(model, filter_.field_name)
            error = value_error(field, value) if field is not None else None
            if error:
                self.form.add_error(name, error)
        return not self.form.errors
