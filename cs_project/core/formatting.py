"""Rendering helpers shared by report-producing tools: JSON-safe values, CSV (RFC 4180) and Markdown tables."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from decimal import Decimal
from typing import Any

from .stats import r


def iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v


def jsonable(value: Any, places: int = 4) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v, places) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, places) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float):
        return None if not math.isfinite(value) else r(value, places)
    return value


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return "; ".join(str(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def to_csv(columns: list[str], rows: list[dict]) -> str:
    """One row per record with a header row; RFC 4180 quoting and CRLF line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _md(v: Any) -> str:
    text = _cell(v)
    return text.replace("|", "\\|").replace("\n", " ") if text else "–"


def to_markdown(title: str, start: dt.date, end: dt.date, summary: dict, tables: list[tuple]) -> str:
    lines = [f"# {title}", "", f"Period: {start.isoformat()} – {end.isoformat()}", "", "## Summary", ""]
    lines += ["| Metric | Value |", "|---|---|"]
    lines += [f"| {k} | {_md(v)} |" for k, v in summary.items()]
    for name, columns, rows in tables:
        lines += ["", f"## {name}", ""]
        if not rows:
            lines.append("_None._")
            continue
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        lines += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def json_text(value: Any) -> str:
    return json.dumps(value or {}, default=str).lower()
