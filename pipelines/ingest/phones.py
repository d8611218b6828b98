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
from functools import cache

import duckdb
import phonenumbers
import polars as pl


class PhoneStatus(StrEnum):
    IDENTIFIED = "identified"
    HIDDEN = "hidden"
    INVALID = "invalid"
    MISSING = "missing"


HASH_HEX_CHARS = 32
"""128 bits of HMAC-SHA256: collision-free at any clinic's scale, half the storage."""
SHA256_BLOCK = 64

_HIDDEN = re.compile(
    r"anonym|unknown|hidden|private|restricted|withheld|unavailable|скрыт|неизвест|аноним",
    re.IGNORECASE,
)
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")


def to_e164(raw: str | None, region: str) -> tuple[str | None, PhoneStatus]:
    """E.164 form and status of one written number (see `identify`)."""
    e164, status, _ = identify(raw, region)
    return e164, status


def identify(raw: str | None, region: str) -> tuple[str | None, PhoneStatus, str | None]:
    """E.164 form, status and the number's own region (ISO 3166, e.g. RU, KZ, US).

    `8XXXXXXXXXX` is the Russian trunk form of `+7XXXXXXXXXX`; libphonenumber applies it
    when the region is RU. A `(0)` after the country code is a trunk prefix that must be
    dropped before parsing (`+7 (0) 916…`).
    """
    if raw is None or not raw.strip():
        return None, PhoneStatus.MISSING, None
    text = raw.strip()
    if _HIDDEN.search(text) or not any(ch.isdigit() for ch in text):
        return None, PhoneStatus.HIDDEN, None
    text = _TRUNK_ZERO.sub(" ", text)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, PhoneStatus.INVALID, None
    if not phonenumbers.is_valid_number(number):
        return None, PhoneStatus.INVALID, None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, PhoneStatus.IDENTIFIED, phonenumbers.region_code_for_number(number)


def keyed_hash(e164: str, key: bytes) -> str:
    """HMAC-SHA256 of the E.164 form, hex, cut to HASH_HEX_CHARS: the definition that
    `keyed_hashes` computes column-wise."""
    return hmac.digest(key, e164.encode(), "sha256").hex()[:HASH_HEX_CHARS]


def keyed_hashes(numbers: list[str], key: bytes) -> list[str]:
    """`keyed_hash` of many numbers at once, by DuckDB on every core (a chain's millions
    of numbers: a microsecond each in Python, a fraction of one here). HMAC is spelled
    out per RFC 2104, sha256(key ^ opad || sha256(key ^ ipad || message)), on the key
    padded to SHA-256's 64-byte block (hashed first if longer)."""
    block = (key if len(key) <= SHA256_BLOCK else hashlib.sha256(key).digest()).ljust(
        SHA256_BLOCK, b"\0"
    )
    inner = bytes(b ^ 0x36 for b in block)
    outer = bytes(b ^ 0x5C for b in block)
    with duckdb.connect() as conn:
        conn.register("numbers", pl.DataFrame({"e164": numbers}, schema={"e164": pl.String}))
        rows = conn.execute(
            "select left(sha256($outer || unhex(sha256($inner || encode(e164)))), "
            f"{HASH_HEX_CHARS}) from numbers",
            {"outer": outer, "inner": inner},
        ).fetchnumpy()
    return list(next(iter(rows.values())))


def _is_valid_desc(nsn: pl.Expr, desc: object) -> pl.Expr:
    """libphonenumber's `_is_number_matching_desc`, as a Polars expression."""
    pattern = getattr(desc, "national_number_pattern", None)
    if desc is None or not pattern:
        return pl.lit(False)
    lengths = [n for n in (getattr(desc, "possible_length", None) or ()) if n > 0]
    matches = nsn.str.contains(f"^(?:{pattern})$")
    return nsn.str.len_chars().is_in(lengths) & matches if lengths else matches


_NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


@cache
def _country_validity(country_code: int) -> tuple[tuple[str, pl.Expr, pl.Expr], ...]:
    """Per region of a country code: (region, chosen for this number, valid in it).

    This is libphonenumber's own metadata and rules (`region_code_for_number`, then
    `is_valid_number_for_region`), evaluated column-wise on the national number `nsn`.
    """
    nsn = pl.col("nsn")
    rules = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        known = _is_valid_desc(nsn, meta.general_desc) & pl.any_horizontal(
            [_is_valid_desc(nsn, getattr(meta, t)) for t in _NUMBER_TYPES]
        )
        chosen = nsn.str.contains(f"^(?:{meta.leading_digits})") if meta.leading_digits else known
        rules.append((region, chosen, known))
    return tuple(rules)


