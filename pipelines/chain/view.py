"""`chain.duckdb`: the clinics side by side, built from their published warehouses.

Each clinic's warehouse is ATTACHed read-only and its rows are copied, with a `clinic`
column, into a new file that is then published like a warehouse (checkpoint, copy,
atomic rename). So the chain file stands alone: the dashboard's Chain page never holds
a clinic's file open (a clinic's next build replaces it freely), and a clinic whose
build failed keeps its last good rows. Copying over Parquet-by-default because the
dashboard already reads DuckDB files and nothing here outgrows one (a chain of fifty
clinics at scale 1 is tens of MB); the same tables are written as Parquet, partitioned
by clinic, when `chain_parquet_dir` asks, for readers elsewhere (S3-compatible storage).

The per-clinic figures come from each clinic's own SQL (its marts and its
`channel_totals` macro, run with the clinic's warehouse as the default database), never
re-derived here: spend unknown in a clinic stays NULL in the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.build import build_lock, remove_stale_files
from pipelines.chain.clinics import CHAIN_FILE, chain_paths, clinic_warehouse, find_clinics
from pipelines.chain.outcome import read_outcome
from pipelines.settings import Settings
from pipelines.warehouse import checkpoint, publish, run_build_file, sql_literal

ALL_TIME = "'-infinity'::date, 'infinity'::date"
CLINIC_TABLES = {
    "mart_channel_weekly": "select * from mart_channel_weekly",
    "clinic_weekly": (
        "select period_start as week_start, * exclude (period_start, period_end) "
        f"from channel_totals({ALL_TIME}, by_week := true)"
    ),
    "clinic_totals": (
        "select (select min(day) from fct_channel_daily) as first_day, "
        "(select as_of from mart_build_info) as as_of, * exclude (period_start, period_end) "
        f"from channel_totals({ALL_TIME})"
    ),
    "mart_admin_conversion": "select * from mart_admin_conversion",
    "mart_doctor_clv": "select * from mart_doctor_clv",
    "mart_build_info": "select * from mart_build_info",
}
"""Chain table → the query run in each clinic's warehouse; every row gains `clinic`.
`clinic_weekly` and `clinic_totals` are the Overview's totals (all channels, spend and
ratios over the channels whose spend is known, the others named in `unknown_spend`),
per week and over all of each clinic's data (`first_day` to `as_of`)."""

CLINICS_TABLE = """
create table clinics as
select
    clinic,
    case
        when not coalesce(attempt_ok, true) then 'failed'
        when built_at is null then 'missing'
        else 'built'
    end as status,
    built_at as last_good_build_at,
    as_of,
    currency,
    timezone,
    attempted_at as last_attempt_at,
    message as last_attempt
from attempts
order by clinic
"""
"""One row per clinic folder: `built`, `failed` (its last attempt failed; its rows, if
any, are from `last_good_build_at`) or `missing` (no readable warehouse yet)."""


_NO_BUILD_INFO = (
    "(select null::timestamptz as built_at, null::date as as_of, null::varchar as currency, "
    "null::varchar as timezone)"
)


@dataclass(frozen=True)
class ChainView:
    path: Path
    status: dict[str, str] = field(default_factory=dict)
    """Clinic → built, failed or missing."""


def build_chain_view(chain: Settings) -> ChainView:
    """(Re)build `chain_out/chain.duckdb` from every clinic folder's last good warehouse,
    then, when `chain_parquet_dir` is set, the same tables as Parquet."""
    root, out = chain_paths(chain)
    clinics = list(find_clinics(root).clinics)
    target = out / CHAIN_FILE
    out.mkdir(parents=True, exist_ok=True)
    with build_lock(target):
        remove_stale_files(target)
        build = run_build_file(target)
        try:
            _write(build, out, clinics)
            checkpoint(build)
            publish(build, target)
        finally:
            for path in (build, build.with_name(build.name + ".wal")):
                path.unlink(missing_ok=True)
    if chain.chain_parquet_dir:
        export_parquet(target, chain.chain_parquet_dir)
    return read_chain_view(target)


