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
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
JSON_SUFFIXES = {".json"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
SUPPORTED_SUFFIXES = CSV_SUFFIXES | EXCEL_SUFFIXES | JSON_SUFFIXES
META_COLUMNS = ("_source_file", "_line", "_parse_error", "_raw")
_DELIMITERS = (",", ";", "\t", "|")
_PHONE_LIKE = re.compile(r"^[\s+()\-.\d]+$")
_SUMMARY = re.compile(r'^\s*"?(total|итого|всего)\b', re.IGNORECASE)
_HEADER_SCAN_LINES = 30
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
    format: str = "canonical"
    skipped_lines: int = 0
    """Title, date-range and total lines around the table: not records."""
    skipped_rows: int = 0
    """Records of the file that are not records of the entity (an outbound call)."""
    skip_reason: str = ""


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
    table: str,
    header_signatures: tuple[frozenset[str], ...] = (),
) -> tuple[FileReport, list[str]]:
    """Read every record of `path` into the temp view `table`, as text.

    The view's columns are the file's normalised headers, then `_source_file`, `_line`,
    `_parse_error` and `_raw`; `pipelines.formats` maps them to the entity's columns.
    `header_signatures` are header sets one of which marks the header line, so title and
    date-range lines above it (ad platforms' UI downloads) are skipped; total lines at
    the end are skipped too. Both are counted in the report, never silently.
    """
    report = FileReport(source_file=source_file)
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return report, _read_excel(conn, path, table, report)
    if suffix in JSON_SUFFIXES:
        return report, _read_json(conn, path, table, report)
    if suffix not in CSV_SUFFIXES:
        raise InputError(f"{source_file}: unsupported file type {suffix!r}")
    with tempfile.TemporaryDirectory(prefix="clinic-read-") as tmp:
        clean, offset, delimiter = _prepare_csv(path, Path(tmp), header_signatures, report)
        headers = _read_csv_fast(conn, clean, delimiter, offset, table, report)
        if headers is None:
            headers = _read_csv_exact(conn, clean, delimiter, offset, table, report)
    return report, headers


def drop_file_tables(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    conn.execute(f"drop view if exists {table}; drop table if exists {table}_data")


def unique_headers(names: list[str]) -> list[str]:
    """Normalised, unique, non-empty column names for a file's header row."""
    seen: dict[str, int] = {}
    out = []
    for index, name in enumerate(names):
        key = normalise_header(name) or f"column_{index + 1}"
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f"{key}_{seen[key]}")
    return out


def _prepare_csv(
    path: Path, tmp: Path, signatures: tuple[frozenset[str], ...], report: FileReport
) -> tuple[Path, int, str]:
    """A UTF-8 file starting at the header line and ending at the last record.

    Returns it, the number of physical lines cut above the header, and the delimiter.
    The original is used as it is when nothing needs cutting or transcoding.
    """
    encoding = _encoding(path, report)
    with path.open(encoding=encoding, newline="") as handle:
        head = [line for _, line in zip(range(_HEADER_SCAN_LINES), handle, strict=False)]
    header_index = _header_index(head, signatures)
    if header_index is None:
        raise InputError(f"{report.source_file}: the file is empty (no header line)")
    delimiter = max(_DELIMITERS, key=head[header_index].count)
    footer = _footer_lines(path, encoding)
    report.skipped_lines = header_index + footer
    if encoding in ("utf-8", "utf-8-sig") and not report.skipped_lines:
        return path, 0, delimiter
    target = tmp / (path.stem + ".clean.csv")
    with (
        path.open(encoding=encoding, newline="") as src,
        target.open("w", encoding="utf-8", newline="") as dst,
    ):
        lines = src.readlines() if footer else None
        if lines is not None:
            dst.writelines(lines[header_index : len(lines) - footer])
        else:
            for number, line in enumerate(src):
                if number >= header_index:
                    dst.write(line)
    return target, header_index, delimiter


