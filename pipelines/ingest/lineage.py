"""Which raw rows an entity's staging table was gated from, so a weekly build gates only
the new rows (pipelines/ingest/staging.py) instead of every row again.

One row per entity in `staging_lineage`:

* `raw_version`: the raw table's data version (pipelines/ingest/ledger.py `Reuse`), NULL
  while a load is changing the table;
* `raw_previous`: the version the load started from, when the load only *added* files
  (every file of the last build carried, none gone or changed); else NULL;
* `staged_from`: the raw version the staging table, its quarantine rows and its
  reconciliation were gated from, NULL while the gate is writing them;
* `staged_on`: the build day they were gated on. The gate refuses a date after the
  build day plus one (definition 16) and a birth date after it, and names that day in
  the reason: only those rows can fare otherwise on a later day, never a row let in.

The staging table may be brought up to date with only the new rows (and the rows held
back by a date, gated again) when it was gated from exactly the rows the load started
from (`staged_from` = `raw_previous`), on this build's day or an earlier one. Every step
clears its own column first, so a build stopped half-way (the build file of `dagster
dev` is kept) leaves a lineage that sends the next gate through every row, never one
that promises what the tables do not hold.
"""

from __future__ import annotations

from datetime import date

import duckdb

from pipelines.ingest.entities import Entity

LINEAGE_DDL = """
create table if not exists staging_lineage (
    entity varchar primary key, raw_version varchar, raw_previous varchar,
    staged_from varchar, staged_on date
)
"""


def create_lineage_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(LINEAGE_DDL)


def load_started(conn: duckdb.DuckDBPyConnection, entity: Entity) -> str | None:
    """The raw version the load starts from (None if unknown), marked as changing."""
    conn.execute(LINEAGE_DDL)
    found = conn.execute(
        "select raw_version from staging_lineage where entity = ?", [entity.name]
    ).fetchall()
    conn.execute(
        "update staging_lineage set raw_version = null, raw_previous = null where entity = ?",
        [entity.name],
    )
    return found[0][0] if found else None


def load_ended(
    conn: duckdb.DuckDBPyConnection, entity: Entity, version: str, previous: str | None
) -> None:
    """The raw table is at `version`; `previous` when the load only added files to it."""
    conn.execute(
        """
        insert into staging_lineage (entity, raw_version, raw_previous) values (?, ?, ?)
        on conflict (entity) do update
            set raw_version = excluded.raw_version, raw_previous = excluded.raw_previous
        """,
        [entity.name, version, previous],
    )


def gate_started(conn: duckdb.DuckDBPyConnection, entity: Entity) -> bool:
    """Whether the staging table in the file was gated from the raw rows this build's
    load started from, on this build's day or before (so only the rows added since, and
    those a date held back, need the gate); the staging table is marked as changing
    either way."""
    found = conn.execute(
        """
        select raw_version, raw_previous, staged_from, staged_on
        from staging_lineage where entity = ?
        """,
        [entity.name],
    ).fetchall()
    conn.execute("update staging_lineage set staged_from = null where entity = ?", [entity.name])
    if not found or None in found[0]:
        return False
    _, previous, staged_from, staged_on = found[0]
    return staged_from == previous and staged_on <= _build_date(conn)


def gate_ended(conn: duckdb.DuckDBPyConnection, entity: Entity) -> None:
    conn.execute(
        "update staging_lineage set staged_from = raw_version, staged_on = ? where entity = ?",
        [_build_date(conn), entity.name],
    )


def _build_date(conn: duckdb.DuckDBPyConnection) -> date:
    return conn.execute("select getvariable('build_date')::date").fetchall()[0][0]
