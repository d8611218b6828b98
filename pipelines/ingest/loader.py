"""Load every export file of one entity into its `raw_<entity>` table.

The raw layer is the files as read, all text, with two changes made before anything is
written: patient phone numbers are replaced by their keyed hash (and a status saying why a
number could not be identified), and phone-like digit runs in every other text column
(identifiers aside) and in the text of unreadable rows are masked, so no raw number
reaches the warehouse.

A file that cannot be read at all becomes one quarantined record (line empty, the reason
why), so it is counted, shown and never silently dropped, and the other files still load.
Files of the same header are gathered into one table before they are mapped, so the cost
per file is a few hundred microseconds, not a DuckDB statement each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.ingest.entities import Entity
from pipelines.ingest.files import InputFile, entity_files
from pipelines.ingest.formats import (
    META,
    FormatSpec,
    Lookup,
    check_lookups,
    detect,
    find_mapping,
    lookup_for,
    mapping_spec,
    refused,
    select,
    specs_for,
    vocabulary,
)
from pipelines.ingest.ledger import keep_reused_rows, plan_reuse, record
from pipelines.ingest.lineage import load_ended, load_started
from pipelines.ingest.phones import e164_map, phone_table
from pipelines.ingest.readers import (
    FileRead,
    FileRejectedError,
    FileReport,
    InputError,
    TextRows,
    read_file,
)
from pipelines.settings import Settings

_READ = "_raw_read"
PHONE_SEPARATORS = r"[;,]"
"""Between several numbers in one MIS phone field (`;` per METRICS.md, `,` seen too)."""


@dataclass
class LoadReport:
    entity: str
    files: list[FileReport] = field(default_factory=list)
    """The files read by this build (not those whose rows were carried over)."""
    reused: int = 0
    """Files whose rows were carried over from the previous build unchanged."""
    removed: int = 0
    """Files of the previous build that are gone or changed."""
    data_version: str = ""
    """A digest of the files and everything that shaped their rows (ledger.Reuse)."""

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def malformed(self) -> int:
        return sum(f.malformed for f in self.files)

    @property
    def rejected(self) -> list[FileReport]:
        return [f for f in self.files if f.rejected]


@dataclass
class _Group:
    """Files read in Python with the same header and the same format: mapped once."""

    rows: TextRows
    spec: FormatSpec | None
    reports: list[FileReport] = field(default_factory=list)


def load_entity(conn: duckdb.DuckDBPyConnection, settings: Settings, entity: Entity) -> LoadReport:
    """`raw_<entity>` from the entity's files: those the previous build already read
    (same name, same bytes: pipelines/ingest/ledger.py) keep their rows, the rest are read."""
    report = LoadReport(entity=entity.name)
    files = entity_files(settings.input_dir, entity)
    reuse = plan_reuse(conn, settings, entity, files)
    report.reused, report.removed = len(reuse.reused), reuse.removed
    report.data_version = reuse.data_version
    previous = load_started(conn, entity)
    keep_reused_rows(conn, entity, reuse)
    selects = _read_files(conn, settings, entity, report, reuse.to_read(files))
    if (
        entity.required
        and report.files
        and not reuse.reused
        and all(f.rejected for f in report.files)
    ):
        reasons = "; ".join(f"{f.source_file}: {f.rejected}" for f in report.files)
        raise InputError(f"no file of required {entity.location} could be read ({reasons})")
    conn.execute(f"create or replace temp view {_READ} as {' union all '.join(selects)}")
    key = settings.secret_key() if entity.personal_phone_columns else b""
    select = [_masked(entity, c) for c in entity.columns if c not in entity.personal_phone_columns]
    joins: list[str] = []
    maps: list[str] = []
    for column in entity.personal_phone_columns:
        alias = f"{column}_map"
        if entity.name == "patients":
            _register_patient_phones(conn, column, settings.default_region, key)
            select += [f"{alias}.phone_hashes", f"{alias}.phones_unidentified"]
            joins.append(
                f"left join _patient_phones {alias} "
                f"on {alias}._source_file = r._source_file and {alias}._line = r._line"
            )
        else:
            phone_table(
                conn, alias, f'select "{column}" as raw from {_READ}', settings.default_region, key
            )
            maps.append(alias)
            select += [f"{alias}.phone_hash as {column}_hash", f"{alias}.status as {column}_status"]
            joins.append(f'left join {alias} on {alias}.raw is not distinct from r."{column}"')
            _record_phone_quality(
                conn,
                entity.name,
                "select r._source_file, m.status, m.region, r.n from "
                f'(select _source_file, "{column}" as raw, count(*) as n from {_READ} '
                "where _parse_error is null group by all) r "
                f"left join {alias} m on m.raw is not distinct from r.raw",
            )
    for column in entity.clinic_phone_columns:
        alias = f"{column}_e164"
        conn.register(alias, e164_map(_distinct(conn, column), settings.default_region))
        unread = f'mask_phones(r."{column}")'  # not a number: free text, masked as such
        select[select.index(f'r."{column}"')] = f"coalesce({alias}.e164, {unread}) as {column}"
        joins.append(f'left join {alias} on {alias}.raw is not distinct from r."{column}"')
    select += [
        "mask_phones(r._source_file) as _source_file",
        "r._line",
        "mask_phones(r._parse_error) as _parse_error",
        "mask_phones(r._raw) as _raw",
    ]
    rows = f"select {', '.join(select)} from {_READ} r {' '.join(joins)}"
    if reuse.reused:  # the reused files' rows are in the table already
        conn.execute(f"insert into {entity.raw_table} by name {rows}")
    else:
        conn.execute(f"create or replace table {entity.raw_table} as {rows}")
    conn.execute(f"drop view {_READ}")
    for name in maps:
        conn.execute(f"drop table {name}")
    _drop_temp_tables(conn)
    _record_files(conn, report)
    record(conn, entity, reuse)
    only_added = bool(reuse.reused) and not reuse.removed
    load_ended(conn, entity, reuse.data_version, previous if only_added else None)
    return report


def _masked(entity: Entity, column: str) -> str:
    """A raw column with phone-like digit runs masked. Identifiers (they join records) are
    kept as written when they look like identifiers; an amount when it is a plausible one
    (it must reach its checks as written); the clinic's own numbers are not personal (an
    unreadable one is masked where it is normalised), nor are the attribution columns,
    which ad platforms write and channel rules and spend join on as written."""
    value = f'r."{column}"'
    if column in entity.clinic_phone_columns or column in entity.attribution_columns:
        kept = "true"
    elif column in entity.identifier_columns:
        kept = f"regexp_full_match({value}, '[\\w\\-.:/@]*')"
    elif column in entity.money_columns:
        kept = f"parse_money({value}) <= getvariable('max_plausible_amount')"
    else:
        kept = "false"
    if kept == "true":
        return value
    if kept == "false":
        return f'mask_phones({value}) as "{column}"'
    return f'case when {kept} then {value} else mask_phones({value}) end as "{column}"'


def _read_files(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    entity: Entity,
    report: LoadReport,
    files: list[InputFile],
) -> list[str]:
    """Read each export file; the selects that give the entity's records in canonical form.

    A file is mapped by an analyst's mapping file when one is beside it, else by the
    format its headers show (pipelines/ingest/formats), else by canonical column names. A
    lookup file (Open Dental's procedurelog) feeds its sibling's format and holds no
    records itself. A file that cannot be read, or that its format refuses, becomes one
    quarantined record.
    """
    specs = specs_for(settings.input_dir, entity)
    for spec in specs:
        if spec.lookup is not None:
            spec.lookup.create(conn)
    vocabularies: dict[Path | None, frozenset[str]] = {None: vocabulary(entity, specs)}
    groups: dict[tuple, _Group] = {}
    selects: list[str] = []
    rejected = TextRows([])
    for number, item in enumerate(files):
        mapping_file = find_mapping(item.path)
        mapping = mapping_spec(mapping_file, entity) if mapping_file else None
        if mapping_file not in vocabularies:
            vocabularies[mapping_file] = vocabulary(entity, [mapping])  # type: ignore[list-item]
        table = f"_file_{number}"
        try:
            read = _read(conn, item, vocabularies[mapping_file], table)
            report.files.append(read.report)
            if _load_lookup(conn, lookup_for(entity, read.headers, specs), read, table):
                continue
            spec = mapping or detect(entity, read.headers, specs)
            _refuse(conn, spec, read, table)
        except FileRejectedError as exc:
            if not report.files or report.files[-1].source_file != item.source_file:
                report.files.append(FileReport(source_file=item.source_file, format="not read"))
            report.files[-1].rejected = str(exc)
            rejected.append(item.source_file, None, None, f"file not read: {exc}")
            continue
        if read.table is not None:
            selects.append(_select(conn, entity, spec, read.table, read.headers, [read.report]))
            continue
        key = (tuple(read.headers), spec.label if spec else None, mapping_file)
        group = groups.setdefault(key, _Group(TextRows(read.headers), spec))
        group.rows.extend(read.rows)  # type: ignore[arg-type]
        group.reports.append(read.report)
    for number, group in enumerate(groups.values()):
        table = f"_group_{number}"
        _frame_table(conn, group.rows.frame(), table)
        selects.append(_select(conn, entity, group.spec, table, group.rows.headers, group.reports))
    check_lookups(specs, entity, report.files)
    nulls = ", ".join(f'null::varchar as "{c}"' for c in entity.columns)
    if len(rejected):
        _frame_table(conn, rejected.frame(), "_rejected_files")
        selects.append(f"select {nulls}, {META} from _rejected_files")
    if not selects:
        selects.append(
            f"select {nulls}, null::varchar as _source_file, null::bigint as _line, "
            "null::varchar as _parse_error, null::varchar as _raw where false"
        )
    return selects


def _read(
    conn: duckdb.DuckDBPyConnection, item: InputFile, words: frozenset[str], table: str
) -> FileRead:
    if item.problem:
        raise FileRejectedError(item.problem)
    return read_file(conn, item.path, item.source_file, words, table)


def _refuse(
    conn: duckdb.DuckDBPyConnection, spec: FormatSpec | None, read: FileRead, table: str
) -> None:
    """Raise when the file's format cannot use it (a Google Ads report with no day)."""
    if spec is None or not spec.refuse_when:
        return
    if read.rows is not None:
        _frame_table(conn, read.rows.frame(), table)
    if refused(conn, spec, table, read.headers):
        read.report.format = spec.name
        read.report.rows = read.report.malformed = 0
        raise FileRejectedError(spec.refuse_reason)


def _load_lookup(
    conn: duckdb.DuckDBPyConnection, lookup: Lookup | None, read: FileRead, table: str
) -> bool:
    """Feed a lookup file (procedurelog) to its sibling's format; True when it was one."""
    if lookup is None:
        return False
    if read.rows is not None:
        _frame_table(conn, read.rows.frame(), table)
    lookup.load(conn, table)
    read.report.format = f"lookup:{lookup.name}"
    read.report.rows = 0
    return True


def _select(
    conn: duckdb.DuckDBPyConnection,
    entity: Entity,
    spec: FormatSpec | None,
    table: str,
    headers: list[str],
    reports: list[FileReport],
) -> str:
    """The canonical select of one table of records, and each file's report filled in."""
    first = reports[0]
    query, skipped = select(entity, spec, table, headers, first)
    for other in reports[1:]:
        other.format = first.format
        other.missing_columns = first.missing_columns
        other.ignored_columns = first.ignored_columns
        other.skip_reason = first.skip_reason
    if skipped:
        by_file = dict(conn.execute(skipped).fetchall())
        for file_report in reports:
            file_report.skipped_rows = by_file.get(file_report.source_file, 0)
            file_report.rows -= file_report.skipped_rows
    return query


def _frame_table(conn: duckdb.DuckDBPyConnection, frame: pl.DataFrame, table: str) -> None:
    conn.register("_file_frame", frame)
    conn.execute(f"create or replace temp table {table} as select * from _file_frame")
    conn.unregister("_file_frame")


def _drop_temp_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """The per-load temp tables (files, groups, lookups' sources), views first."""
    names = conn.execute(
        "select table_name, table_type from information_schema.tables "
        "where table_schema = 'main' and table_catalog = 'temp' "
        "and (table_name like '\\_file\\_%' escape '\\' "
        "or table_name like '\\_group\\_%' escape '\\' or table_name = '_rejected_files')"
    ).fetchall()
    for name, kind in sorted(names, key=lambda n: n[1] != "VIEW"):
        conn.execute(f"drop {'view' if kind == 'VIEW' else 'table'} if exists {name}")


def _distinct(conn: duckdb.DuckDBPyConnection, column: str) -> list[str | None]:
    return [row[0] for row in conn.execute(f'select distinct "{column}" from {_READ}').fetchall()]


def _register_patient_phones(
    conn: duckdb.DuckDBPyConnection, column: str, region: str, key: bytes
) -> None:
    """Per read row: the hashes of its identified numbers, in the order written."""
    conn.execute(
        f"""
        create or replace temp table _phone_parts as
        select _source_file, _line, unnest(parts) as part
        from (
            select _source_file, _line,
                   list_filter(
                       list_transform(regexp_split_to_array("{column}", '{PHONE_SEPARATORS}'),
                                      lambda p: trim(p)),
                       lambda p: p <> '') as parts
            from {_READ}
            where _parse_error is null
        )
        """
    )
    phone_table(conn, "_phone_part_map", "select part as raw from _phone_parts", region, key)
    _record_phone_quality(
        conn,
        "patients",
        "select p._source_file, m.status, m.region, 1 as n "
        "from _phone_parts p join _phone_part_map m on m.raw = p.part",
    )
    conn.execute(
        """
        create or replace temp table _patient_phones as
        select p._source_file, p._line,
               list_sort(list(distinct m.phone_hash) filter (where m.phone_hash is not null))
                   as phone_hashes,
               count(*) filter (where m.phone_hash is null) as phones_unidentified
        from _phone_parts p join _phone_part_map m on m.raw = p.part
        group by p._source_file, p._line
        """
    )
    conn.execute("drop table _phone_part_map; drop table _phone_parts")


def _record_phone_quality(conn: duckdb.DuckDBPyConnection, entity: str, statuses: str) -> None:
    """How many of the entity's phone values were identified, in which country, or why
    not, per file (`statuses` gives file, status, region and a count `n`): counts only,
    never a number (the data-quality page and the build's warnings; per file so that a
    file carried into the next build carries its counts)."""
    conn.execute(
        "create table if not exists phone_quality "
        "(entity varchar, source_file varchar, status varchar, region varchar, phones bigint)"
    )
    conn.execute(
        "insert into phone_quality select ?, mask_phones(_source_file), status, region, phones "
        f"from (select _source_file, status, region, sum(n) as phones from ({statuses}) "
        "group by all)",
        [entity],
    )


def _record_files(conn: duckdb.DuckDBPyConnection, report: LoadReport) -> None:
    """One row per file read (or refused), inserted in one statement."""
    conn.execute(
        """
        create table if not exists ingest_files (
            entity varchar, source_file varchar, format varchar, rows bigint,
            malformed bigint, skipped_lines bigint, skipped_rows bigint, skip_reason varchar,
            reader varchar, encoding varchar, missing_columns varchar[],
            ignored_columns varchar[], rejected varchar, loaded_at timestamptz)
        """
    )
    if not report.files:
        return
    frame = pl.DataFrame(
        [
            {
                "entity": report.entity,
                "source_file": f.source_file,
                "format": f.format,
                "rows": f.rows,
                "malformed": f.malformed,
                "skipped_lines": f.skipped_lines,
                "skipped_rows": f.skipped_rows,
                "skip_reason": f.skip_reason or None,
                "reader": f.reader or None,
                "encoding": f.encoding or None,
                "missing_columns": f.missing_columns,
                "ignored_columns": f.ignored_columns,
                "rejected": f.rejected or None,
            }
            for f in report.files
        ],
        schema={
            "entity": pl.String,
            "source_file": pl.String,
            "format": pl.String,
            "rows": pl.Int64,
            "malformed": pl.Int64,
            "skipped_lines": pl.Int64,
            "skipped_rows": pl.Int64,
            "skip_reason": pl.String,
            "reader": pl.String,
            "encoding": pl.String,
            "missing_columns": pl.List(pl.String),
            "ignored_columns": pl.List(pl.String),
            "rejected": pl.String,
        },
    )
    conn.register("_ingest_files", frame)
    conn.execute(
        "insert into ingest_files select * replace ("
        "mask_phones(source_file) as source_file, mask_phones(rejected) as rejected, "
        "mask_phones(format) as format, "
        "list_transform(ignored_columns, lambda c: mask_phones(c)) as ignored_columns"
        "), now() from _ingest_files"
    )
    conn.unregister("_ingest_files")
