"""Raw layer: every export file of each entity, read as text into `raw_<entity>`."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import warehouse_session
from pipelines.ingest.entities import ENTITIES, Entity
from pipelines.ingest.loader import load_entity
from pipelines.settings import Settings


def raw_asset(entity: Entity) -> dg.AssetsDefinition:
    @dg.asset(
        name=entity.raw_table,
        group_name="raw",
        kinds={"duckdb"},
        description=(
            f"Every file under `{entity.location}` of the input folder, as text, one row per "
            "record with its file and line; patient phones replaced by their keyed hash."
        ),
    )
    def _raw(settings: dg.ResourceParam[Settings], duckdb: DuckDBResource) -> dg.MaterializeResult:
        cfg = settings
        with warehouse_session(duckdb, cfg) as conn:
            report = load_entity(conn, cfg, entity)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": report.rows,
                "files": len(report.files),
                "unreadable_rows": report.malformed,
                "readers": ", ".join(sorted({f.reader for f in report.files})) or "none",
            }
        )

    return _raw


raw_assets = [raw_asset(entity) for entity in ENTITIES]
