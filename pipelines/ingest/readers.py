"""Read one export file into rows of text, each with the exact line it came from.

Every record read lands in the target table: a row that cannot be split into the header's
fields keeps its line number and a reason in `_parse_error` (the staging gate sends it to
quarantine). A file that cannot be read at all (binary, not a workbook, not JSON, no
header line naming any of the entity's columns, a link out of the input folder) raises
`FileRejectedError`: the loader quarantines it as a whole and the other files load. Nothing is
typed here; typing is SQL's job in `sql/staging/`.

Bytes become text in pipelines/ingest/decoding.py (line by line when a file mixes
encodings).

Small files are parsed by Python's csv module and gathered column-wise with the other
files of the same header, so ten thousand one-row files cost about what one file does.
Large clean UTF-8 files take DuckDB's parallel reader when that is provably line-exact
(no rejected rows, one physical line per record); otherwise the csv module, which knows
the physical line of every record, reads them.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.ingest.decoding import CHUNK, decode, file_head, is_plain_utf8, split_lines
from pipelines.warehouse import sql_literal

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
JSON_SUFFIXES = {".json"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
SUPPORTED_SUFFIXES = CSV_SUFFIXES | EXCEL_SUFFIXES | JSON_SUFFIXES
META_COLUMNS = ("_source_file", "_line", "_parse_error", "_raw")
DELIMITERS = (",", ";", "\t", "|")
HEADER_SCAN_LINES = 30
"""A header is looked for among the first lines: ad platforms put a title and a date range
above it."""
MIN_HEADER_NAMES = 2
"""A line is the header when it names at least this many of the entity's known columns."""
SMALL_FILE_BYTES = 1 << 20
"""Below this size a file is parsed in Python and batched with its like; above, DuckDB."""
RAW_TEXT_CHARS = 1_000
"""An unreadable record keeps at most this much of its text (masked) for the analyst."""
_SUMMARY = re.compile(r'^\s*"?(total|итого|всего)\b', re.IGNORECASE)


class InputError(Exception):
    """Input that cannot be used at all (missing folder, a mapping naming a column the
    export lacks): stops the run with one line naming the file."""


class FileRejectedError(InputError):
    """One file cannot be read at all; it is quarantined as a whole, the others load."""


@dataclass
class FileReport:
    source_file: str
    rows: int = 0
    malformed: int = 0
    reader: str = ""
    encoding: str = ""
    missing_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    format: str = "canonical"
    skipped_lines: int = 0
    """Title, date-range, total and blank lines around or between records: not records."""
    skipped_rows: int = 0
    """Records of the file that are not records of the entity (an outbound call)."""
    skip_reason: str = ""
    rejected: str = ""
    """Why the whole file could not be read (empty when it was read)."""


@dataclass
class TextRows:
    """Records of one or more files with the same header, gathered column by column."""

    headers: list[str]
    cells: dict[str, list[str | None]] = field(default_factory=dict)
    source_file: list[str] = field(default_factory=list)
    line: list[int | None] = field(default_factory=list)
    parse_error: list[str | None] = field(default_factory=list)
    raw: list[str | None] = field(default_factory=list)
    preamble: list[str | None] = field(default_factory=list)
    """Per row, its file's lines above the header (a title, a date range) for the formats."""

    def __post_init__(self) -> None:
        for header in self.headers:
            self.cells.setdefault(header, [])

    def append(
        self,
        source_file: str,
        line: int | None,
        fields: list[str] | None,
        error: str | None,
        raw: str | None = None,
    ) -> None:
        for position, header in enumerate(self.headers):
            self.cells[header].append(fields[position] if fields is not None else None)
        self.source_file.append(source_file)
        self.line.append(line)
        self.parse_error.append(error)
        self.raw.append(raw)
        self.preamble.append(None)

    def set_preamble(self, text: str | None) -> None:
        self.preamble = [text] * len(self.line)

    def extend(self, other: TextRows) -> None:
        for header in self.headers:
            self.cells[header].extend(other.cells[header])
        self.source_file.extend(other.source_file)
        self.line.extend(other.line)
        self.parse_error.extend(other.parse_error)
        self.raw.extend(other.raw)
        self.preamble.extend(other.preamble)

    def __len__(self) -> int:
        return len(self.line)

    def frame(self) -> pl.DataFrame:
        schema = {
            **dict.fromkeys(self.headers, pl.String),
            "_source_file": pl.String,
            "_line": pl.Int64,
            "_parse_error": pl.String,
            "_raw": pl.String,
            "_preamble": pl.String,
        }
        data = {
            **self.cells,
            "_source_file": self.source_file,
            "_line": self.line,
            "_parse_error": self.parse_error,
            "_raw": self.raw,
            "_preamble": self.preamble,
        }
        return pl.DataFrame(data, schema=schema)


