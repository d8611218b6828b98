"""Publishing: the finished build becomes the warehouse the dashboard reads."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.models import mart_admin_conversion, sql_model_assets, staging_assets
from pipelines.settings import Settings
from pipelines.warehouse import checkpoint, publish


@dg.asset(
    group_name="publish",
    kinds={"duckdb"},
    deps=[a.key for a in (*staging_assets, *sql_model_assets, mart_admin_conversion)],
)
def published_warehouse(
    settings: dg.ResourceParam[Settings], duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """The build file, copied and atomically renamed onto the published warehouse path.

    It runs only when every upstream asset and blocking check of the run succeeded, so a
    failed build never replaces the last good warehouse.
    """
    cfg = settings
    build = Path(duckdb.database)
    checkpoint(build)
    publish(build, cfg.warehouse_path)
    return dg.MaterializeResult(
        metadata={
            "path": str(cfg.warehouse_path),
            "bytes": cfg.warehouse_path.stat().st_size,
        }
    )
