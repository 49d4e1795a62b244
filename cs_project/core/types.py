"""The shared strict and safe types: where hostile input stops before it reaches the database.

Every doorway uses these, so a hole is closed once for every tool, serializer and the ingestion:

- **Text** that PostgreSQL cannot store: a NUL byte (``text`` and ``jsonb`` refuse it) or a lone UTF-16
  surrogate (not encodable as UTF-8). :func:`text_problem` names the fault.
- **Numbers** beyond what the columns hold: ``integer`` columns take ±2^31; money is ``numeric(14, 2)``;
  ``NaN``/``Infinity`` are not JSON and ``jsonb`` refuses them. :func:`check_json_value` walks any parsed JSON
  value (keys included) and returns the dotted path of the first fault.
- **Dates** that overflow as soon as a tool adds a few days (``9999-12-31`` + 1): :data:`DATE_MIN` ..
  :data:`DATE_MAX` is the range every date argument must fall in.
- **JSON documents** nested deeper than any argument needs (the parser would recurse until Python's limit):
  :func:`loads_json` parses with a depth bound and no ``NaN``.
- **REST list pages**: ``?limit=`` / ``?offset=`` bounded (:class:`BoundedLimitOffsetPagination`).
- **Strict scalars**: ``true`` is not the integer 1 and ``"1e5"`` is not a number (:func:`strict_annotation`
  rewrites a tool parameter's type so that the generated argument model says so).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Strict, create_model
from pydantic_core import PydanticCustomError
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination

PG_INT_MIN = -(2**31)
PG_INT_MAX = 2**31 - 1
# Numbers inside free-form JSON arguments (filters, updates): below the numeric(14, 2) money ceiling.
NUMBER_ABS_MAX = 999_999_999_999.99
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2199, 12, 31)
DATETIME_MIN = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
DATETIME_MAX = dt.datetime(2199, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
MAX_JSON_DEPTH = 32

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DIGITS = re.compile(r"[0-9]{1,12}")


def text_problem(value: str) -> str | None:
    """Why PostgreSQL could not store this text (NUL byte, lone surrogate), or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    if _SURROGATE.search(value):
        return "contains an unpaired surrogate (not valid Unicode)"
    return None


def printable_path(text: str) -> str:
    """A field path fit for an error body: hostile names (NUL, surrogates) escaped, long ones cut."""
    if text_problem(text):
        text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= 200 else text[:200] + "…"


def number_problem(value: Any, *, abs_max: float = NUMBER_ABS_MAX) -> str | None:
    """Why a JSON number cannot be stored (not finite, out of range), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    if isinstance(value, (int, float)) and abs(value) > abs_max:
        return f"is out of range (at most {abs_max:,} in magnitude)"
    return None


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def check_json_value(
    value: Any,
    path: str = "",
    *,
    max_depth: int = MAX_JSON_DEPTH,
    number_abs_max: float | None = NUMBER_ABS_MAX,
) -> tuple[str, str] | None:
    """The first value PostgreSQL could not store, as ``(dotted path, problem)``; None when all is storable.

    Iterative (a hostile document cannot exhaust the stack); dictionary keys are checked like values.
    ``number_abs_max=None`` accepts any finite number (``jsonb`` stores them; columns do not)."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > max_depth:
            return where, f"is nested deeper than {max_depth} levels"
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return where, problem
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                if isinstance(key, str):
                    problem = text_problem(key)
                    if problem:
                        return _join(where, key), f"is a name that {problem}"
                children.append((child, _join(where, key), depth + 1))
            stack.extend(reversed(children))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed([(child, _join(where, i), depth + 1) for i, child in enumerate(item)]))
        else:
            limit = math.inf if number_abs_max is None else number_abs_max
            problem = number_problem(item, abs_max=limit)
            if problem:
                return where, problem
    return None


class JSONDocumentError(ValueError):
    """A request body that is not acceptable JSON (syntax, NaN/Infinity, nesting)."""


def _no_constant(name: str):
    raise JSONDocumentError(f"{name} is not valid JSON (numbers must be finite).")


def loads_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, allow_nan: bool = False) -> Any:
    """Parse a request body: strict JSON (no NaN/Infinity unless ``allow_nan``), nested at most ``max_depth``.

    ``allow_nan`` exists for the ingestion, which rejects such values per event instead of per batch."""
    try:
        document = json.loads(raw, parse_constant=None if allow_nan else _no_constant)
    except RecursionError:
        raise JSONDocumentError(f"JSON nested deeper than {max_depth} levels.") from None
    except JSONDocumentError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise JSONDocumentError(f"Request body is not valid JSON ({exc}).") from None
    if _depth_exceeds(document, max_depth):
        raise JSONDocumentError(f"JSON nested deeper than {max_depth} levels.")
    return document