@dataclass
class FileRead:
    """One file read: its report and header, and its records either gathered in Python
    (`rows`) or already in a DuckDB temp table of the same layout (`table`)."""

    report: FileReport
    headers: list[str]
    rows: TextRows | None = None
    table: str | None = None


@functools.lru_cache(maxsize=4096)
def normalise_header(name: str) -> str:
    """Case-, space- and punctuation-insensitive column name (`Call ID` → `call_id`)."""
    cleaned = name.replace("\ufeff", "").strip().lower()
    cleaned = re.sub(r"[\s\-./]+", "_", cleaned)
    return re.sub(r"_+", "_", cleaned).strip("_")


def unique_headers(names: Iterable[str | None]) -> list[str]:
    """Normalised, unique, non-empty column names for a file's header row."""
    seen: dict[str, int] = {}
    out = []
    for index, name in enumerate(names):
        key = normalise_header(name or "") or f"column_{index + 1}"
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f"{key}_{seen[key]}")
    return out


def read_file(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    source_file: str,
    vocabulary: frozenset[str],
    table: str,
) -> FileRead:
    """Read every record of `path`; `vocabulary` holds the normalised column names any
    form of this entity's export may carry (canonical, vendors', a mapping's), by which
    the header line is found. Large CSV files are read by DuckDB into the temp table
    `table`; everything else comes back as `TextRows`. Raises `FileRejectedError`."""
    report = FileReport(source_file=source_file)
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FileRejectedError(f"cannot be opened ({exc.strerror or exc})") from exc
    if size == 0:
        raise FileRejectedError("the file is empty")
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path, vocabulary, report)
    if suffix in JSON_SUFFIXES:
        return _read_json(path, vocabulary, report)
    if suffix not in CSV_SUFFIXES:
        raise FileRejectedError(f"unsupported file type {suffix!r}")
    if size > SMALL_FILE_BYTES and is_plain_utf8(path):
        fast = _read_csv_fast(conn, path, vocabulary, table, report)
        if fast is not None:
            return fast
    return _read_csv_text(path, vocabulary, report)


# --- the header line ----------------------------------------------------------------------


def find_header(
    candidates: Iterable[tuple[int, list[list[str | None]]]], vocabulary: frozenset[str]
) -> tuple[int, int]:
    """(position, split) of the header among candidate lines, each given as its possible
    splits (one per delimiter for text, one for a spreadsheet row).

    The header is the first line naming at least MIN_HEADER_NAMES of the entity's known
    columns (a title or date-range line names none), else the first naming one; its best
    split gives the delimiter. A file whose first lines name none is not an export of this
    entity, or has lost its header line (its first record would silently become the
    header): refused.
    """
    fallback: tuple[int, int] | None = None
    for position, splits in candidates:
        scores = [len(set(unique_headers(names)) & vocabulary) for names in splits]
        best = max(range(len(splits)), key=lambda i: (scores[i], len(splits[i])))
        if scores[best] >= MIN_HEADER_NAMES:
            return position, best
        if scores[best] and fallback is None:
            fallback = position, best
    if fallback is not None:
        return fallback
    raise FileRejectedError(
        f"no header line: none of its first {HEADER_SCAN_LINES} lines names the entity's "
        "columns (a file without a header, or an export of something else)"
    )


def _text_candidates(lines: list[str]) -> Iterator[tuple[int, list[list[str | None]]]]:
    seen = 0
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        seen += 1
        if seen > HEADER_SCAN_LINES:
            return
        yield index, [_split(line, d) for d in DELIMITERS]


def _fields(line: str, delimiter: str) -> list[str]:
    """One line's fields; csv.Error when a field is over the csv module's size limit."""
    return list(next(csv.reader([line], delimiter=delimiter), []))


