"""Public identifiers (TOOLS §0.3): ``prefix_<12 base32>`` random ids and ``PREFIX-<n>`` sequence ids."""

import re
import secrets

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def new_prefixed_id(prefix: str) -> str:
    """``onb_k3j9...``: 12 lower-case base32 characters from a CSPRNG."""
    return f"{prefix}_" + "".join(secrets.choice(_BASE32) for _ in range(12))


def format_seq_id(prefix: str, pk: int | None) -> str | None:
    """``TKT-12`` from primary key 12."""
    return None if pk is None else f"{prefix}-{pk}"


def parse_seq_id(prefix: str, value: str) -> int | None:
    """Primary key from ``TKT-12`` (case-insensitive prefix); None when the text is not such an id."""
    match = re.fullmatch(rf"(?i){re.escape(prefix)}-(\d{{1,18}})", (value or "").strip())
    return int(match.group(1)) if match else None
