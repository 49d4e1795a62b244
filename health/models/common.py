"""Constraint builders shared by the health models."""

from django.db import models
from django.db.models import Q


def _rate_0_1(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__gte": 0, f"{field}__lte": 1}), name=name)


def _nullable_range(field: str, low, high, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": low, f"{field}__lte": high}),
        name=name,
    )
