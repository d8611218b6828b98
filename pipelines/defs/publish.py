"""Publishing: the finished build becomes the warehouse the dashboard reads."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.build import BuildError
from pipelines.models.graph import models
from pipelines.settings import Settings
from pipelines.warehouse import checkpoint, publish


@dg.asset(group_name="publish", kinds={"duckdb"}, deps=list(models()))
def published_warehouse(
    settings: dg.ResourceParam[Settings], duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """The build file, atomically renamed onto the published warehouse path (a copy of
    it when it must stay or lies on another file system).

    It runs only when every upstream asset and blocking check of the run succeeded, so a
    failed build never replaces the last good warehouse.
    """
    build = Path(duckdb.database)
    if not build.is_file():  # checkpointing it would make an empty database to publish
        raise BuildError(
            f"no build file {build} to publish: materialize the models first, then publish"
        )
    checkpoint(build)
    # the CLI's build file is its run's own (deleted after the run anyway): renamed; the
    # settings' build file (`dagster dev`'s) stays, for a later run of a few selected assets
    publish(build, settings.warehouse_path, move=build != settings.resolved_build_path)
    return dg.MaterializeResult(
        metadata={
            "path": str(settings.warehouse_path),
            "bytes": settings.warehouse_path.stat().st_size,
        }
    )
