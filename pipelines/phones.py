"""Phone identity (METRICS.md definition 1): E.164 via libphonenumber, then a keyed hash.

The raw number never reaches the warehouse: loaders call `phone_map` on the distinct raw
strings of a load and join its result back in SQL, so the Python work is per distinct
number, not per row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from enum import StrEnum

import phonenumbers
import polars as pl


class PhoneStatus(StrEnum):
    IDENTIFIED = "identified"
    HIDDEN = "hidden"
    INVALID = "invalid"
    MISSING = "missing"


HASH_HEX_CHARS = 32
"""128 bits of HMAC-SHA256: collision-free at any clinic's scale, half the storage."""

_HIDDEN = re.compile(
    r"anonym|unknown|hidden|private|restricted|withheld|unavailable|скрыт|неизвест|аноним",
    re.IGNORECASE,
)
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")


def to_e164(raw: str | None, region: str) -> tuple[str | None, PhoneStatus]:
    """E.164 form and status of one written number.

    `8XXXXXXXXXX` is the Russian trunk form of `+7XXXXXXXXXX`; libphonenumber applies it
    when the region is RU. A `(0)` after the country code is a trunk prefix that must be
    dropped before parsing (`+7 (0) 916…`).
    """
    if raw is None or not raw.strip():
        return None, PhoneStatus.MISSING
    text = raw.strip()
    if _HIDDEN.search(text) or not any(ch.isdigit() for ch in text):
        return None, PhoneStatus.HIDDEN
    text = _TRUNK_ZERO.sub(" ", text)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, PhoneStatus.INVALID
    if not phonenumbers.is_valid_number(number):
        return None, PhoneStatus.INVALID
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), (
        PhoneStatus.IDENTIFIED
    )


def keyed_hash(e164: str, key: bytes) -> str:
    return hmac.new(key, e164.encode(), hashlib.sha256).hexdigest()[:HASH_HEX_CHARS]


def phone_map(raw_values: Iterable[str | None], region: str, key: bytes) -> pl.DataFrame:
    """One row per distinct raw string: `raw`, `phone_hash` (NULL unless identified), `status`."""
    raws: list[str | None] = []
    hashes: list[str | None] = []
    statuses: list[str] = []
    for raw in set(raw_values):
        e164, status = to_e164(raw, region)
        raws.append(raw)
        hashes.append(keyed_hash(e164, key) if e164 else None)
        statuses.append(status.value)
    return pl.DataFrame(
        {"raw": raws, "phone_hash": hashes, "status": statuses},
        schema={"raw": pl.String, "phone_hash": pl.String, "status": pl.String},
    )


def e164_map(raw_values: Iterable[str | None], region: str) -> pl.DataFrame:
    """Distinct raw string → E.164 for the clinic's own numbers (tracking lines), not hashed."""
    raws = list(set(raw_values))
    return pl.DataFrame(
        {"raw": raws, "e164": [to_e164(raw, region)[0] for raw in raws]},
        schema={"raw": pl.String, "e164": pl.String},
    )