def _depth_exceeds(document: Any, max_depth: int) -> bool:
    stack = [(document, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth >= max_depth:
                return True
            stack.extend((child, depth + 1) for child in item if isinstance(child, (dict, list)))
    return False


# --- pydantic: the generated argument model of every tool ---------------------------------------------------


def _iso_date(value: Any) -> Any:
    """A date argument is a ``YYYY-MM-DD`` string (or a date object from Python callers), nothing else."""
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("date_type", "must be a date (YYYY-MM-DD), not a datetime")
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_type", "must be a date as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_type", "is not a calendar date") from None


_SCALARS: dict[Any, Any] = {
    bool: Annotated[bool, Strict()],
    int: Annotated[int, Strict()],
    float: Annotated[float, Strict()],
    str: Annotated[str, Strict()],
    dt.date: Annotated[dt.date, BeforeValidator(_iso_date)],
}


def strict_annotation(annotation: Any) -> Any:
    """``annotation`` with every scalar made strict (``true`` is no integer, ``"1e5"`` no number, a date is
    ``YYYY-MM-DD``); containers, unions and the declared constraints are kept, so the JSON schema (the
    published contract and docs) is unchanged."""
    try:
        if annotation in _SCALARS:
            return _SCALARS[annotation]
    except TypeError:  # an unhashable annotation is no bare scalar
        pass
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _strict_model(annotation)
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = typing.get_args(annotation)
        return Annotated[(strict_annotation(inner), *metadata)]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(strict_annotation(arg) for arg in typing.get_args(annotation))]  # noqa: UP007
    if origin in (list, dict, tuple, set, frozenset):
        args = typing.get_args(annotation)
        if not args:
            return annotation
        converted = tuple(strict_annotation(arg) for arg in args)
        return origin[converted] if len(converted) > 1 else origin[converted[0]]
    return annotation


@functools.cache
def _strict_model(model: type[BaseModel]) -> type[BaseModel]:
    """A nested argument model with the same strict scalars: a subclass (same name, config and validators,
    so the same schema) whose fields are re-declared through :func:`strict_annotation`."""
    fields = {name: (strict_annotation(info.annotation), info) for name, info in model.model_fields.items()}
    return create_model(model.__name__, __base__=model, __module__=model.__module__, **fields)


def value_out_of_range(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first validated value a column could not hold: an int beyond ±2^31, a float that is not finite
    or beyond :data:`NUMBER_ABS_MAX`, a date outside :data:`DATE_MIN` .. :data:`DATE_MAX` (nested too)."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int):
            if not PG_INT_MIN <= item <= PG_INT_MAX:
                return where, f"must be between {PG_INT_MIN} and {PG_INT_MAX}"
        elif isinstance(item, float):
            problem = number_problem(item)
            if problem:
                return where, problem
        elif isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            if not DATE_MIN <= item <= DATE_MAX:
                return where, f"must be between {DATE_MIN} and {DATE_MAX}"
        elif isinstance(item, dict):
            stack.extend((child, _join(where, key)) for key, child in item.items())
        elif isinstance(item, (list, tuple)):
            stack.extend((child, _join(where, i)) for i, child in enumerate(item))
        elif isinstance(item, BaseModel):
            stack.extend((getattr(item, name), _join(where, name)) for name in type(item).model_fields)
    return None


def bounded(value: Any) -> Any:
    """Field-level 'after' check of a tool argument (see :func:`value_out_of_range`)."""
    fault = value_out_of_range(value)
    if fault is not None:
        subpath, problem = fault
        raise PydanticCustomError("value_out_of_range", "{problem}", {"problem": problem, "subpath": subpath})
    return value


def unstorable_arguments(data: Any) -> Any:
    """Model-wide 'before' check of a tool's raw arguments: every string, key and number, nested too."""
    fault = check_json_value(data)
    if fault is not None:
        field, problem = fault
        raise PydanticCustomError(
            "unstorable_value", "{problem}", {"problem": problem, "field": printable_path(field)}
        )
    return data


# --- DRF: serializer fields of the REST resources -----------------------------------------------------------


class BoundedDateField(serializers.DateField):
    """A date inside :data:`DATE_MIN` .. :data:`DATE_MAX` (services add terms and notice periods to it)."""

    default_error_messages = {"out_of_range": f"Date must be between {DATE_MIN} and {DATE_MAX}."}

    def to_internal_value(self, value):
        if isinstance(value, dt.datetime):
            self.fail("datetime")
        if isinstance(value, str) and not _ISO_DATE.fullmatch(value.strip()):
            self.fail("invalid", format="YYYY-MM-DD")
        day = super().to_internal_value(value)
        if not DATE_MIN <= day <= DATE_MAX:
            self.fail("out_of_range")
        return day


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """``?limit=`` / ``?offset=`` of the REST lists: integers the database takes, else INVALID_PARAMETER naming
    the parameter (DRF's default passes ``offset=2**63`` to SQL, where it overflows ``bigint``)."""

    max_limit = 1000

    def _bounded(self, request, name: str, default: int | None, upper: int) -> int | None:
        raw = request.query_params.get(name)
        if raw in (None, ""):
            return default
        if not _DIGITS.fullmatch(raw) or int(raw) > upper or (name == "limit" and int(raw) < 1):
            low = 1 if name == "limit" else 0
            raise serializers.ValidationError({name: [f"Must be an integer between {low} and {upper}."]})
        return int(raw)

    def get_limit(self, request):
        return self._bounded(request, self.limit_query_param, self.default_limit, self.max_limit)

    def get_offset(self, request):
        return self._bounded(request, self.offset_query_param, 0, PG_INT_MAX)
