"""Read one export file into rows of text with the exact line each row came from.

Every row read lands in the target table: a row that cannot be split into the header's
fields keeps its line number and a reason in `_parse_error` (the staging gate sends it to
quarantine). Nothing is typed here; typing is SQL's job in `sql/staging/`.

CSV files take DuckDB's parallel reader when that is provably line-exact (no rejected
rows, one physical line per record); otherwise, for the rare broken or multi-line file,
Python's csv module, which knows the physical line of every record.
"""

from __future__ import annotations

import codecs
import csv
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
SUPPORTED_SUFFIXES = CSV_SUFFIXES | EXCEL_SUFFIXES
META_COLUMNS = ("_source_file", "_line", "_parse_error", "_raw")
_DELIMITERS = (",", ";", "\t", "|")
_PHONE_LIKE = re.compile(r"^[\s+()\-.\d]+$")
_CHUNK = 1 << 24


class InputError(Exception):
    """Input that cannot be used at all (missing folder, unreadable file): stops the run."""


@dataclass
class FileReport:
    source_file: str
    rows: int = 0
    malformed: int = 0
    reader: str = ""
    encoding: str = "utf-8"
    missing_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


def normalise_header(name: str) -> str:
    """Case-, space- and punctuation-insensitive column name (`Call ID` → `call_id`)."""
    cleaned = name.replace("\ufeff", "").strip().lower()
    cleaned = re.sub(r"[\s\-./]+", "_", cleaned)
    return re.sub(r"_+", "_", cleaned).strip("_")


def redact_phone_like(value: str) -> str:
    """Mask a field that could be a phone number before it is kept as raw text.

    Only rows the reader could not split keep raw text (their phone column is unknown),
    so every field with 10 to 15 digits and nothing but phone punctuation is masked.
    """
    digits = sum(ch.isdigit() for ch in value)
    if 10 <= digits <= 15 and _PHONE_LIKE.match(value):
        return "<phone redacted>"
    return value


def read_into(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    source_file: str,
    columns: tuple[str, ...],
    table: str,
) -> tuple[FileReport, str]:
    """Read every record of `path` into the temp table `table`.

    Returns the report and a `select` giving the records in canonical form: the
    entity's columns as text, then `_source_file`, `_line`, `_parse_error`, `_raw`.
    The loader unions these selects, so each file is copied once, not appended twice.
    """
    report = FileReport(source_file=source_file)
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return report, _read_excel(conn, path, columns, table, report)
    if suffix not in CSV_SUFFIXES:
        raise InputError(f"{source_file}: unsupported file type {suffix!r}")
    with tempfile.TemporaryDirectory(prefix="clinic-read-") as tmp:
        utf8_path = _as_utf8(path, Path(tmp), report)
        header_line = _first_line(utf8_path)
        if header_line is None:
            raise InputError(f"{source_file}: the file is empty (no header line)")
        delimiter = max(_DELIMITERS, key=header_line.count)
        select = _read_csv_fast(conn, utf8_path, delimiter, columns, table, report)
        if select is None:
            select = _read_csv_exact(conn, utf8_path, delimiter, columns, table, report)
    return report, select


def _as_utf8(path: Path, tmp: Path, report: FileReport) -> Path:
    """The file itself when it is UTF-8 (with or without BOM), else a UTF-8 copy.

    UTF-16 is recognised by its BOM; anything else that is not valid UTF-8 is read as
    Windows-1251, the usual encoding of Russian Excel exports.
    """
    if _head(path).startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        report.encoding = "utf-16"
    else:
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return path
        except UnicodeDecodeError:
            report.encoding = "cp1251"
    target = tmp / (path.stem + ".utf8.csv")
    with (
        path.open(encoding=report.encoding, newline="") as src,
        target.open("w", encoding="utf-8", newline="") as dst,
    ):
        while chunk := src.read(_CHUNK):
            dst.write(chunk)
    return target


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(4)


def _first_line(path: Path) -> str | None:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for line in handle:
            if line.strip():
                return line
    return None


def _count_lines(path: Path) -> tuple[int, bool]:
    """Physical lines and whether any of them is blank (the reader skips those)."""
    lines = 0
    blank = False
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            lines += chunk.count(b"\n")
            blank = (
                blank
                or b"\n\n" in chunk
                or b"\n\r\n" in chunk
                or (last == b"\n" and chunk[:1] in (b"\n", b"\r"))
            )
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return lines, blank


def _mapping(header: list[str], columns: tuple[str, ...], report: FileReport) -> dict[str, int]:
    """Canonical column → position in the file; records what is missing or ignored."""
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        key = normalise_header(name)
        if key in columns and key not in positions:
            positions[key] = index
        elif key:
            report.ignored_columns.append(name.strip())
    report.missing_columns = [c for c in columns if c not in positions]
    return positions


