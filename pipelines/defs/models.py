"""Staging layer: the SQL models of `sql/staging/`, each passed through the gate."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import warehouse_session
from pipelines.entities import ENTITIES, Entity
from pipelines.settings import Settings
from pipelines.staging import run_staging_model


def staging_asset(entity: Entity) -> dg.AssetsDefinition:
    @dg.asset(
        name=entity.staging_model,
        group_name="staging",
        kinds={"duckdb"},
        deps=[entity.raw_table],
        description=(
            f"{entity.name}: typed and validated (sql/staging/{entity.staging_model}.sql), "
            "exact repeats dropped, superseded versions and unreadable rows sent to "
            "`quarantine`, counts written to `load_reconciliation`."
        ),
    )
    def _staging(
        settings: dg.ResourceParam[Settings], duckdb: DuckDBResource
    ) -> dg.MaterializeResult:
        with warehouse_session(duckdb, settings) as conn:
            counts = run_staging_model(conn, entity)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": counts.rows_loaded,
                "rows_read": counts.rows_read,
                "rows_quarantined": counts.rows_quarantined,
                "rows_duplicate": counts.rows_duplicate,
            }
        )

    return _staging


staging_assets = [staging_asset(entity) for entity in ENTITIES]
