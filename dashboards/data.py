"""The dashboard's only door to the warehouse: short read-only queries, cached per build.

Every cached query takes the warehouse's identity (path, modification time) as part of
its key, so a newly published build shows on the next interaction, and no connection
stays open to block the pipeline's writer (DuckDB: one writer or many readers): each
query attaches the file read-only for as long as it runs (`Reader`).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

from pipelines.chain.clinics import CHAIN_FILE, WAREHOUSE_FILE, clinic_warehouse
from pipelines.digest.week import WEEKLY_TOTALS
from pipelines.settings import Settings, load_settings
from pipelines.warehouse import sql_literal

Version = tuple[str, int]


@st.cache_resource
def settings() -> Settings:
    return load_settings()


def warehouse_path() -> Path:
    """The published warehouse; on a chain, that of the clinic chosen in the sidebar."""
    out = chain_out()
    if out is not None:
        return clinic_warehouse(out, selected_clinic())
    return Path(os.environ.get("CLINIC_WAREHOUSE_PATH") or settings().warehouse_path)


def warehouse_version() -> Version | None:
    """(path, mtime ns) of the published warehouse, or None when there is none yet."""
    return file_version(warehouse_path())


class Reader:
    """Short read-only queries of DuckDB files through one in-memory DuckDB of the process.

    A new DuckDB instance costs some 35 ms before its first query (its catalog of built-in
    functions), whatever the file; attaching a built warehouse to a live instance, some
    5 ms. So each query attaches its file read-only under a name of its own, runs, and
    detaches it: nothing holds the file between queries (the pipeline publishes by
    rename, and a reader never keeps an old build open), and concurrent sessions never
    share an attachment. The in-memory hub itself holds no data.
    """

    def __init__(self) -> None:
        self._hub = duckdb.connect(":memory:")
        self._lock = threading.Lock()  # the hub's cursor list is not for concurrent use
        self._names = itertools.count()

    @contextmanager
    def cursor(self, path: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection whose default database is the file at `path`, read only."""
        with self._lock:
            cursor = self._hub.cursor()
            name = f"warehouse_{next(self._names)}"
        try:
            cursor.execute(f"attach {sql_literal(path)} as {name} (read_only)")
            try:
                cursor.execute(f"use {name}")
                yield cursor
            finally:
                cursor.execute("use memory")
                cursor.execute(f"detach {name}")
        finally:
            with self._lock:
                cursor.close()

    def attached(self) -> list[str]:
        """The files attached right now: none between queries."""
        with self._lock, self._hub.cursor() as cursor:
            return [
                row[0]
                for row in cursor.execute(
                    "select path from duckdb_databases() where path is not null"
                ).fetchall()
            ]


@st.cache_resource(show_spinner=False)
def reader() -> Reader:
    return Reader()


@st.cache_data(ttl=3600, max_entries=256, show_spinner=False)
def query(sql: str, version: Version, params: tuple = ()) -> pl.DataFrame:
    """One query against the warehouse file identified by `version`."""
    with reader().cursor(version[0]) as conn:
        return conn.sql(sql, params=list(params)).pl()


@st.cache_resource(ttl=3600, max_entries=16, show_spinner=False)
def shared_query(sql: str, version: Version, params: tuple = ()) -> pl.DataFrame:
    """`query` for long results: `st.cache_data` hands each caller a copy (pickled when
    stored, unpickled on every read: some 0.2 s for 175,000 rows); this hands every
    session the same frame. Polars frames are never changed in place here: every
    operation returns a new frame."""
    with reader().cursor(version[0]) as conn:
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
    return query(WEEKLY_TOTALS, version)


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


def _named_by_doctor(mart: str, order: str, extra: str = "") -> str:
    """A forecast mart (rows per dimension and key) with `name`: the doctor's name for a
    doctor's key, the key itself for a clinic or a channel."""
    return f"""
        select m.*, coalesce(doctors.doctor_name, m.key) as name{extra}
        from {mart} as m
        left join mart_doctor_clv as doctors
            on m.dimension = 'doctor' and doctors.doctor_id = m.key
        order by {order}
        """


def clv_forecast(version: Version) -> pl.DataFrame:
    """The forecast per clinic, doctor and channel and horizon, with the doctors' names
    and their realised value of the first `clv_horizon_days` beside it."""
    return query(
        _named_by_doctor(
            "mart_clv_forecast", "m.dimension, m.horizon_weeks, m.key", ", doctors.clv_365"
        ),
        version,
    )