def read_chain_view(path: Path) -> ChainView:
    with duckdb.connect(str(path), read_only=True) as conn:
        status = dict(conn.execute("select clinic, status from clinics").fetchall())
    return ChainView(path, status)


def _write(build: Path, out: Path, clinics: list[str]) -> None:
    with duckdb.connect() as conn:
        conn.execute(f"attach {sql_literal(build)} as chain")
        conn.execute(
            "create table chain.attempts (clinic varchar, attempt_ok boolean, "
            "attempted_at timestamptz, message varchar, built_at timestamptz, as_of date, "
            "currency varchar, timezone varchar)"
        )
        copied = []
        for index, clinic in enumerate(clinics):
            outcome = read_outcome(out, clinic)
            error = _copy_clinic(conn, index, clinic, clinic_warehouse(out, clinic))
            if error is None:
                copied.append(index)
            info = f'chain."mart_build_info__{index}"' if error is None else _NO_BUILD_INFO
            conn.execute(
                "insert into chain.attempts select ?, ?, ?, ?, built_at, as_of, currency, "
                f"timezone from {info}",
                [
                    clinic,
                    None if outcome is None else outcome.ok,
                    None if outcome is None else outcome.finished_at,
                    # the last attempt's own line, unless it succeeded and the file failed
                    outcome.message if outcome and (not outcome.ok or error is None) else error,
                ],
            )
        conn.execute("use chain")
        for table in CLINIC_TABLES:
            parts = [f'"{table}__{index}"' for index in copied]
            if parts:
                union = " union all by name ".join(f"select * from {p}" for p in parts)
                conn.execute(f'create table "{table}" as {union}')
            for part in parts:
                conn.execute(f"drop table {part}")
        conn.execute(CLINICS_TABLE)
        conn.execute("drop table attempts")
        conn.execute("use memory")
        conn.execute("detach chain")


def _copy_clinic(
    conn: duckdb.DuckDBPyConnection, index: int, clinic: str, warehouse: Path
) -> str | None:
    """Copy one clinic's rows into `chain` as `<table>__<index>` parts; None when copied,
    else why not (no warehouse yet, or one this version cannot read)."""
    if not warehouse.is_file():
        return "no warehouse yet"
    alias = f"clinic_{index}"
    try:
        conn.execute(f"attach {sql_literal(warehouse)} as {alias} (read_only)")
        conn.execute(f"use {alias}")
        for table, query in CLINIC_TABLES.items():
            conn.execute(
                f'create table chain.main."{table}__{index}" as '
                f"select ?::varchar as clinic, * from ({query})",
                [clinic],
            )
    except duckdb.Error as exc:
        for table in CLINIC_TABLES:
            conn.execute(f'drop table if exists chain.main."{table}__{index}"')
        return f"warehouse unreadable: {str(exc).strip().splitlines()[0]}"
    finally:
        conn.execute("use chain")
        conn.execute(f"detach database if exists {alias}")
    return None


def export_parquet(chain_file: Path, target: str) -> None:
    """Every chain table as Parquet under `target/<table>/clinic=<name>/`, for DuckDB's
    `read_parquet(..., hive_partitioning = true)` on a folder or `s3://` (httpfs; the
    credentials are DuckDB's own secrets, e.g. a persistent S3 secret of the user)."""
    base = target.rstrip("/")
    if "://" not in base:
        Path(base).mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(chain_file), read_only=True) as conn:
        tables = [
            row[0] for row in conn.execute("select table_name from duckdb_tables()").fetchall()
        ]
        for table in tables:
            conn.execute(
                f'copy "{table}" to {sql_literal(f"{base}/{table}")} '
                "(format parquet, partition_by (clinic), overwrite_or_ignore, "
                "filename_pattern 'part_{i}')"
            )