def _split(line: str, delimiter: str) -> list[str | None]:
    try:
        return list(_fields(line, delimiter))
    except csv.Error:
        return [line]


def _footer_lines(lines: list[str], header_index: int) -> int:
    """Trailing total lines (`Total rows: 12`, `Итого;…`) and blanks after the last record."""
    count = 0
    for line in reversed(lines[header_index + 1 :]):
        if not line.strip() or _SUMMARY.match(line):
            count += 1
        else:
            break
    return count


# --- CSV ----------------------------------------------------------------------------------


def _read_csv_text(path: Path, vocabulary: frozenset[str], report: FileReport) -> FileRead:
    """Python's csv module over the decoded lines: exact physical lines, broken rows kept."""
    decoded = decode(path.read_bytes())
    report.encoding = decoded.encoding
    report.reader = "python-csv"
    lines = decoded.lines
    header_index, split = find_header(_text_candidates(lines), vocabulary)
    delimiter = DELIMITERS[split]
    footer = _footer_lines(lines, header_index)
    body = lines[header_index : len(lines) - footer]
    header = _split(body[0], delimiter)
    headers = unique_headers(header)
    rows = TextRows(headers)
    width = len(header)
    skipped = header_index + footer
    for first, last, fields, csv_error in _records(body, delimiter):
        start, end = first + header_index, last + header_index
        if csv_error is None and not any(f.strip() for f in fields):
            skipped += end - start + 1
            continue
        bad = next((n for n in range(start, end + 1) if n in decoded.bad_lines), None)
        error = csv_error
        if bad is not None:
            error = "the line is not text (neither UTF-8 nor Windows-1251, or a NUL byte)"
        elif error is None and len(fields) != width:
            error = f"expected {width} fields as in the header, found {len(fields)}"
        if error is None:
            rows.append(report.source_file, start, fields, None)
            continue
        raw = "\n".join(lines[start - 1 : end])[:RAW_TEXT_CHARS]
        rows.append(report.source_file, start, None, f"unreadable row: {error}", raw)
        report.malformed += 1
    report.rows = len(rows)
    report.skipped_lines = skipped
    rows.set_preamble(_preamble(lines[:header_index]))
    return FileRead(report, headers, rows=rows)


def _preamble(lines: Iterable[str]) -> str | None:
    """The non-blank lines above the header, as one text (None when there are none)."""
    kept = [line.strip() for line in lines if line.strip()]
    return "\n".join(kept) or None


def _records(body: list[str], delimiter: str) -> Iterator[tuple[int, int, list[str], str | None]]:
    """(first line, last line, fields, error) per record after the header (line 1 = header).

    A record whose quotes do not pair up, or that spans several lines (a quoted line
    break) with the wrong number of fields, is an unclosed quote swallowing the lines after
    it: each of those lines is split again on its own, so one stray quote costs one row,
    not the rest of the file.
    """
    width = len(_split(body[0], delimiter))
    reader = csv.reader((line + "\n" for line in body), delimiter=delimiter, quotechar='"')
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            # a field the csv module cannot take (over its size limit after a stray quote):
            # every line it consumed is split again on its own, none is lost
            for number in range(start, max(start, reader.line_num) + 1):
                yield number, number, *_line_alone(body[number - 1], delimiter)
            start = reader.line_num + 1
            continue
        end = reader.line_num
        if start > 1:
            unpaired = sum(body[n - 1].count('"') for n in range(start, end + 1)) % 2
            if end > start and (unpaired or len(fields) != width):
                for number in range(start, end + 1):
                    yield number, number, *_line_alone(body[number - 1], delimiter)
            elif unpaired:
                yield start, end, [], UNCLOSED_QUOTE
            else:
                yield start, end, fields, None
        start = end + 1


UNCLOSED_QUOTE = "a quote opens and never closes"


def _line_alone(line: str, delimiter: str) -> tuple[list[str], str | None]:
    if line.count('"') % 2:
        return [], UNCLOSED_QUOTE
    try:
        return _fields(line, delimiter), None
    except csv.Error:  # the one error left once quotes pair up: its field size limit
        return [], f"a field longer than {csv.field_size_limit():,} characters"


