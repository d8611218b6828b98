"""Resources: the settings object and the DuckDB build file, configured once here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from pipelines.settings import Settings, load_settings
from pipelines.warehouse import prepare_session, stamp_build_file, start_build_file


@contextmanager
def warehouse_session(
    duckdb_resource: DuckDBResource, settings: Settings
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the build file that already speaks the clinic's settings; the
    file started from the last published warehouse when the build is incremental
    (pipelines/warehouse.py `start_build_file`)."""
    build_path = Path(duckdb_resource.database)
    build_path.parent.mkdir(parents=True, exist_ok=True)
    start_build_file(settings, build_path)
    with duckdb_resource.get_connection() as conn:
        prepare_session(conn, settings)
        stamp_build_file(conn)
        yield conn


def build_resources(settings: Settings, database: str | None = None) -> dict:
    """The run's resources: the settings object itself, and DuckDB on the build file.

    Settings are a plain resource (`ResourceParam[Settings]`) so the one typed object,
    secrets included, reaches every asset unchanged; `dagster dev` loads it from the
    settings file and the environment, the CLI and tests hand in their own.
    """
    path = database or str(settings.resolved_build_path)
    return {"settings": settings, "duckdb": DuckDBResource(database=path)}


@dg.definitions
def resources() -> dg.Definitions:
    """Resources, and the in-process executor: DuckDB takes one writer at a time, so steps
    run one after another (each uses every core inside DuckDB) instead of fighting over
    the file's lock from parallel processes."""
    return dg.Definitions(
        resources=build_resources(load_settings()), executor=dg.in_process_executor
    )
