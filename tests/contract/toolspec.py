"""A reader of ../shared/spec/TOOLS.md: each tool's parameter table and the top-level keys of its Returns line.

Only what the contract test compares is extracted: parameter name, type, default, required, an enum when the
"Allowed / range" cell is a plain list of values (or a named enumeration of RULES §2 that the code defines once),
a numeric range or length, and the top-level result keys (one key set per variant for tools whose result depends on
``action``). Cells that describe a rule in prose ("≥ start", "id pattern", "existing ids") are not compared.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

SPEC_RELATIVE = Path("shared") / "spec" / "TOOLS.md"


def spec_path() -> Path | None:
    """``../shared/spec/TOOLS.md`` relative to the repository root, or to one of its parents (worktrees)."""
    base = Path(settings.BASE_DIR).resolve()
    for parent in [base, *base.parents][1:4]:
        candidate = parent / SPEC_RELATIVE
        if candidate.is_file():
            return candidate
    return None


@dataclass
class SpecParam:
    name: str
    type: str
    default: Any  # NO_DEFAULT, or the JSON value the schema must carry
    required: bool
    enum: set[str] | None = None
    item_enum: set[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    allowed: str = ""


@dataclass
class SpecTool:
    name: str
    section: str
    params: dict[str, SpecParam] = field(default_factory=dict)
    returns: list[set[str]] = field(default_factory=list)
    read_only: bool = True


NO_DEFAULT = object()
COMPUTED = object()  # a default the tool computes ("today", "all", "generated"): the schema default is null

_TOOL_HEADING = re.compile(r"^### (\d+\.\d+) `([a-z_]+)`")
_ROW = re.compile(r"^\| `([a-z_]+)`( \*\*\(added\)\*\*)? \|(.*)\|\s*$")


def _default(cell: str) -> Any:
    cell = cell.strip()
    if re.fullmatch(r"`-?\d+(\.\d+)?`", cell):
        cell = cell.strip("`")
    if cell == "—":
        return NO_DEFAULT
    if cell.startswith("null"):
        return None
    if cell.startswith('`"') and cell.endswith('"`'):
        return cell[2:-2]
    if cell.startswith("`[") and cell.endswith("]`"):
        return [v.strip().strip('"') for v in cell[2:-2].split(",")]
    if cell in ("true", "false"):
        return cell == "true"
    if re.fullmatch(r"-?\d+", cell):
        return int(cell)
    if re.fullmatch(r"-?\d+\.\d+", cell):
        return float(cell)
    return COMPUTED


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _strip_parens(text: str) -> str:
    while re.search(r"\([^()]*\)", text):
        text = re.sub(r"\([^()]*\)", "", text)
    return text


def _allowed(param: SpecParam, cell: str, named_enums: dict[str, set[str]]) -> None:
    head = _strip_parens(cell.split(";")[0]).strip()
    if head == "subset of these" and isinstance(param.default, list):
        param.item_enum = set(param.default)
        return
    values = re.fullmatch(r"`[^`]+`(\s*,\s*`[^`]+`)*", head)
    if values and param.type in ("str", "list[str]"):
        found = set(re.findall(r"`([^`]+)`", head))
        if param.type == "str":
            param.enum = found
        else:
            param.item_enum = found
        return
    subset = re.fullmatch(r"⊂ \{([^}]*)\}", head)
    if subset:
        param.item_enum = {v.strip() for v in subset.group(1).split(",")}
        return
    if head in named_enums:
        if param.type == "str":
            param.enum = named_enums[head]
        return
    number = r"(-?\d[\d,]*(?:\.\d+)?)"
    if m := re.match(rf"^{number}\s*–\s*{number}", head):
        param.minimum, param.maximum = _number(m.group(1)), _number(m.group(2))
    elif m := re.match(rf"^≥ {number}(?!\s*key)", head):
        param.minimum = _number(m.group(1))
    elif m := re.match(rf"^≤ {number}", head):
        param.maximum = _number(m.group(1))


def _top_level_keys(text: str) -> set[str]:
    keys, depth, segment = set(), 0, ""
    for char in text + ",":
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
        if char == "," and depth == 0:
            match = re.match(r"\s*(?:or\s+)?([A-Za-z_][A-Za-z0-9_]*)", segment)
            if match:
                keys.add(match.group(1))
            segment = ""
        elif depth == 0 or char not in ",":
            segment += char
    return keys


def _returns(block: str) -> list[set[str]]:
    """Key sets of the Returns text: one per backticked span that lists keys (one per action variant)."""
    spans = re.findall(r"`([^`]*)`", block, flags=re.S)
    variants = [_top_level_keys(" ".join(span.split())) for span in spans]
    listed = [keys for keys in variants if len(keys) > 1]
    if (
        not listed and variants
    ):  # "per action `report{}` / `closure{…}` …; plus `data_gaps`": one key per span
        listed = [set().union(*variants)]
    return listed


def parse(text: str, named_enums: dict[str, set[str]]) -> dict[str, SpecTool]:
    tools: dict[str, SpecTool] = {}
    access = dict(re.findall(r"^\| \d+ \| `([a-z_]+)` \| [^|]+ \| (read-only|mutating) \|", text, flags=re.M))
    current: SpecTool | None = None
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if heading := _TOOL_HEADING.match(line):
            current = SpecTool(name=heading.group(2), section=heading.group(1))
            current.read_only = access.get(current.name) == "read-only"
            tools[current.name] = current
            continue
        if current is None:
            continue
        if row := _ROW.match(line):
            cells = [c.strip() for c in row.group(3).split("|")]
            if len(cells) != 4:
                continue  # another table of the section (an action or key table)
            type_, default, allowed, req = cells
            param = SpecParam(
                name=row.group(1),
                type=type_,
                default=_default(default),
                required=req == "yes",
                allowed=allowed,
            )
            _allowed(param, allowed, named_enums)
            current.params[param.name] = param
        elif line.startswith("- **Returns:**"):
            block = [line]
            for follow in lines[index + 1 :]:
                if follow.startswith("- **") or not follow.strip():
                    break
                block.append(follow)
            current.returns = _returns("\n".join(block))
    return tools
