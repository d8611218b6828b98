"""Phone identity: every written form of one number is one identity, and only a hash."""

from __future__ import annotations

import hmac
import random

import pytest

from pipelines.ingest.phones import (
    PhoneStatus,
    identify,
    keyed_hash,
    keyed_hashes,
    phone_map,
    to_e164,
)

SAME_MOBILE = [
    "+7 (916) 123-45-67",
    "8 916 1234567",
    "9161234567",
    "+79161234567",
    "8(916)123-45-67",
    "7 916 123 45 67",
    "89161234567",
    "+7 (0) 916 123-45-67",
    " 8-916-123-45-67 ",
]


@pytest.mark.parametrize("written", SAME_MOBILE)
def test_every_russian_form_is_the_same_e164(written: str) -> None:
    assert to_e164(written, "RU") == ("+79161234567", PhoneStatus.IDENTIFIED)


def test_moscow_landline_and_foreign_numbers() -> None:
    assert to_e164("8 (495) 123-45-67", "RU")[0] == "+74951234567"
    assert to_e164("+44 20 7946 0958", "RU")[0] == "+442079460958"


@pytest.mark.parametrize(
    ("written", "status"),
    [
        ("", PhoneStatus.MISSING),
        (None, PhoneStatus.MISSING),
        ("anonymous", PhoneStatus.HIDDEN),
        ("Скрытый номер", PhoneStatus.HIDDEN),
        ("1234567", PhoneStatus.INVALID),  # a local number without its area code
        ("+7 (000) 000-00-00", PhoneStatus.INVALID),
    ],
)
def test_unidentified_numbers(written: str | None, status: PhoneStatus) -> None:
    assert to_e164(written, "RU") == (None, status)


def test_hash_is_keyed_and_stable() -> None:
    a = keyed_hash("+79161234567", b"key-one")
    assert a == keyed_hash("+79161234567", b"key-one")
    assert a != keyed_hash("+79161234567", b"key-two")
    assert len(a) == 32
    assert "9161234567" not in a


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"y" * 100, bytes(range(32))])
def test_the_column_wise_hash_is_hmac_sha256(key: bytes) -> None:
    """DuckDB spells HMAC out (RFC 2104): the same digest as Python's hmac, for a short
    key, a key of exactly one block, a key longer than a block (hashed first) and bytes
    that are not text."""
    numbers = ["+79161234567", "+74951234567", "+15551234567"]
    expected = [hmac.digest(key, n.encode(), "sha256").hex()[:32] for n in numbers]
    assert keyed_hashes(numbers, key) == expected
    assert [keyed_hash(n, key) for n in numbers] == expected


def test_phone_map_gives_one_hash_per_identity() -> None:
    frame = phone_map([*SAME_MOBILE, "anonymous", None], "RU", b"k")
    identified = frame.filter(frame["status"] == "identified")
    assert identified.height == len(SAME_MOBILE)
    assert identified["phone_hash"].n_unique() == 1
    assert frame.filter(frame["status"] != "identified")["phone_hash"].null_count() == 2


def test_column_wise_path_agrees_with_libphonenumber() -> None:
    """The fast path must give exactly libphonenumber's answer for every form."""
    rng = random.Random(5)
    nationals = ["".join(rng.choice("0123456789") for _ in range(9)) for _ in range(3000)]
    written = []
    for i, rest in enumerate(nationals):
        first = "0123456789"[i % 10]
        n = first + rest
        written += [
            n,
            "8" + n,
            "7" + n,
            "+7" + n,
            f"+7 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}",
            f"8 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}",
            f"+7 (0) {n}",
            n[:9],
            "+7" + n + "1",
            "8 10 44 " + n,
            "+44 " + n,
        ]
    key = b"k"
    frame = phone_map(written, "RU", key)
    assert frame.height == len(set(written))
    for raw, phone_hash, status, region in frame.iter_rows():
        e164, expected, expected_region = identify(raw, "RU")
        assert status == expected.value, raw
        assert phone_hash == (keyed_hash(e164, key) if e164 else None), raw
        assert region == expected_region, raw
    assert frame["status"].value_counts().height == 2  # both valid and invalid were tried
    # Kazakh numbers share +7 with Russia: the region tells them apart, as libphonenumber does
    assert set(frame["region"].drop_nulls()) >= {"RU", "KZ", "GB"}