def _encoding(path: Path, report: FileReport) -> str:
    """UTF-16 by its BOM; valid UTF-8 (BOM or not); anything else Windows-1251, the usual
    encoding of Russian Excel exports."""
    if _head(path).startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        report.encoding = "utf-16"
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        report.encoding = "cp1251"
        return "cp1251"
    return "utf-8-sig" if _head(path).startswith(codecs.BOM_UTF8) else "utf-8"


def _header_index(head: list[str], signatures: tuple[frozenset[str], ...]) -> int | None:
    """The first line holding one of the signatures, else the first non-blank line."""
    first = next((i for i, line in enumerate(head) if line.strip()), None)
    for index, line in enumerate(head):
        if not line.strip():
            continue
        delimiter = max(_DELIMITERS, key=line.count)
        names = set(unique_headers(next(csv.reader([line], delimiter=delimiter), [])))
        if any(signature <= names for signature in signatures):
            return index
    return first


def _footer_lines(path: Path, encoding: str) -> int:
    """Trailing total lines (`Total rows: 12`, `Итого;…`) and blanks after the last record."""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 65_536))
        tail = handle.read().decode(encoding, errors="replace").splitlines()
    count = 0
    for line in reversed(tail[1:]):
        if not line.strip() or _SUMMARY.match(line):
            count += 1
        else:
            break
    return count


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(4)


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


def _read_csv_fast(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    delimiter: str,
    offset: int,
    table: str,
    report: FileReport,
) -> list[str] | None:
    """DuckDB's parallel read, when it is provably line-exact; else None."""
    data = f"{table}_data"
    conn.execute("drop table if exists _file_rejects; drop table if exists _file_scans")
    conn.execute(
        f"create or replace temp table {data} as select * from read_csv(?, all_varchar = true, "
        "header = true, delim = ?, quote = '\"', escape = '\"', store_rejects = true, "
        "rejects_table = '_file_rejects', rejects_scan = '_file_scans', null_padding = false, "
        "strict_mode = true)",
        [str(path), delimiter],
    )
    rejected = conn.execute("select count(*) from _file_rejects").fetchall()[0][0]
    rows = conn.execute(f"select count(*) from {data}").fetchall()[0][0]
    physical_lines, has_blank = _count_lines(path)
    if rejected or has_blank or physical_lines != rows + 1:
        conn.execute(f"drop table {data}")
        return None
    original = [
        row[0] for row in conn.execute(f"select column_name from (describe {data})").fetchall()
    ]
    headers = unique_headers(original)
    renamed = ", ".join(f'"{name}" as "{key}"' for name, key in zip(original, headers, strict=True))
    source = report.source_file.replace("'", "''")
    conn.execute(
        f"create or replace temp view {table} as select {renamed}, "
        f"'{source}' as _source_file, rowid + {2 + offset} as _line, "
        f"null::varchar as _parse_error, null::varchar as _raw from {data}"
    )
    report.rows = rows
    report.reader = "duckdb"
    return headers


def _read_csv_exact(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    delimiter: str,
    offset: int,
    table: str,
    report: FileReport,
) -> list[str]:
    """Python's csv module: knows the physical line of every record, splits broken ones."""
    report.reader = "python-csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = _records(csv.reader(handle, delimiter=delimiter, quotechar='"'))
        _, header = next(records)
        headers = unique_headers(header)
        data: dict[str, list[str | int | None]] = {c: [] for c in (*headers, *META_COLUMNS)}
        width = len(header)
        for line, fields in records:
            error = fields if isinstance(fields, str) else None
            if error is None and len(fields) != width:
                error = f"expected {width} fields as in the header, found {len(fields)}"
            ok = error is None
            for position, column in enumerate(headers):
                data[column].append(fields[position] if ok else None)
            data["_source_file"].append(report.source_file)
            data["_line"].append(line + offset)
            data["_parse_error"].append(None if ok else f"unreadable row: {error}")
            data["_raw"].append(
                None
                if ok or isinstance(fields, str)
                else delimiter.join(redact_phone_like(f) for f in fields)
            )
            report.rows += 1
            report.malformed += not ok
    _rows_table(conn, data, headers, table)
    return headers


