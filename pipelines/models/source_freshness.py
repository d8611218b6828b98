"""`mart_source_freshness`: per vendor API, the last day pulled and the last day with data,
and whether that is older than `pull.freshness_days` (pipelines/pull/).

Read from the pull's cursor file in the input folder at build time, against today in the
clinic's zone: a source that stopped answering shows here, on the data-quality page and
among the build's warnings, even while the build itself has nothing new to read.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from pipelines.pull.landing import StateError, read_state
from pipelines.pull.run import SOURCES, freshness
from pipelines.settings import Settings
from pipelines.warehouse import write_table

COLUMNS = {
    "source": pl.String,
    "configured": pl.Boolean,
    "last_day_pulled": pl.Date,
    "last_data_day": pl.Date,
    "pulled_at": pl.String,
    "days_old": pl.Int64,
    "freshness_days": pl.Int64,
    "stale": pl.Boolean,
}


def materialize_source_freshness(
    conn: duckdb.DuckDBPyConnection, settings: Settings
) -> dict[str, int]:
    """One row per source configured or ever pulled; none when nothing is pulled."""
    try:
        state = read_state(settings.input_dir)
    except StateError:
        state = {}  # unreadable: every configured source shows as never pulled, stale
    rows = []
    for name in SOURCES:
        configured = getattr(settings.pull, name).enabled
        entry = state.get(name, {})
        if not configured and not entry:
            continue
        fresh = freshness(settings, name, state)
        pulled = date.fromisoformat(entry["last_day"]) if entry.get("last_day") else None
        rows.append(
            (
                name,
                configured,
                pulled,
                fresh.last_data_day,
                entry.get("pulled_at"),
                fresh.days_old,
                settings.pull.freshness_days,
                fresh.stale,
            )
        )
    frame = pl.DataFrame(rows, schema=COLUMNS, orient="row")
    write_table(conn, "mart_source_freshness", frame)
    return {"dagster/row_count": frame.height, "stale": int(frame["stale"].sum())}