def _read_csv_fast(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    vocabulary: frozenset[str],
    table: str,
    report: FileReport,
) -> FileRead | None:
    """DuckDB's parallel read of a large UTF-8 file, when it is provably line-exact."""
    head = file_head(path, 1 << 16).decode("utf-8-sig", errors="ignore")
    head_lines = split_lines(head)[:-1] or [head]
    header_index, split = find_header(_text_candidates(head_lines), vocabulary)
    delimiter = DELIMITERS[split]
    tail = _tail_lines(path)
    footer = _footer_lines(tail, 0) if tail else 0
    with tempfile.TemporaryDirectory(prefix="clinic-read-") as tmp:
        source = path
        if header_index or footer:
            source = Path(tmp) / "body.csv"
            _copy_lines(path, source, header_index, footer)
        data = f"{table}_data"
        try:
            conn.execute("drop table if exists _file_rejects; drop table if exists _file_scans")
            conn.execute(
                f"create or replace temp table {data} as select * from read_csv(?, "
                "all_varchar = true, header = true, delim = ?, quote = '\"', escape = '\"', "
                "store_rejects = true, rejects_table = '_file_rejects', "
                "rejects_scan = '_file_scans', null_padding = false, strict_mode = true)",
                [str(source), delimiter],
            )
            rejected = conn.execute("select count(*) from _file_rejects").fetchall()[0][0]
            rows = conn.execute(f"select count(*) from {data}").fetchall()[0][0]
        except duckdb.Error:
            conn.execute(f"drop table if exists {data}")
            return None
        physical_lines, has_blank = _count_lines(source)
    if rejected or has_blank or physical_lines != rows + 1:
        conn.execute(f"drop table {data}")
        return None
    original = [
        row[0] for row in conn.execute(f"select column_name from (describe {data})").fetchall()
    ]
    headers = unique_headers(original)
    renamed = ", ".join(f'"{name}" as "{key}"' for name, key in zip(original, headers, strict=True))
    preamble = _preamble(head_lines[:header_index])
    above = "null" if preamble is None else sql_literal(preamble)
    conn.execute(
        f"create or replace temp view {table} as select {renamed}, "
        f"{sql_literal(report.source_file)} as _source_file, rowid + {2 + header_index} as _line, "
        f"null::varchar as _parse_error, null::varchar as _raw, "
        f"{above}::varchar as _preamble from {data}"
    )
    report.rows = rows
    report.reader = "duckdb"
    report.encoding = "utf-8"
    report.skipped_lines = header_index + footer
    return FileRead(report, headers, table=table)


def _tail_lines(path: Path) -> list[str]:
    """The last lines of a large file (the first, probably partial, one dropped)."""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 65_536))
        return split_lines(handle.read().decode("utf-8", errors="replace"))[1:]


def _copy_lines(path: Path, target: Path, skip_head: int, skip_tail: int) -> None:
    """The file without its first `skip_head` and last `skip_tail` physical lines."""
    keep_until = _count_lines(path)[0] - skip_tail
    with path.open("rb") as src, target.open("wb") as dst:
        for number, line in enumerate(src):
            if skip_head <= number < keep_until:
                dst.write(line)


def _count_lines(path: Path) -> tuple[int, bool]:
    """Physical lines and whether any of them is blank (the reader skips those)."""
    lines = 0
    blank = False
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
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


# --- spreadsheets and JSON ------------------------------------------------------------------


def _read_excel(path: Path, vocabulary: frozenset[str], report: FileReport) -> FileRead:
    """First sheet; the header is found like a CSV's; `line` is the spreadsheet row."""
    report.reader = "excel"
    report.encoding = path.suffix.lower().lstrip(".")
    try:
        frame = pl.read_excel(
            path, engine="calamine", has_header=False, infer_schema_length=0, drop_empty_rows=False
        )
    except Exception as exc:  # calamine raises its own types for anything not a workbook
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileRejectedError(f"not a readable workbook ({reason})") from exc
    sheet = [[None if v is None else str(v).strip() for v in row] for row in frame.rows()]
    candidates = ((i, [row]) for i, row in enumerate(sheet[: HEADER_SCAN_LINES * 2]) if any(row))
    header_index, _ = find_header(candidates, vocabulary)
    headers = unique_headers(sheet[header_index])
    rows = TextRows(headers)
    skipped = header_index
    for index in range(header_index + 1, len(sheet)):
        row = sheet[index]
        if not any(row):
            skipped += 1
            continue
        rows.append(report.source_file, index + 1, [v or None for v in row], None)
    report.rows = len(rows)
    report.skipped_lines = skipped
    rows.set_preamble(_preamble(" ".join(c for c in r if c) for r in sheet[:header_index]))
    return FileRead(report, headers, rows=rows)