def _rows_table(
    conn: duckdb.DuckDBPyConnection, data: dict[str, list], headers: list[str], table: str
) -> None:
    """Column lists gathered row by row (text fields, then the meta columns) → `table`."""
    schema = {
        **dict.fromkeys(headers, pl.String),
        "_source_file": pl.String,
        "_line": pl.Int64,
        "_parse_error": pl.String,
        "_raw": pl.String,
    }
    _frame_table(conn, pl.DataFrame(data, schema=schema), table)


def _frame_table(conn: duckdb.DuckDBPyConnection, frame: pl.DataFrame, table: str) -> None:
    conn.register("_file_frame", frame)
    conn.execute(f"create or replace temp table {table}_data as select * from _file_frame")
    conn.execute(f"create or replace temp view {table} as select * from {table}_data")
    conn.unregister("_file_frame")


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
    conn: duckdb.DuckDBPyConnection, path: Path, table: str, report: FileReport
) -> list[str]:
    """First sheet, first row as header; `line` is the spreadsheet row number."""
    report.reader = "excel"
    report.encoding = "xlsx"
    try:
        frame = pl.read_excel(path, engine="calamine", infer_schema_length=0, drop_empty_rows=False)
    except Exception as exc:  # calamine raises its own types for corrupt workbooks
        raise InputError(f"{report.source_file}: cannot read the workbook ({exc})") from exc
    headers = unique_headers(frame.columns)
    frame = frame.rename(dict(zip(frame.columns, headers, strict=True))).select(
        *[pl.col(h).cast(pl.String).str.strip_chars() for h in headers],
        pl.lit(report.source_file).alias("_source_file"),
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("_line"),
        pl.lit(None, pl.String).alias("_parse_error"),
        pl.lit(None, pl.String).alias("_raw"),
    )
    frame = frame.filter(~pl.all_horizontal(pl.col(headers).is_null()))
    report.rows = frame.height
    _frame_table(conn, frame, table)
    return headers


def _read_json(
    conn: duckdb.DuckDBPyConnection, path: Path, table: str, report: FileReport
) -> list[str]:
    """An API answer saved as JSON: a bare list of records, or a page object holding one
    (`records` for Calltouch, `calls` for CallRail, `results` or `data` elsewhere).

    `line` is the record's position in the list (1 = first). Nested values (Calltouch's
    `callTags`) stay JSON text for the format's mapping to unpack.
    """
    report.reader = "json"
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{report.source_file}: not valid JSON ({exc})") from exc
    records = document
    if isinstance(document, dict):
        records = next(
            (
                document[k]
                for k in ("records", "calls", "results", "data", "items")
                if isinstance(document.get(k), list)
            ),
            None,
        )
    if not isinstance(records, list):
        raise InputError(f"{report.source_file}: no list of records in the JSON")
    keys: dict[str, None] = {}
    for record in records:
        if isinstance(record, dict):
            keys.update(dict.fromkeys(record))
    originals = list(keys)
    headers = unique_headers(originals)
    data: dict[str, list[str | int | None]] = {c: [] for c in (*headers, *META_COLUMNS)}
    for number, record in enumerate(records, start=1):
        ok = isinstance(record, dict)
        for original, column in zip(originals, headers, strict=True):
            data[column].append(_json_text(record.get(original)) if ok else None)
        data["_source_file"].append(report.source_file)
        data["_line"].append(number)
        data["_parse_error"].append(None if ok else "unreadable record: not a JSON object")
        data["_raw"].append(None if ok else redact_phone_like(str(record))[:200])
        report.malformed += not ok
    report.rows = len(records)
    _rows_table(conn, data, headers, table)
    return headers


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
