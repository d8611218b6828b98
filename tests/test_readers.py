"""Reading files: every record lands with its exact line, whatever the file looks like."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.readers import InputError, normalise_header, read_into
from tests.conftest import write


def read(conn: duckdb.DuckDBPyConnection, path: Path) -> tuple[pl.DataFrame, str]:
    report, _ = read_into(conn, path, path.name, "_t")
    frame = conn.sql("select * from _t order by _line").pl()
    assert report.rows == frame.height
    return frame, report.reader


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


def test_clean_file_takes_the_fast_reader(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    frame, reader = read(conn, write(tmp_path / "f.csv", "A,B,C\n1,x,2\n2,y,3\n"))
    assert reader == "duckdb"
    assert frame["_line"].to_list() == [2, 3]
    assert frame["a"].to_list() == ["1", "2"]


def test_ragged_rows_keep_their_physical_lines(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
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


def test_semicolons_windows_1251_and_missing_columns(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "f.csv", "A;C;extra\nпривет;1,5;z\n", encoding="cp1251")
    report, headers = read_into(conn, path, "f.csv", "_t")
    assert report.encoding == "cp1251"
    assert headers == ["a", "c", "extra"]
    assert conn.execute("select a, c, extra from _t").fetchall() == [("привет", "1,5", "z")]


def test_utf16_and_bom(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    frame, _ = read(conn, write(tmp_path / "u16.csv", "\ufeffa\tb\tc\nx\ty\tz\n", "utf-16"))
    assert frame.select("a", "b", "c").row(0) == ("x", "y", "z")
    frame, _ = read(conn, write(tmp_path / "bom.csv", "\ufeffa,b,c\n1,2,3\n"))
    assert frame["a"].to_list() == ["1"]


def test_excel_rows_are_spreadsheet_rows(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    pl.DataFrame({"A": ["d1", None, "d3"], "B": ["x", None, "z"], "C": [1, None, 3]}).write_excel(
        path
    )
    frame, reader = read(conn, path)
    assert reader == "excel"
    assert frame["_line"].to_list() == [2, 4]  # the empty row 3 is not a record
    assert frame["c"].to_list() == ["1", "3"]
    assert "b" in frame.columns


def test_empty_file_is_a_clear_error(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"f\.csv: the file is empty"):
        read_into(conn, write(tmp_path / "f.csv", ""), "f.csv", "_t")
