"""The gate every staging model passes through on its way into the warehouse.

A staging SQL file types and validates one entity, one output row per record read, with
a `reject_reason`. The gate then applies the rules of METRICS.md "Inputs" the same way
for every entity:

1. a row with a reject_reason goes to `quarantine` (before duplicates are looked for);
2. for an entity whose rows may be parts of a total (ad spend by ad, hour or device:
   `Entity.part_column`), rows of one file with the same key are first made one: the same
   part twice is a repeat or a version (as below, within the file), and different parts
   are summed (counted as combined), the money at full precision until the sum;
3. rows with the same key and the same facts are one record: the repeats are counted
   as duplicates and dropped (facts are compared after parsing, so a timestamp written
   two ways is the same fact);
4. of the remaining versions of a key, the one from the file that sorts last by name
   (within a file, the later line) wins; the others go to `quarantine` as superseded;
5. what remains is the staging table, money rounded to the kopeck, and the counts go to
   `load_reconciliation`: read = loaded + quarantined + duplicate + combined.

Each staging asset replaces only its own entity's rows in `quarantine` and
`load_reconciliation`, so re-running one asset is safe.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines.ingest.entities import Entity
from pipelines.ingest.lineage import gate_ended, gate_started
from pipelines.warehouse import sql_file

META = ("source_file", "line", "reject_reason", "_parts")
"""The gate's own columns. The record as read is not carried through the gate at all:
only the few rows sent to quarantine need it, and they fetch it from the raw table
(`_quarantine`, the `raw_text` macro), which spares building and copying the JSON of
every good record."""
QUARANTINE_DDL = """
create table if not exists quarantine (
    source_file varchar, line bigint, entity varchar, reason varchar, raw varchar,
    kind varchar
)
"""
RECONCILIATION_DDL = """
create table if not exists load_reconciliation (
    entity varchar primary key, rows_read bigint, rows_loaded bigint,
    rows_quarantined bigint, rows_duplicate bigint, rows_combined bigint
)
"""
_ORDER = "source_file desc, line desc"


def create_gate_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """The tables every staging model writes its own entity's rows in, created once
    before the models run at once: two transactions creating one table conflict."""
    conn.execute(QUARANTINE_DDL)
    conn.execute(RECONCILIATION_DDL)


@dataclass(frozen=True)
class GateCounts:
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int
    rows_combined: int = 0
    only_new_rows: bool = False
    """Whether only the rows the load added (and the keys they touch) went through the gate."""


def run_staging_model(
    conn: duckdb.DuckDBPyConnection, entity: Entity, incremental: bool = False
) -> GateCounts:
    """The entity's staging table, quarantine rows and reconciliation. `incremental`:
    when the load only added files to the raw rows this table was gated from
    (pipelines/ingest/lineage.py), only the new rows and the keys they touch are gated
    again; the result is the same as gating every row."""
    model = entity.staging_model
    conn.execute(QUARANTINE_DDL)
    conn.execute(RECONCILIATION_DDL)
    delta = gate_started(conn, entity) and incremental and not entity.part_column
    if delta:
        _stage_added_rows(conn, entity)
    else:
        conn.execute(f"create or replace temp table _staged as {sql_file('staging', model)}")
        conn.execute("delete from quarantine where entity = ?", [entity.name])
    _quarantine(
        conn,
        entity,
        "select source_file, line, reject_reason as reason, 'invalid' as kind from _staged "
        "where reject_reason is not null",
    )
    valid = "select *, 1::bigint as _parts from _staged where reject_reason is null"
    duplicates = combined = 0
    if entity.part_column:
        # parts of one total (ad spend by ad, hour or device): made one row per file and
        # key first, in a table of their own (a few thousand rows)
        conn.execute(f"create or replace temp table _valid as {valid}")
        repeats, kept = _keep_one_version(conn, entity, (*entity.key, entity.part_column), True)
        conn.execute(f"create or replace temp table _valid as {kept}")
        duplicates += repeats
        combined = _sum_parts(conn, entity)
    else:
        # the typed rows are read where they are: no copy of every valid row
        conn.execute(f"create or replace temp view _valid as {valid}")
    repeats, kept = _keep_one_version(conn, entity, entity.key, False)
    duplicates += repeats
    money = ", ".join(f"round({c}, 2)::decimal(18, 2) as {c}" for c in entity.money_columns)
    dropped = ", ".join((*META, *((entity.part_column,) if entity.part_column else ())))
    conn.execute(
        f"""
        {f"insert into {model} by name" if delta else f"create or replace table {model} as"}
        select * exclude ({dropped})
            {f"replace ({money})" if money else ""},
            source_file, line
        from ({kept})
        """
    )
    read, loaded, quarantined = conn.execute(
        f"""
        select
            (select count(*) from {entity.raw_table}),
            (select count(*) from {model}),
            (select count(*) from quarantine where entity = $entity)
        """,
        {"entity": entity.name},
    ).fetchall()[0]
    if delta:  # every row read is loaded, quarantined or a repeat (no parts here)
        duplicates = read - loaded - quarantined
    counts = GateCounts(read, loaded, quarantined, duplicates, combined, delta)
    conn.execute(
        "insert or replace into load_reconciliation values (?, ?, ?, ?, ?, ?)",
        [entity.name, read, loaded, quarantined, duplicates, combined],
    )
    conn.execute(f"drop {'table' if entity.part_column else 'view'} _valid")
    conn.execute("drop table _versions; drop table _repeated; drop table _staged")
    gate_ended(conn, entity)
    return counts


def _stage_added_rows(conn: duckdb.DuckDBPyConnection, entity: Entity) -> None:
    """`_staged`: the typed rows to gate again, their earlier outcome withdrawn.

    The load only added files, so a key none of the new rows holds has the same rows as
    when it was gated: its staging row and quarantine rows stand. The rows gated again
    are the new files', the carried rows quarantined as invalid (a date after the last
    build's day may be none after today's, and the reason names the day), and of the
    carried files the rows holding a key one of those holds as a valid row (a later
    file's version supersedes them, or theirs stays the winner: the gate must see them
    all); their staging rows and quarantine rows leave first."""
    model, raw = entity.staging_model, entity.raw_table
    sql = sql_file("staging", model)
    subset = sql.replace(f"raw_records('{raw}')", "raw_records('_raw_subset')")
    key = ", ".join(entity.key)
    carried = "(select source_file from ingest_ledger where entity = $entity and reused)"
    held_back = (
        "(select source_file, line from quarantine where entity = $entity and kind = 'invalid')"
    )
    conn.execute(
        f"""
        create or replace temp table _raw_subset as
        select * from {raw}
        where _source_file not in {carried}
            or (_source_file, _line) in (select (source_file, line) from {held_back})
        """,
        {"entity": entity.name},
    )
    conn.execute(f"create or replace temp table _staged as {subset}")
    conn.execute(
        f"create or replace temp table _keys as "
        f"select distinct {key} from _staged where reject_reason is null"
    )
    # the carried rows of those keys not typed yet: typed for their key alone (DuckDB
    # computes only the columns a query uses), then typed whole beside the others
    conn.execute(
        f"""
        create or replace temp table _raw_subset as
        select r.* from {raw} as r
        semi join (
            select source_file, line from ({sql}) semi join _keys using ({key})
            where source_file in {carried}
        ) as k on r._source_file = k.source_file and r._line = k.line
        anti join _staged as s on r._source_file = s.source_file and r._line = s.line
        """,
        {"entity": entity.name},
    )
    conn.execute(f"insert into _staged {subset}")
    conn.execute(
        f"""
        delete from quarantine where entity = $entity and (
            source_file not in {carried}
            or (source_file, line) in (select (source_file, line) from _staged)
        )
        """,
        {"entity": entity.name},
    )
    conn.execute(
        f"delete from {model} where source_file not in {carried} "
        f"or ({key}) in (select ({key}) from _keys)",
        {"entity": entity.name},
    )
    conn.execute("drop table _keys; drop table _raw_subset")


def _quarantine(conn: duckdb.DuckDBPyConnection, entity: Entity, rows: str) -> None:
    """Send `rows` (source_file, line, reason, kind) to quarantine with each record's raw
    text, fetched from the raw table for these rows alone, phone-like runs masked."""
    conn.execute(f"create or replace temp table _rejects as {rows}")
    conn.execute(
        f"""
        insert into quarantine
        select r.source_file, r.line, $entity, r.reason, mask_phones(t.raw), r.kind
        from _rejects as r
        left join raw_text('{entity.raw_table}') as t
            on t.source_file = r.source_file and t.line is not distinct from r.line
        """,
        {"entity": entity.name},
    )
    conn.execute("drop table _rejects")


def _keep_one_version(
    conn: duckdb.DuckDBPyConnection, entity: Entity, key: tuple[str, ...], within_file: bool
) -> tuple[int, str]:
    """One row of `_valid` per key (per file and key `within_file`): repeats of the same
    facts are dropped and counted; of different versions the later file's (within a file,
    the later line's) wins and the others are quarantined as superseded. Returns the
    repeats dropped and the select of the rows kept, which reads the temporary tables
    `_repeated` and `_versions` (the caller drops them): the kept rows are written once,
    where they go, not copied on the way.

    Most keys have one row: only the rows of a key seen more than once (overlapping
    exports) go through the window functions; the rest pass as they are."""
    columns = (("source_file",) if within_file else ()) + key
    partition = ", ".join(columns)
    on = " and ".join(f"v.{c} is not distinct from k.{c}" for c in columns)
    conn.execute(
        f"create or replace temp table _repeated as select {partition} from _valid "
        f"group by all having count(*) > 1"
    )
    conn.execute(
        f"""
        create or replace temp table _versions as
        with candidates as (
            select v.* from _valid as v semi join _repeated as k on {on}
        ),

        facts as (
            select *, hash(*columns(* exclude ({", ".join(META)}))) as _facts
            from candidates
        ),

        repeats as (
            select
                *,
                row_number() over (partition by {partition}, _facts order by {_ORDER})
                    as _repeat
            from facts
        )

        select
            *,
            row_number() over (partition by {partition} order by {_ORDER}) as _version,
            first_value(source_file) over (partition by {partition} order by {_ORDER})
                as _winner_file,
            first_value(line) over (partition by {partition} order by {_ORDER})
                as _winner_line
        from repeats
        where _repeat = 1
        """
    )
    _quarantine(
        conn,
        entity,
        f"""
        select
            source_file, line,
            'superseded by ' || _winner_file || ' line ' || _winner_line
                || ': same {", ".join(key)}, different values' as reason,
            'superseded' as kind
        from _versions
        where _version > 1
        """,
    )
    duplicates = conn.execute(
        "select (select count(*) from _valid semi join _repeated as k on "
        f"{on.replace('v.', '_valid.')}) - (select count(*) from _versions)"
    ).fetchall()[0][0]
    if not duplicates and not conn.execute("select count(*) from _versions").fetchall()[0][0]:
        return 0, "select * from _valid"
    return (
        duplicates,
        f"""
        select v.* from _valid as v anti join _repeated as k on {on}
        union all by name
        select * exclude (_facts, _repeat, _version, _winner_file, _winner_line)
        from _versions
        where _version = 1
        """,
    )


def _sum_parts(conn: duckdb.DuckDBPyConnection, entity: Entity) -> int:
    """One row per file and key: its parts' summed columns added up (at full precision),
    the rest taken from the first part; returns how many rows were folded into others."""
    columns = [row[0] for row in conn.execute("describe _valid").fetchall()]
    keys = set(entity.key)
    select = []
    for column in columns:
        if column in keys or column == "source_file":
            select.append(column)
        elif column in entity.summed_columns or column == "_parts":
            select.append(f"sum({column}) as {column}")
        elif column in (entity.part_column, "reject_reason"):
            select.append(f"null as {column}")
        elif column == "line":
            select.append("min(line) as line")
        else:
            select.append(f"min_by({column}, line) as {column}")
    before = conn.execute("select count(*) from _valid").fetchall()[0][0]
    conn.execute(
        f"create or replace temp table _valid as select {', '.join(select)} from _valid "
        f"group by source_file, {', '.join(entity.key)}"
    )
    return before - conn.execute("select count(*) from _valid").fetchall()[0][0]
