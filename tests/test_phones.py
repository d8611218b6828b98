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


# Every written form libphonenumber accepts as one number (its punctuation between the
# groups, its full-width and other-script digits, its full-width plus) must be masked in
# free text too: what the loader recognises as a phone, the masker must not let through.
# (libphonenumber's _VALID_PUNCTUATION is a regex class: its range ‐-― is spelled out here)
PUNCTUATION = "-x‐‑‒–—―−ー－-／ \xa0\xad\u200b\u2060\u3000()（）［］.[]/~⁓∼～\u2002\u2007"
FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _masked(conn, texts: list[str]) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "select mask_phones(s) from unnest(?::varchar[]) with ordinality as t(s, i) order by i",
            [texts],
        ).fetchall()
    ]


def test_every_form_the_loader_identifies_is_masked_in_free_text(conn) -> None:
    forms = [f"8{p}916{p}123{p}45{p}67" for p in PUNCTUATION if p != "x"]
    forms += [
        "+7 (916) 123-45-67".translate(FULL_WIDTH),
        "8 916 123 45 67".translate(ARABIC_INDIC),
        "8 - (916) - 123-45-67",  # four separators between two groups
        "+7 (0) 916 123-45-67",
    ]
    forms = [f for f in forms if identify(f, "RU")[0] == "+79161234567"]
    assert len(forms) >= 30  # the check above keeps what libphonenumber reads as the number
    texts = [f"перезвонить {f} вечером" for f in forms]
    assert _masked(conn, texts) == ["перезвонить <phone> вечером"] * len(texts)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # what a person reads as a phone though libphonenumber refuses it
        ("tel 8,916,123,45,67", "tel <phone>"),
        ("tel 8\t916\t123\t45\t67", "tel <phone>"),
        ('"8 916\n123-45-67"', '"<phone>"'),
        # what a hostile test found next: middle dots, joiners and direction marks, a
        # vertical tab, pipes, a run of spaces around a dash, a JSON or HTML export's
        # escapes, and a phone with a 4-2-2 stretch that is not a date
        ("8·916·123·45·67", "<phone>"),
        ("8\u200d916\u200e123 45 67", "<phone>"),
        ("8\x0b916\x0b123\x0b45\x0b67", "<phone>"),
        ("8 | 916 | 123 45 67", "<phone>"),
        ("8 (916)   -   123-45-67", "<phone>"),
        ('["8 916\\n123-45-67"]', '["<phone>"]'),
        ("8&nbsp;916&nbsp;123-45-67", "<phone>"),
        ("+7-9161-23-45-67", "<phone>"),
        ("7 9161-23-12-31", "<phone>"),
        # the control characters the masker marks with, already in the text, are spaces
        ("8916\x1f1234567", "<phone>"),
        ("89161234567\x1c89161234567", "<phone> <phone>"),
        # an unsupported file type that is a phone (the file `export.79161234567`)
        ("unsupported file type '.79161234567'", "unsupported file type '.<phone>'"),
        # a date before a phone keeps its day: the run starts after the date
        ("2025-03-01 8 916 123 45 67", "2025-03-01 <phone>"),
        ("01.03.2025 89161234567", "01.03.2025 <phone>"),
        # kept: dates, times, short numbers, amounts, identifiers longer than E.164
        ("2025-03-01 10:00:00+03:00", "2025-03-01 10:00:00+03:00"),
        ("визит 01.03.2025, счёт 15 000,00", "визит 01.03.2025, счёт 15 000,00"),
        ("order 1234567890123456", "order 1234567890123456"),
        ("3 визита, 2 звонка", "3 визита, 2 звонка"),
    ],
)
def test_free_text_masking(conn, text: str, masked: str) -> None:
    assert _masked(conn, [text]) == [masked]


# The mask marks separators and digits of other scripts before it counts (so that its
# pattern compiles in a few milliseconds wherever it is called): the marks must change
# nothing. The reference is the rule written plainly, one pattern over the unmarked text
# built from the same separator macro, with the mask's own shortcuts and date fences.
_PLAIN_RUNS = r"""regexp_replace(
    {s},
    '(^|[^\p{{Nd}}\x{{1F}}])([+\x{{FF0B}}]?\p{{Nd}}(?:' || phone_separator()
    || '{{0,5}}\p{{Nd}}){{9,14}})($|\P{{Nd}})',
    '\1<phone>\3',
    'g'
)"""
_PLAIN_MASK = (
    "case when length(s) < 10 or is_plain_timestamp(s) or not may_hold_phone(s) then s "
    "else replace("
    + _PLAIN_RUNS.format(s=_PLAIN_RUNS.format(s="fence_dates(s)"))
    + ", chr(31), '') end"
)
_PIECES = [
    *"0123456789" * 6,
    *"٠١٢٣٤٥٦٧٨٩０１２３",
    *" -().,/|_~[]·−～（）\t\n\xa0\u2009\u200b\u200d\xad+＋aбx:;#",
    "\\n",
    "\\t",
    "&nbsp;",
    "&#160;",
    "2025-03-01",
    "01.03.2025",
    "31/12/2024",
    "8 916 123 45 67",
    "+7 (916) 123-45-67",
    "1234567890123456",
    "   ",
]


def test_the_marks_change_nothing_the_plain_rule_masks(conn) -> None:
    rng = random.Random(12)
    texts = ["".join(rng.choice(_PIECES) for _ in range(rng.randint(3, 40))) for _ in range(20_000)]
    rows = conn.execute(
        f"select s, mask_phones(s), {_PLAIN_MASK} "
        "from unnest(?::varchar[]) with ordinality as t(s, i) order by i",
        [texts],
    ).fetchall()
    assert sum(masked != text for text, masked, _ in rows) > 5_000  # the texts hold phones
    assert [(text, masked) for text, masked, plain in rows if masked != plain] == []
