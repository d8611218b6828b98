"""Load every export file of one entity into its `raw_<entity>` table.

The raw layer is the files as read, all text, with one change made before anything is
written: patient phone numbers are replaced by their keyed hash (and a status saying
why a number could not be identified), so the raw number never reaches the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.entities import Entity
from pipelines.formats import (
    canonical_select,
    find_mapping,
    header_signatures,
    load_lookup,
    mapping_select,
    prepare_lookups,
)
from pipelines.phones import e164_map, phone_map
from pipelines.readers import (
    SUPPORTED_SUFFIXES,
    FileReport,
    InputError,
    drop_file_tables,
    read_into,
)
from pipelines.settings import Settings

_READ = "_raw_read"
PHONE_SEPARATORS = r"[;,]"
"""Between several numbers in one MIS phone field (`;` per METRICS.md, `,` seen too)."""


@dataclass
class LoadReport:
    entity: str
    files: list[FileReport] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def malformed(self) -> int:
        return sum(f.malformed for f in self.files)


def entity_files(input_dir: Path, entity: Entity) -> list[Path]:
    """The entity's export files, sorted by name (the later name wins a conflict).

    A required entity with no folder or no files stops the run with a message naming
    the folder; an optional one (surveys) simply loads nothing.
    """
    if entity.single_file:
        path = input_dir / entity.single_file
        if path.is_file():
            return [path]
        if entity.required:
            raise InputError(f"required input file {path} is missing")
        return []
    folder = input_dir / entity.name
    if not folder.is_dir():
        if entity.required:
            raise InputError(f"required input folder {folder} is missing")
        return []
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
    )
    if not files and entity.required:
        raise InputError(
            f"required input folder {folder} has no export files "
            f"({', '.join(sorted(SUPPORTED_SUFFIXES))})"
        )
    return files


def load_entity(conn: duckdb.DuckDBPyConnection, settings: Settings, entity: Entity) -> LoadReport:
    input_dir = settings.input_dir
    if not input_dir.is_dir():
        raise InputError(f"input folder {input_dir} does not exist")
    report = LoadReport(entity=entity.name)
    selects = _read_files(conn, settings, entity, report)
    empty = ", ".join(f'null::varchar as "{c}"' for c in entity.columns)
    selects = selects or [
        f"select {empty}, null::varchar as _source_file, null::bigint as _line, "
        "null::varchar as _parse_error, null::varchar as _raw where false"
    ]
    conn.execute(f"create or replace temp view {_READ} as {' union all '.join(selects)}")
    key = settings.secret_key() if entity.personal_phone_columns else b""
    select = [f'r."{c}"' for c in entity.columns if c not in entity.personal_phone_columns]
    joins: list[str] = []
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
            values = _distinct(conn, column)
            conn.register(alias, phone_map(values, settings.default_region, key))
            select += [f"{alias}.phone_hash as {column}_hash", f"{alias}.status as {column}_status"]
            joins.append(f'left join {alias} on {alias}.raw is not distinct from r."{column}"')
    for column in entity.clinic_phone_columns:
        alias = f"{column}_e164"
        conn.register(alias, e164_map(_distinct(conn, column), settings.default_region))
        select[select.index(f'r."{column}"')] = f'coalesce({alias}.e164, r."{column}") as {column}'
        joins.append(f'left join {alias} on {alias}.raw is not distinct from r."{column}"')
    select += ["r._source_file", "r._line", "r._parse_error", "r._raw"]
    conn.execute(
        f"create or replace table {entity.raw_table} as "
        f"select {', '.join(select)} from {_READ} r "
        f"{' '.join(joins)}"
    )
    conn.execute(f"drop view {_READ}")
    for number in range(len(report.files)):
        drop_file_tables(conn, f"_file_{number}")
    _record_files(conn, report)
    return report


def _read_files(
    conn: duckdb.DuckDBPyConnection, settings: Settings, entity: Entity, report: LoadReport
) -> list[str]:
    """Read each export file; the selects that give its records in canonical form.

    A file is mapped by an analyst's mapping file when one is beside it, else by the
    vendor format its headers show, else by canonical column names. A lookup file (Open
    Dental's procedurelog) feeds its sibling's mapping and holds no records itself.
    """
    selects: list[str] = []
    signatures = header_signatures(entity)
    prepare_lookups(conn, entity)
    for number, path in enumerate(entity_files(settings.input_dir, entity)):
        source_file = path.relative_to(settings.input_dir).as_posix()
        table = f"_file_{number}"
        file_report, headers = read_into(conn, path, source_file, table, signatures)
        report.files.append(file_report)
        if load_lookup(conn, entity, table, headers):
            file_report.format = "lookup"
            file_report.rows = 0
            continue
        mapping = find_mapping(path)
        if mapping is not None:
            selects.append(mapping_select(entity, table, headers, mapping, file_report))
            continue
        select, skipped = canonical_select(entity, table, headers, settings, file_report)
        if skipped:
            file_report.skipped_rows = conn.execute(skipped).fetchall()[0][0]
            file_report.rows -= file_report.skipped_rows
        selects.append(select)
    return selects


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
        )
        """
    )
    values = [r[0] for r in conn.execute("select distinct part from _phone_parts").fetchall()]
    conn.register("_phone_part_map", phone_map(values, region, key))
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
    conn.unregister("_phone_part_map")
    conn.execute("drop table _phone_parts")


def _record_files(conn: duckdb.DuckDBPyConnection, report: LoadReport) -> None:
    conn.execute(
        """
        create table if not exists ingest_files (
            entity varchar, source_file varchar, format varchar, rows bigint,
            malformed bigint, skipped_lines bigint, skipped_rows bigint, skip_reason varchar,
            reader varchar,
            encoding varchar, missing_columns varchar[], ignored_columns varchar[],
            loaded_at timestamptz)
        """
    )
    conn.execute("delete from ingest_files where entity = ?", [report.entity])
    for f in report.files:
        conn.execute(
            "insert into ingest_files values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
            [
                report.entity,
                f.source_file,
                f.format,
                f.rows,
                f.malformed,
                f.skipped_lines,
                f.skipped_rows,
                f.skip_reason or None,
                f.reader,
                f.encoding,
                f.missing_columns,
                f.ignored_columns,
            ],
        )
