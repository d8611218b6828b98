"""The dashboard's only door to the warehouse: short read-only queries, cached per build.

Every cached query takes the warehouse's identity (path, modification time) as part of
its key, so a newly published build shows on the next interaction, and no connection
stays open to block the pipeline's writer (DuckDB: one writer or many readers).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

from pipelines.settings import Settings, load_settings

Version = tuple[str, int]


@st.cache_resource
def settings() -> Settings:
    return load_settings()


def warehouse_path() -> Path:
    return Path(os.environ.get("CLINIC_WAREHOUSE_PATH") or settings().warehouse_path)


def warehouse_version() -> Version | None:
    """(path, mtime ns) of the published warehouse, or None when there is none yet."""
    path = warehouse_path()
    try:
        return str(path), path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


@st.cache_data(ttl=3600, max_entries=256, show_spinner=False)
def query(sql: str, version: Version, params: tuple = ()) -> pl.DataFrame:
    """One query against the warehouse file identified by `version`."""
    with duckdb.connect(version[0], read_only=True) as conn:
        return conn.sql(sql, params=list(params)).pl()


def build_info(version: Version) -> dict:
    return query("select * from mart_build_info", version).row(0, named=True)


def branches(version: Version) -> list[str]:
    frame = query(
        "select distinct branch_id from fct_channel_daily where branch_id is not null order by 1",
        version,
    )
    return frame["branch_id"].to_list()


def weekly_totals(version: Version) -> pl.DataFrame:
    """All channels together, per ISO week: the warehouse's `channel_totals` macro."""
    return query(
        "select *, period_start as week_start "
        "from channel_totals('-infinity'::date, 'infinity'::date, by_week := true)",
        version,
    )


def channel_range(
    version: Version, first_day: date, last_day: date, branch: str | None
) -> pl.DataFrame:
    """Channel economics over a date range (and one branch): the warehouse's
    `channel_economics` macro, the very definition the weekly mart uses."""
    return query(
        "select * from channel_economics(?::date, ?::date, branch := ?)",
        version,
        (first_day, last_day, branch),
    )


def channel_attribution(
    version: Version, first_day: date, last_day: date, branch: str | None
) -> pl.DataFrame:
    """First-touch and last-touch side by side over a date range: the warehouse's
    `channel_attribution` macro, the definition `mart_channel_attribution` uses."""
    return query(
        "select * from channel_attribution(?::date, ?::date, branch := ?)",
        version,
        (first_day, last_day, branch),
    )


def channel_weekly(version: Version, first_week: date, last_week: date) -> pl.DataFrame:
    return query(
        "select * from mart_channel_weekly where week_start between ? and ? "
        "order by week_start, channel",
        version,
        (first_week, last_week),
    )


def admin_ranking(version: Version) -> pl.DataFrame:
    return query("select * from mart_admin_conversion order by rank", version)


def missed_calls(version: Version) -> pl.DataFrame:
    return query("select * from mart_missed_calls order by weekday, hour", version)


def doctor_clv(version: Version) -> pl.DataFrame:
    return query("select * from mart_doctor_clv order by doctor_id", version)


def reactivation(version: Version) -> pl.DataFrame:
    return query(
        """
        select patient_id,
               timezone(build.timezone, last_visit_at) as last_visit_local,
               months_since, primary_doctor_id, primary_doctor_name as primary_doctor,
               last_service, revenue_to_date
        from mart_reactivation
        cross join mart_build_info as build
        order by months_since desc, patient_id
        """,
        version,
    )


def load_reconciliation(version: Version) -> pl.DataFrame:
    return query(
        """
        select entity, rows_read, rows_loaded, rows_quarantined, rows_duplicate, rows_combined
        from load_reconciliation
        order by entity
        """,
        version,
    )


def quarantine_summary(version: Version) -> pl.DataFrame:
    return query(
        """
        select
            entity,
            kind,
            case
                when kind = 'superseded'
                    then 'superseded by a later export: same key, different values'
                else reason
            end as reason,
            count(*)::bigint as rows,
            min(source_file || coalesce(':' || line, ' (whole file)')) as first_example
        from quarantine
        group by all
        order by rows desc, entity, reason
        """,
        version,
    )


def quarantine_rows(version: Version) -> pl.DataFrame:
    return query(
        "select entity, kind, source_file, line, reason, raw from quarantine "
        "order by entity, source_file, line",
        version,
    )


def vendor_lead_agreement(version: Version) -> pl.DataFrame:
    return query("select * from mart_vendor_lead_agreement", version)


def ingest_files(version: Version) -> pl.DataFrame:
    return query(
        "select entity, source_file, format, rows, malformed, skipped_lines, skipped_rows, "
        "skip_reason, rejected as not_read_because, reader, encoding, missing_columns, "
        "ignored_columns from ingest_files order by rejected is null, entity, source_file",
        version,
    )


def build_warnings(version: Version) -> pl.DataFrame:
    return query("select kind, entity, message from mart_build_warnings", version)


def orphan_references(version: Version) -> pl.DataFrame:
    return query("select * from mart_orphan_references", version)


def unmapped_sources(version: Version) -> pl.DataFrame:
    return query("select * from mart_unmapped_sources", version)


def values_kept_unknown(version: Version) -> pl.DataFrame:
    return query("select * from mart_values_kept_unknown", version)


def phone_quality(version: Version) -> pl.DataFrame:
    """Phone values per entity by what they turned out to be, with each share."""
    return query(
        """
        select
            entity,
            case
                when status = 'identified' then 'valid, ' || coalesce(region, '?')
                else status
            end as phones_are,
            sum(phones)::bigint as phones,
            sum(phones) / sum(sum(phones)) over (partition by entity) as share
        from phone_quality
        group by entity, status, region
        order by entity, phones desc
        """,
        version,
    )
