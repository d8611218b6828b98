"""Resources: the settings object and the DuckDB build file, configured once here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from pipelines.settings import Settings, load_settings
from pipelines.warehouse import prepare_session


class SettingsResource(dg.ConfigurableResource):
    """Where the settings come from; the values themselves live in `Settings`."""

    settings_file: str | None = None
    input_dir: str | None = None
    warehouse_path: str | None = None

    def load(self) -> Settings:
        overrides = {
            name: value
            for name, value in (("input_dir", self.input_dir), ("warehouse_path", self.warehouse_path))
            if value is not None
        }
        return load_settings(self.settings_file, **overrides)


@contextmanager
def warehouse_session(
    duckdb_resource: DuckDBResource, settings: Settings
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the build file that already speaks the clinic's settings."""
    Path(duckdb_resource.database).parent.mkdir(parents=True, exist_ok=True)
    with duckdb_resource.get_connection() as conn:
        prepare_session(conn, settings)
        yield conn


def build_resources(
    settings_file: str | None = None,
    database: str | None = None,
    input_dir: str | None = None,
    warehouse_path: str | None = None,
) -> dict:
    """Resources for a run: the CLI and tests name a build file, `dagster dev` takes settings'."""
    settings_resource = SettingsResource(
        settings_file=settings_file, input_dir=input_dir, warehouse_path=warehouse_path
    )
    path = database or str(settings_resource.load().resolved_build_path)
    return {"settings": settings_resource, "duckdb": DuckDBResource(database=path)}


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
