"""The gate every staging model passes through on its way into the warehouse.

A staging SQL file types and validates one entity, one output row per record read, with
a `reject_reason`. The gate then applies the rules of METRICS.md "Inputs" the same way
for every entity:

1. a row with a reject_reason goes to `quarantine` (before duplicates are looked for);
2. rows with the same key and the same facts are one record: the repeats are counted
   as duplicates and dropped (facts are compared after parsing, so a timestamp written
   two ways is the same fact);
3. of the remaining versions of a key, the one from the file that sorts last by name
   (within a file, the later line) wins; the others go to `quarantine` as superseded;
4. what remains is the staging table, and the counts go to `load_reconciliation`.

Each staging asset replaces only its own entity's rows in `quarantine` and
`load_reconciliation`, so re-running one asset is safe.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines.ingest.entities import Entity
from pipelines.warehouse import sql_file

META = ("source_file", "line", "raw", "reject_reason")
QUARANTINE_DDL = """
create table if not exists quarantine (
    source_file varchar, line bigint, entity varchar, reason varchar, raw varchar,
    kind varchar
)
"""
RECONCILIATION_DDL = """
create table if not exists load_reconciliation (
    entity varchar primary key, rows_read bigint, rows_loaded bigint,
    rows_quarantined bigint, rows_duplicate bigint
)
"""


@dataclass(frozen=True)
class GateCounts:
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int


def run_staging_model(conn: duckdb.DuckDBPyConnection, entity: Entity) -> GateCounts:
    model = entity.staging_model
    key = ", ".join(entity.key)
    order = "source_file desc, line desc"
    conn.execute(f"create or replace temp table _staged as {sql_file('staging', model)}")
    conn.execute(
        f"""
        create or replace temp table _versions as
        with valid_rows as (
            select *, hash(*columns(* exclude ({", ".join(META)}))) as _facts
            from _staged
            where reject_reason is null
        ),

        repeats as (
            select *, row_number() over (partition by {key}, _facts order by {order}) as _repeat
            from valid_rows
        )

        select
            *,
            row_number() over (partition by {key} order by {order}) as _version,
            first_value(source_file) over (partition by {key} order by {order}) as _winner_file,
            first_value(line) over (partition by {key} order by {order}) as _winner_line
        from repeats
        where _repeat = 1
        """
    )
    conn.execute(
        f"""
        create or replace table {model} as
        select * exclude (raw, reject_reason, _facts, _repeat, _version, _winner_file,
                          _winner_line)
        from _versions
        where _version = 1
        order by {key}
        """
    )
    conn.execute(QUARANTINE_DDL)
    conn.execute("delete from quarantine where entity = ?", [entity.name])
    conn.execute(
        """
        insert into quarantine
        select source_file, line, $entity, reject_reason, mask_phones(raw), 'invalid'
        from _staged
        where reject_reason is not null
        """,
        {"entity": entity.name},
    )
    conn.execute(
        f"""
        insert into quarantine
        select
            source_file, line, $entity,
            'superseded by ' || _winner_file || ' line ' || _winner_line
                || ': same {key.replace("'", "")}, different values',
            mask_phones(raw), 'superseded'
        from _versions
        where _version > 1
        """,
        {"entity": entity.name},
    )
    counts = GateCounts(
        *conn.execute(
            f"""
            select
                (select count(*) from _staged),
                (select count(*) from {model}),
                (select count(*) from quarantine where entity = $entity),
                (select count(*) from _staged where reject_reason is null)
                    - (select count(*) from _versions)
            """,
            {"entity": entity.name},
        ).fetchall()[0]
    )
    conn.execute(RECONCILIATION_DDL)
    conn.execute(
        "insert or replace into load_reconciliation values (?, ?, ?, ?, ?)",
        [
            entity.name,
            counts.rows_read,
            counts.rows_loaded,
            counts.rows_quarantined,
            counts.rows_duplicate,
        ],
    )
    conn.execute("drop table _staged; drop table _versions")
    return counts
