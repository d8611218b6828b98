"""Reading files: every record lands with its exact line, whatever the file looks like; a
file that cannot be read at all is refused with one reason, never with a crash."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest.entities import CALLS
from pipelines.ingest.formats import builtin_specs, vocabulary
from pipelines.ingest.readers import (
    SMALL_FILE_BYTES,
    FileRejectedError,
    InputError,
    normalise_header,
    read_file,
)
from tests.clinic import write

ABC = frozenset({"a", "b", "c"})
CALL_COLUMNS = vocabulary(CALLS, [s for s in builtin_specs() if s.entity == "calls"])


def read(
    conn: duckdb.DuckDBPyConnection, path: Path, words: frozenset[str] = ABC
) -> tuple[pl.DataFrame, str]:
    got = read_file(conn, path, path.name, words, "_t")
    frame = got.rows.frame() if got.rows is not None else conn.sql("select * from _t").pl()
    assert got.report.rows == frame.height
    return frame.sort("_line"), got.report.reader


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Call ID", "call_id"),
        ("\ufeffCALL_ID", "call_id"),
        (" duration-s ", "duration_s"),
        ("Started.At", "started_at"),
    ],
)
def test_header_normalisation(header: str, expected: str) -> None:
    assert normalise_header(header) == expected


def test_small_files_take_python_and_large_clean_ones_duckdb(conn, tmp_path: Path) -> None:
    frame, reader = read(conn, write(tmp_path / "f.csv", "A,B,C\n1,x,2\n2,y,3\n"))
    assert reader == "python-csv"
    assert frame["_line"].to_list() == [2, 3]
    assert frame["a"].to_list() == ["1", "2"]
    rows = SMALL_FILE_BYTES // 8
    big = write(tmp_path / "big.csv", "a,b,c\n" + "".join(f"{i},x,y\n" for i in range(rows)))
    frame, reader = read(conn, big)
    assert reader == "duckdb"
    assert frame["_line"].to_list()[:2] == [2, 3] and frame.height == rows
    assert frame["_line"][-1] == rows + 1


def test_ragged_rows_keep_their_physical_lines(conn, tmp_path: Path) -> None:
    # line 3 is blank, line 4-5 is one record with a quoted newline, line 6 lacks a field,
    # line 7 has one too many
    text = 'a,b,c\n1,x,2\n\n2,"y\nz",3\n3,q\n4,w,5,6\n5,e,7\n'
    frame, reader = read(conn, write(tmp_path / "f.csv", text))
    assert reader == "python-csv"
    assert frame["_line"].to_list() == [2, 4, 6, 7, 8]
    assert frame["b"].to_list() == ["x", "y\nz", None, None, "e"]
    errors = dict(zip(frame["_line"], frame["_parse_error"], strict=True))
    assert errors[6] == "unreadable row: expected 3 fields as in the header, found 2"
    assert errors[7] == "unreadable row: expected 3 fields as in the header, found 4"
    assert errors[2] is None


def test_an_unclosed_quote_costs_one_row_not_the_rest_of_the_file(conn, tmp_path: Path) -> None:
    # line 3 opens a quote that never closes: the csv module would swallow lines 3-5 into
    # one field; each of them is split again on its own, so only line 3 is lost
    text = 'a,b,c\n1,x,2\n2,"+7 916 55,3\n3,y,4\n4,z,5\n'
    frame, _ = read(conn, write(tmp_path / "f.csv", text))
    assert frame["_line"].to_list() == [2, 3, 4, 5]
    assert frame["a"].to_list() == ["1", None, "3", "4"]
    assert frame["_parse_error"][1] == "unreadable row: a quote opens and never closes"
    assert frame["_raw"][1] == '2,"+7 916 55,3'
    # the example: the file ends inside an open quote
    text = "a,b,c\n1,x,2\n" + 'CT1,2025-03-15T10:00:00+03:00,"+7 916 55'
    frame, _ = read(conn, write(tmp_path / "g.csv", text))
    assert frame["_line"].to_list() == [2, 3]
    assert frame["_parse_error"].to_list()[0] is None
    assert frame["_parse_error"][1] == "unreadable row: a quote opens and never closes"


def test_each_line_is_utf8_or_windows_1251_or_unreadable(conn, tmp_path: Path) -> None:
    # line 2 UTF-8, line 3 Windows-1251, line 4 holds 0x98 (undefined in 1251, not UTF-8)
    data = (
        b"a;b;c\n" + "1;Наталья;x\n".encode() + "2;Наталья;y\n".encode("cp1251") + b"3;\x98\x98;z\n"
    )
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    got = read_file(conn, path, "mixed.csv", ABC, "_t")
    frame = got.rows.frame()
    assert frame["b"].to_list() == ["Наталья", "Наталья", None]
    assert frame["_parse_error"][2] == (
        "unreadable row: the line is not text (neither UTF-8 nor Windows-1251, or a NUL byte)"
    )
    assert got.report.encoding == "cp1251+utf-8 (undecodable lines)"


def test_semicolons_windows_1251_and_missing_columns(conn, tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", "A;C;extra\nпривет;1,5;z\n", encoding="cp1251")
    got = read_file(conn, path, "f.csv", ABC, "_t")
    assert got.report.encoding == "cp1251"
    assert got.headers == ["a", "c", "extra"]
    assert got.rows.frame().select("a", "c", "extra").rows() == [("привет", "1,5", "z")]


def test_utf16_and_bom(conn, tmp_path: Path) -> None:
    frame, _ = read(conn, write(tmp_path / "u16.csv", "\ufeffa\tb\tc\nx\ty\tz\n", "utf-16"))
    assert frame.select("a", "b", "c").row(0) == ("x", "y", "z")
    frame, _ = read(conn, write(tmp_path / "bom.csv", "\ufeffa,b,c\n1,2,3\n"))
    assert frame["a"].to_list() == ["1"]
    # an odd byte count: the cut last line cannot be read, the others can
    data = "\ufeffa,b,c\n1,2,3\n4,5,6\n".encode("utf-16-le")[:-1]
    path = tmp_path / "odd.csv"
    path.write_bytes(data)
    frame, _ = read(conn, path)
    assert frame["a"].to_list() == ["1", None]
    assert frame["_line"][1] == 3 and "neither UTF-8" in frame["_parse_error"][1]


def test_header_is_found_by_its_names_and_gives_the_separator(conn, tmp_path: Path) -> None:
    # a title line with commas above a tab-separated header (Google Ads' UTF-16 download)
    text = "Campaign report, all campaigns\n1 Oct 2025 - 31 Oct 2025\na\tb\tc\n1\t2\t3\n"
    got = read_file(conn, write(tmp_path / "t.csv", text, "utf-16"), "t.csv", ABC, "_t")
    assert got.headers == ["a", "b", "c"]
    assert got.rows.frame()["_line"].to_list() == [4]
    assert got.report.skipped_lines == 2


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("no_header.csv", b"CT1,2025-03-15 10:00,+7 916 555 00 00,true\n", "no header line"),
        ("junk.csv", bytes(range(256)) * 40, "no header line"),
        ("fake.xlsx", b"this is not a zip", "not a readable workbook"),
        ("bad.json", b'{"records": [1, 2', "not valid JSON"),
        ("other.json", b'[{"x": 1}]', "none of the records' fields"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_one_reason(
    conn, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FileRejectedError, match=reason) as info:
        read_file(conn, path, name, CALL_COLUMNS, "_t")
    assert "\n" not in str(info.value)


def test_excel_rows_are_spreadsheet_rows(conn, tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    pl.DataFrame({"A": ["d1", None, "d3"], "B": ["x", None, "z"], "C": [1, None, 3]}).write_excel(
        path
    )
    frame, reader = read(conn, path)
    assert reader == "excel"
    assert frame["_line"].to_list() == [2, 4]  # the empty row 3 is not a record
    assert frame["c"].to_list() == ["1", "3"]
    assert "b" in frame.columns


# --- properties: whatever the bytes, the reader answers or refuses, it never crashes -------

VALID = (
    "call_id,started_at,caller_phone,answered,duration_s\n"
    "C1,2025-03-01 10:00,+7 916 123-45-67,true,60\n"
    'C2,2025-03-01 11:00,"8 916 765 43 21",false,0\n'
    "C3,01.03.2025 12:00,9161112233,да,45\n"
)
ENCODINGS = ("utf-8", "utf-8-sig", "cp1251", "utf-16", "utf-16-le", "utf-16-be")


def assert_reads_or_refuses(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        got = read_file(conn, path, path.name, CALL_COLUMNS, "_t")
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    frame = got.rows.frame() if got.rows is not None else conn.sql("select * from _t").pl()
    assert frame.height == got.report.rows
    assert frame["_line"].drop_nulls().min() is None or frame["_line"].min() >= 1


HYPOTHESIS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@HYPOTHESIS
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".json", ".xlsx", ".tsv"]))
def test_random_bytes_never_crash_a_reader(conn, tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    assert_reads_or_refuses(conn, path)


@HYPOTHESIS
@given(
    cut=st.integers(min_value=0, max_value=len(VALID.encode("utf-16"))),
    encoding=st.sampled_from(ENCODINGS),
    noise=st.binary(max_size=8),
    at=st.integers(min_value=0, max_value=400),
)
def test_truncated_or_damaged_exports_never_crash_a_reader(
    conn, tmp_path: Path, cut: int, encoding: str, noise: bytes, at: int
) -> None:
    data = VALID.encode(encoding)[:cut]
    data = data[:at] + noise + data[at:]
    path = tmp_path / "calls.csv"
    path.write_bytes(data)
    assert_reads_or_refuses(conn, path)


@HYPOTHESIS
@given(
    text=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=0, max_size=300),
    encoding=st.sampled_from(ENCODINGS),
)
def test_any_text_in_any_encoding_never_crashes_a_reader(
    conn, tmp_path: Path, text: str, encoding: str
) -> None:
    path = tmp_path / "calls.csv"
    path.write_bytes((VALID + text).encode(encoding, errors="replace"))
    assert_reads_or_refuses(conn, path)


def test_what_a_hostile_tester_found_loses_nothing(conn, tmp_path: Path) -> None:
    # an unclosed quote followed by more than the csv module's field limit (128 KiB):
    # every line it swallowed is split again; only the broken one is lost
    rows = [f"{i},x,{'p' * 60}\n" for i in range(3000)]
    rows[10] = '10,"never closes,p\n'
    frame, _ = read(conn, write(tmp_path / "quote.csv", "a,b,c\n" + "".join(rows)))
    assert frame.height == 3000
    assert frame["_parse_error"].drop_nulls().to_list() == [
        "unreadable row: a quote opens and never closes"
    ]
    # LF, CRLF and lone CR line ends in one file: every record on its own line
    endings = ["\n", "\r\n", "\r"]
    text = "a,b,c\n" + "".join(f"{i},x,y{endings[i % 3]}" for i in range(300))
    frame, _ = read(conn, write(tmp_path / "endings.csv", text))
    assert frame.height == 300 and frame["_parse_error"].null_count() == 300
    assert frame["_line"].to_list() == list(range(2, 302))
    # a NUL byte is not text; a byte-order mark inside the file (two exports pasted
    # together) is dropped, not kept in a key
    data = b"a,b,c\n1,ya\x00ndex,z\n\xef\xbb\xbf2,x,y\n"
    path = tmp_path / "nul.csv"
    path.write_bytes(data)
    frame, _ = read(conn, path)
    assert frame["a"].to_list() == [None, "2"]
    assert "NUL" in frame["_parse_error"][0]


def test_a_field_beyond_the_csv_modules_limit_is_named_as_such(conn, tmp_path: Path) -> None:
    # a field of 200,000 characters (a pasted document, not an export's cell): its row is
    # unreadable for that reason, not for a field count it never had; the others load
    text = f"a,b,c\n1,x,2\n2,{'p' * 200_000},3\n3,y,4\n"
    frame, _ = read(conn, write(tmp_path / "long.csv", text))
    assert frame["_line"].to_list() == [2, 3, 4]
    assert frame["_parse_error"].to_list() == [
        None,
        "unreadable row: a field longer than 131,072 characters",
        None,
    ]
