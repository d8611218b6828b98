"""The dashboard's only door to the warehouse: short read-only queries, cached per build.

The cache key includes the warehouse file's path and modification time, so a new build
(published by atomic rename) shows on the next interaction, and no connection stays open
to block the pipeline's writer.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

from pipelines.settings import Settings, load_settings


@st.cache_resource
def settings() -> Settings:
    return load_settings()


def warehouse_path() -> Path:
    return Path(os.environ.get("CLINIC_WAREHOUSE_PATH") or settings().warehouse_path)


def warehouse_version() -> tuple[str, int] | None:
    """(path, mtime ns) of the published warehouse, or None when there is none yet."""
    path = warehouse_path()
    try:
        return str(path), path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


@st.cache_data(ttl=3600, max_entries=64)
def query(sql: str, version: tuple[str, int]) -> pl.DataFrame:
    """Run one query against the warehouse file identified by `version`."""
    with duckdb.connect(version[0], read_only=True) as conn:
        return conn.sql(sql).pl()


def load_reconciliation(version: tuple[str, int]) -> pl.DataFrame:
    return query(
        """
        select entity, rows_read, rows_loaded, rows_quarantined, rows_duplicate
        from load_reconciliation
        order by entity
        """,
        version,
    )


def quarantine_summary(version: tuple[str, int]) -> pl.DataFrame:
    return query(
        """
        select entity, kind, reason, count(*)::bigint as rows,
               min(source_file || ':' || line) as first_example
        from quarantine
        group by all
        order by rows desc, entity, reason
        """,
        version,
    )