def _read_json(path: Path, vocabulary: frozenset[str], report: FileReport) -> FileRead:
    """An API answer saved as JSON: a bare list of records, or a page object holding one
    (`records` for Calltouch, `calls` for CallRail, `results`, `data` or `items` elsewhere;
    see `json_records` for Google's and VK's shapes).

    `line` is the record's position in the list (1 = first). Nested lists (Calltouch's
    `callTags`) stay JSON text for the format's mapping to unpack; nested objects stay too,
    and their fields are also columns of their own (`json_records`).
    """
    report.reader = "json"
    report.encoding = "utf-8"
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise FileRejectedError(f"not valid JSON ({reason})") from exc
    records = json_records(document)
    if records is None:
        raise FileRejectedError("no list of records in the JSON")
    keys: dict[str, None] = {}
    for record in records:
        if isinstance(record, dict):
            keys.update(dict.fromkeys(str(k) for k in record))
    originals = list(keys)
    headers = unique_headers(originals)
    if records and not set(headers) & vocabulary:
        raise FileRejectedError("none of the records' fields is a column of this entity")
    rows = TextRows(headers)
    for number, record in enumerate(records, start=1):
        if isinstance(record, dict):
            as_text = {str(k): v for k, v in record.items()}
            rows.append(
                report.source_file, number, [_json_text(as_text.get(k)) for k in originals], None
            )
        else:
            raw = json.dumps(record, ensure_ascii=False)[:RAW_TEXT_CHARS]
            rows.append(report.source_file, number, None, "unreadable record: not an object", raw)
            report.malformed += 1
    report.rows = len(rows)
    return FileRead(report, headers, rows=rows)


def json_records(document: object) -> list[object] | None:
    """The records of an API answer, None when it holds no list of them.

    * a bare list, or the list a page object holds under `records`, `calls`, `results`,
      `data` or `items`;
    * Google Ads `searchStream`: a list of batches, each `{results: […], fieldMask,
      requestId}` (a batch of no rows has no `results`): the batches' rows;
    * VK Ads statistics: items (one per ad plan), each holding its `rows` of days: one
      record per day, with its item's `id`;
    * a record's nested objects add `parent_child` fields in snake case beside
      themselves: Google's `{"metrics": {"costMicros": "…"}}` gives `metrics_cost_micros`,
      GAQL's own name, and VK's `{"base": {"spent": …}}` gives `base_spent`.
    """
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
        return None
    if records and all(_is_batch(r) for r in records):
        records = [row for batch in records for row in batch.get("results", [])]
    if records and all(isinstance(r, dict) and isinstance(r.get("rows"), list) for r in records):
        records = [
            {"id": item.get("id"), **row} if isinstance(row, dict) else row
            for item in records
            for row in item["rows"]
        ]
    return [_flatten(r) if isinstance(r, dict) else r for r in records]


BATCH_KEYS = {"fieldMask", "requestId", "queryResourceConsumption"}
"""What a Google Ads `searchStream` batch holds beside its `results`."""


def _is_batch(record: object) -> bool:
    if not isinstance(record, dict) or not record:
        return False
    return isinstance(record.get("results"), list) or set(record) <= BATCH_KEYS


def _flatten(record: dict) -> dict:
    flat = dict(record)

    def walk(prefix: str, value: dict) -> None:
        for key, inner in value.items():
            name = f"{prefix}_{_snake(str(key))}"
            if isinstance(inner, dict):
                walk(name, inner)
            else:
                flat.setdefault(name, inner)

    for key, value in record.items():
        if isinstance(value, dict):
            walk(_snake(str(key)), value)
    return flat


def _snake(name: str) -> str:
    """`costMicros` → `cost_micros`: the APIs' nested names are camelCase."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