def patients_known_to_forecast(version: Version) -> int:
    """Primary patients whose first visit was by the forecast's cut-off: none means the
    clinic's first complete month has not ended yet, not that its patients are too few."""
    return int(
        query(
            "select count(*)::bigint as n from fct_primary_patients, int_parameters "
            "where first_visit_local::date <= forecast_cutoff",
            version,
        )["n"][0]
    )


def spend_response(version: Version) -> pl.DataFrame:
    return query("select * from mart_spend_response order by channel", version)


def spend_curves(version: Version) -> pl.DataFrame:
    return query("select * from mart_spend_curve order by channel, spend", version)


def budget_shift(version: Version) -> pl.DataFrame:
    return query("select * from mart_budget_shift", version)


def channel_ltv(version: Version) -> pl.DataFrame:
    return query("select * from mart_channel_ltv order by ltv_to_cac desc nulls last", version)


def clv_holdout(version: Version) -> pl.DataFrame:
    return query(_named_by_doctor("mart_clv_holdout", "m.dimension, m.key"), version)


def reactivation(version: Version) -> pl.DataFrame:
    """Every lapsed patient to call, the most valuable first: as long as the clinic's list
    (100,000s of rows in a chain), so shared by every session (`shared_query`), not
    copied for each."""
    return shared_query(
        """
        select patient_id,
               timezone(build.timezone, last_visit_at) as last_visit_local,
               months_since, primary_doctor_id, primary_doctor_name as primary_doctor,
               last_service, revenue_to_date, p_alive, expected_value
        from mart_reactivation
        cross join mart_build_info as build
        order by expected_value desc nulls last, months_since desc, patient_id
        """,
        version,
    )


def reactivation_outcome(version: Version) -> pl.DataFrame:
    return query(
        "select * from mart_reactivation_outcome order by primary_doctor_id nulls last", version
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


def quarantine_rows(version: Version, limit: int | None = None) -> pl.DataFrame:
    """Quarantined rows in file order: the first `limit` (cached, to show), or all of them
    (for the download: read when asked for, never kept in the cache, however many)."""
    sql = (
        "select entity, kind, source_file, line, reason, raw from quarantine "
        "order by entity, source_file, line"
    )
    if limit is not None:
        return query(sql + " limit ?", version, (limit,))
    with reader().cursor(version[0]) as conn:
        return conn.sql(sql).pl()


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


def source_freshness(version: Version) -> pl.DataFrame:
    return query(
        "select source, configured, last_day_pulled, last_data_day, pulled_at, days_old, "
        "freshness_days, stale from mart_source_freshness order by source",
        version,
    )


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


# --- a chain of clinics (pipelines/chain/) ---------------------------------------------

CLINIC_KEY = "clinic"
"""The sidebar's clinic selector (streamlit_app.py) keeps its choice under this key."""


def file_version(path: Path) -> Version | None:
    """(path, mtime ns) of a published DuckDB file, or None when there is none yet."""
    try:
        return str(path), path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def chain_out() -> Path | None:
    """The chain's output folder when the dashboard serves a chain of clinics
    (`CLINIC_CHAIN_OUT` or `chain_out`), else None: one clinic, as always."""
    value = os.environ.get("CLINIC_CHAIN_OUT") or settings().chain_out
    return Path(value) if value else None


def chain_clinics() -> list[str]:
    """The chain's clinics that have a published warehouse, by name."""
    out = chain_out()
    return sorted(p.parent.name for p in out.glob(f"*/{WAREHOUSE_FILE}")) if out else []


def selected_clinic() -> str:
    """The clinic every page reads: the sidebar's choice, else the first clinic."""
    clinics = chain_clinics()
    chosen = st.session_state.get(CLINIC_KEY)
    if chosen in clinics:
        return chosen
    return clinics[0] if clinics else ""


def chain_version() -> Version | None:
    out = chain_out()
    return None if out is None else file_version(out / CHAIN_FILE)


def chain_totals(version: Version) -> pl.DataFrame:
    """Each clinic's status and its totals over all its data (pipelines/chain/view.py)."""
    return query(
        """
        select
            clinics.clinic, clinics.status, clinics.last_good_build_at,
            clinics.last_attempt, clinics.currency, totals.* exclude (clinic)
        from clinics
        left join clinic_totals as totals on clinics.clinic = totals.clinic
        order by clinics.clinic
        """,
        version,
    )
