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

from pipelines.warehouse import sql_literal


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


def _hmac_pads(key: bytes) -> dict[str, bytes]:
    """HMAC spelled out per RFC 2104, sha256(key ^ opad || sha256(key ^ ipad || message)),
    on the key padded to SHA-256's 64-byte block (hashed first if longer): the two pads."""
    block = (key if len(key) <= SHA256_BLOCK else hashlib.sha256(key).digest()).ljust(
        SHA256_BLOCK, b"\0"
    )
    return {"inner": bytes(b ^ 0x36 for b in block), "outer": bytes(b ^ 0x5C for b in block)}


_HMAC_SQL = f"left(sha256($outer || unhex(sha256($inner || encode(e164)))), {HASH_HEX_CHARS})"
"""`keyed_hash` of the column `e164`, by DuckDB on every core (a chain's millions of
numbers: a microsecond each in Python, a fraction of one here)."""


def keyed_hashes(numbers: list[str], key: bytes) -> list[str]:
    """`keyed_hash` of many numbers at once, by the SQL the loaders use."""
    with duckdb.connect() as conn:
        conn.register("numbers", pl.DataFrame({"e164": numbers}, schema={"e164": pl.String}))
        rows = conn.execute(f"select {_HMAC_SQL} from numbers", _hmac_pads(key)).fetchall()
    return [row[0] for row in rows]


def _valid_desc_sql(desc: object) -> str:
    """libphonenumber's `_is_number_matching_desc` on the national number `nsn`, in SQL."""
    pattern = getattr(desc, "national_number_pattern", None)
    if desc is None or not pattern:
        return "false"
    lengths = [n for n in (getattr(desc, "possible_length", None) or ()) if n > 0]
    matches = f"regexp_full_match(nsn, {sql_literal(pattern)})"
    if not lengths:
        return matches
    return f"(length(nsn) in ({', '.join(map(str, lengths))}) and {matches})"


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
def _country_rules(country_code: int) -> tuple[tuple[str, str, str], ...]:
    """Per region of a country code: (region, chosen for this number, valid in it), SQL.

    This is libphonenumber's own metadata and rules (`region_code_for_number`, then
    `is_valid_number_for_region`), evaluated column-wise on the national number `nsn`.
    """
    rules = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        types = " or ".join(_valid_desc_sql(getattr(meta, t)) for t in _NUMBER_TYPES)
        known = f"({_valid_desc_sql(meta.general_desc)} and ({types}))"
        chosen = (
            f"regexp_matches(nsn, {sql_literal('^(?:' + meta.leading_digits + ')')})"
            if meta.leading_digits
            else known
        )
        rules.append((region, chosen, known))
    return tuple(rules)


_RUSSIAN_FORMS = r"""
create or replace temp table _phone_fast as
with forms as (
    select
        raw,
        trim(
            case
                when contains(raw, '(') then regexp_replace(raw, '\(\s*0\s*\)', ' ', 'g')
                else raw
            end
        ) as text
    from _phone_raw
),

digits as (
    select raw, starts_with(text, '+') as plus, translate(text, '+ ()-.', '') as d
    from forms
    where regexp_full_match(text, '\+?[\d ()\-.]+')
)

select
    raw,
    case
        when plus and length(d) = 11 and d[1] = '7' then d[2:]
        when not plus and length(d) = 11 and d[1] in ('7', '8') then d[2:]
        when not plus and length(d) = 10 then d
    end as nsn
from digits
where nsn is not null
"""
"""The plain Russian forms: only digits and phone punctuation, and one of `+7` + 10
digits, `8` or `7` + 10 digits, or 10 digits. Anything else (foreign numbers,
extensions, letters, hidden callers) is left to libphonenumber itself."""


def phone_table(
    conn: duckdb.DuckDBPyConnection, name: str, raw_sql: str, region: str, key: bytes
) -> None:
    """Temp table `name`: one row per distinct string of `raw_sql` (a query of one column,
    `raw`) with `phone_hash` (NULL unless identified), `status`, and `region`, the
    identified number's own country (for the data-quality page: a US dump read with the
    Russian default shows up as invalid or foreign).

    With the Russian default region the usual forms are parsed in SQL, every national
    number tested once against libphonenumber's own metadata; the rest, and every number
    under another default region, goes through libphonenumber one distinct string at a
    time. tests/test_phones.py checks the two agree.
    """
    conn.execute(f"create or replace temp table _phone_raw as select distinct raw from ({raw_sql})")
    if region == "RU":
        conn.execute(_RUSSIAN_FORMS)
    else:
        conn.execute("create or replace temp table _phone_fast (raw varchar, nsn varchar)")
    rules = _country_rules(7)
    valid = " ".join(f"when {chosen} then {known}" for _, chosen, known in rules)
    country = " ".join(f"when {chosen} then {sql_literal(r)}" for r, chosen, _ in rules)
    conn.execute(
        f"""
        create or replace temp table _phone_numbers as
        select nsn, case {valid} else false end as valid, case {country} end as region
        from (select distinct nsn from _phone_fast)
        """
    )
    slow = [
        row[0]
        for row in conn.execute(
            "select raw from _phone_raw anti join _phone_fast using (raw)"
        ).fetchall()
    ]
    parsed = [identify(raw, region) for raw in slow]
    conn.register(
        "_phone_slow",
        pl.DataFrame(
            {
                "raw": slow,
                "e164": [e for e, _, _ in parsed],
                "status": [status.value for _, status, _ in parsed],
                "region": [r for _, _, r in parsed],
            },
            schema={"raw": pl.String, "e164": pl.String, "status": pl.String, "region": pl.String},
        ),
    )
    conn.execute(
        f"""
        create or replace temp table {name} as
        with forms as (
            select
                f.raw,
                case when n.valid then '+7' || n.nsn end as e164,
                case when n.valid then '{PhoneStatus.IDENTIFIED}' else '{PhoneStatus.INVALID}' end
                    as status,
                case when n.valid then n.region end as region
            from _phone_fast as f
            join _phone_numbers as n using (nsn)
            union all
            select raw, e164, status, region from _phone_slow
        ),

        hashes as (
            select e164, {_HMAC_SQL} as phone_hash
            from (select distinct e164 from forms where e164 is not null)
        )

        select forms.raw, hashes.phone_hash, forms.status, forms.region
        from forms
        left join hashes using (e164)
        """,
        _hmac_pads(key),
    )
    conn.unregister("_phone_slow")
    conn.execute("drop table _phone_raw; drop table _phone_fast; drop table _phone_numbers")


def phone_map(raw_values: Iterable[str | None], region: str, key: bytes) -> pl.DataFrame:
    """`phone_table` of a list of strings, as a frame (tests, small lookups)."""
    with duckdb.connect() as conn:
        conn.register("_values", pl.DataFrame({"raw": list(raw_values)}, schema={"raw": pl.String}))
        phone_table(conn, "_map", "select raw from _values", region, key)
        return conn.sql("select raw, phone_hash, status, region from _map").pl()


def e164_map(raw_values: Iterable[str | None], region: str) -> pl.DataFrame:
    """Distinct raw string → E.164 for the clinic's own numbers (tracking lines), not hashed."""
    raws = list(set(raw_values))
    return pl.DataFrame(
        {"raw": raws, "e164": [to_e164(raw, region)[0] for raw in raws]},
        schema={"raw": pl.String, "e164": pl.String},
    )