def _fast_e164(frame: pl.DataFrame) -> pl.DataFrame:
    """E.164 for the plain Russian forms, column-wise; `fast` is False for the rest.

    Plain means only digits and phone punctuation, and one of `+7` + 10 digits, `8` or
    `7` + 10 digits, or 10 digits. Anything else (foreign numbers, extensions, letters)
    is left to libphonenumber itself. tests/test_phones.py checks the two agree.
    """
    text = pl.col("raw").str.replace_all(r"\(\s*0\s*\)", " ").str.strip_chars()
    digits = text.str.replace_all(r"\D", "")
    plus = text.str.starts_with("+")
    length = digits.str.len_chars()
    nsn = (
        pl.when(plus & (length == 11) & digits.str.starts_with("7"))
        .then(digits.str.slice(1))
        .when(~plus & (length == 11) & digits.str.contains("^[78]"))
        .then(digits.str.slice(1))
        .when(~plus & (length == 10))
        .then(digits)
    )
    frame = frame.with_columns(
        nsn=pl.when(text.str.contains(r"^\+?[\d\s()\-.]+$")).then(nsn),
    )
    valid = pl.lit(False)
    region = pl.lit(None, pl.String)
    for name, chosen, known in reversed(_country_validity(7)):
        valid = pl.when(chosen).then(known).otherwise(valid)
        region = pl.when(chosen).then(pl.lit(name)).otherwise(region)
    # many written forms share one national number: test each number once
    numbers = frame.select(pl.col("nsn").drop_nulls().unique()).with_columns(
        e164=pl.when(valid).then(pl.lit("+7") + pl.col("nsn")),
        region=pl.when(valid).then(region),
    )
    return frame.join(numbers, on="nsn", how="left").with_columns(fast=pl.col("nsn").is_not_null())


def phone_map(raw_values: Iterable[str | None], region: str, key: bytes) -> pl.DataFrame:
    """One row per distinct raw string: `raw`, `phone_hash` (NULL unless identified),
    `status`, and `region`, the identified number's own country (for the data-quality
    page: a US dump read with the Russian default shows up as invalid or foreign).

    With the Russian default region the usual forms are parsed column-wise; the rest, and
    every number under another default region, goes through libphonenumber one distinct
    string at a time.
    """
    frame = pl.DataFrame({"raw": list(set(raw_values))}, schema={"raw": pl.String})
    hidden = pl.col("raw").str.contains("(?i)" + _HIDDEN.pattern, strict=True) | ~pl.col(
        "raw"
    ).str.contains(r"\d")
    if region == "RU":
        frame = _fast_e164(frame.with_columns(nsn=pl.lit(None, pl.String)))
    else:
        frame = frame.with_columns(
            fast=pl.lit(False), e164=pl.lit(None, pl.String), region=pl.lit(None, pl.String)
        )
    frame = frame.with_columns(
        fast=pl.col("fast") & pl.col("raw").is_not_null() & ~hidden.fill_null(False)
    )
    slow = frame.filter(~pl.col("fast"))["raw"].to_list()
    parsed = [identify(raw, region) for raw in slow]
    slow_frame = pl.DataFrame(
        {
            "raw": slow,
            "e164": [e for e, _, _ in parsed],
            "status": [status.value for _, status, _ in parsed],
            "region": [r for _, _, r in parsed],
        },
        schema={"raw": pl.String, "e164": pl.String, "status": pl.String, "region": pl.String},
    )
    fast_frame = frame.filter(pl.col("fast")).select(
        "raw",
        "e164",
        status=pl.when(pl.col("e164").is_null())
        .then(pl.lit(PhoneStatus.INVALID.value))
        .otherwise(pl.lit(PhoneStatus.IDENTIFIED.value)),
        region="region",
    )
    result = pl.concat([fast_frame, slow_frame])
    numbers = result["e164"].drop_nulls().unique().to_list()
    hashes = pl.DataFrame(
        {"e164": numbers, "phone_hash": keyed_hashes(numbers, key)},
        schema={"e164": pl.String, "phone_hash": pl.String},
    )
    return result.join(hashes, on="e164", how="left").select(
        "raw", "phone_hash", "status", "region"
    )


def e164_map(raw_values: Iterable[str | None], region: str) -> pl.DataFrame:
    """Distinct raw string → E.164 for the clinic's own numbers (tracking lines), not hashed."""
    raws = list(set(raw_values))
    return pl.DataFrame(
        {"raw": raws, "e164": [to_e164(raw, region)[0] for raw in raws]},
        schema={"raw": pl.String, "e164": pl.String},
    )