def _read_csv_fast(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    delimiter: str,
    columns: tuple[str, ...],
    table: str,
    report: FileReport,
) -> str | None:
    """The select over DuckDB's read of the file, or None when that read is not line-exact."""
    conn.execute("drop table if exists _file_rejects; drop table if exists _file_scans")
    conn.execute(
        f"create or replace temp table {table} as select * from read_csv(?, all_varchar = true, "
        "header = true, delim = ?, quote = '\"', escape = '\"', store_rejects = true, "
        "rejects_table = '_file_rejects', rejects_scan = '_file_scans', null_padding = false, "
        "strict_mode = true)",
        [str(path), delimiter],
    )
    rejected = conn.execute("select count(*) from _file_rejects").fetchall()[0][0]
    rows = conn.execute(f"select count(*) from {table}").fetchall()[0][0]
    physical_lines, has_blank = _count_lines(path)
    if rejected or has_blank or physical_lines != rows + 1:
        conn.execute(f"drop table {table}")
        return None
    header = [
        row[0] for row in conn.execute(f"select column_name from (describe {table})").fetchall()
    ]
    positions = _mapping(header, columns, report)
    select = ", ".join(
        f'"{header[positions[c]]}" as "{c}"' if c in positions else f'null::varchar as "{c}"'
        for c in columns
    )
    report.rows = rows
    report.reader = "duckdb"
    source = report.source_file.replace("'", "''")
    return (
        f"select {select}, '{source}' as _source_file, rowid + 2 as _line, "
        f"null::varchar as _parse_error, null::varchar as _raw from {table}"
    )


def _read_csv_exact(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    delimiter: str,
    columns: tuple[str, ...],
    table: str,
    report: FileReport,
) -> str:
    report.reader = "python-csv"
    data: dict[str, list[str | int | None]] = {c: [] for c in (*columns, *META_COLUMNS)}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = _records(csv.reader(handle, delimiter=delimiter, quotechar='"'))
        _, header = next(records)
        width = len(header)
        positions = _mapping(header, columns, report)
        for line, fields in records:
            error = fields if isinstance(fields, str) else None
            if error is None and len(fields) != width:
                error = f"expected {width} fields as in the header, found {len(fields)}"
            ok = error is None
            for column in columns:
                data[column].append(
                    fields[positions[column]] if ok and column in positions else None
                )
            data["_source_file"].append(report.source_file)
            data["_line"].append(line)
            data["_parse_error"].append(None if ok else f"unreadable row: {error}")
            data["_raw"].append(
                None
                if ok or isinstance(fields, str)
                else delimiter.join(redact_phone_like(f) for f in fields)
            )
            report.rows += 1
            report.malformed += not ok
    frame = pl.DataFrame(
        data,
        schema={
            **dict.fromkeys(columns, pl.String),
            "_source_file": pl.String,
            "_line": pl.Int64,
            "_parse_error": pl.String,
            "_raw": pl.String,
        },
    )
    return _frame_table(conn, frame, table)


def _frame_table(conn: duckdb.DuckDBPyConnection, frame: pl.DataFrame, table: str) -> str:
    conn.register("_file_frame", frame)
    conn.execute(f"create or replace temp table {table} as select * from _file_frame")
    conn.unregister("_file_frame")
    return f"select * from {table}"


def _records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str] | str]]:
    """(first physical line, fields) per record; blank lines are not records.

    A record the csv module cannot parse yields its line and the error text instead.
    """
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, str(exc)
            start = reader.line_num + 1  # type: ignore[attr-defined]
            continue
        line, start = start, reader.line_num + 1  # type: ignore[attr-defined]
        if fields and any(f.strip() for f in fields):
            yield line, fields


def _read_excel(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    columns: tuple[str, ...],
    table: str,
    report: FileReport,
) -> str:
    """First sheet, first row as header; `line` is the spreadsheet row number."""
    report.reader = "excel"
    report.encoding = "xlsx"
    try:
        frame = pl.read_excel(path, engine="calamine", infer_schema_length=0, drop_empty_rows=False)
    except Exception as exc:  # calamine raises its own types for corrupt workbooks
        raise InputError(f"{report.source_file}: cannot read the workbook ({exc})") from exc
    positions = _mapping(frame.columns, columns, report)
    frame = frame.select(
        *[
            pl.col(frame.columns[positions[c]]).cast(pl.String).str.strip_chars().alias(c)
            if c in positions
            else pl.lit(None, pl.String).alias(c)
            for c in columns
        ],
        pl.lit(report.source_file).alias("_source_file"),
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("_line"),
        pl.lit(None, pl.String).alias("_parse_error"),
        pl.lit(None, pl.String).alias("_raw"),
    )
    empty = pl.all_horizontal(pl.col(list(columns)).is_null())
    frame = frame.filter(~empty)
    report.rows = frame.height
    return _frame_table(conn, frame, table)
