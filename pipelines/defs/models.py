"""The model graph as Dagster assets: one multi-asset for every model, as dagster-dbt
does with a whole dbt project. Every model stays its own asset in the graph (grouped by
layer: raw, staging, intermediate, marts), with its dependencies and its blocking
checks, but the build runs as one step on one DuckDB database, so a clinic's build
pays Dagster's per-step cost and the session's set-up once, not once per layer; inside
the step the models run a core's worth at a time (pipelines/models/graph.py `build`).

A check runs as soon as the tables it reads are built, and a model only after the
checks on the tables it reads passed; a failed one starts nothing more, the step ends
when what was running has finished, and Dagster fails the run, so nothing is
published. A subset (assets picked in the UI) builds only what was selected. A raw
asset's data version is the digest of its files and of what shaped their rows
(pipelines/ingest/ledger.py), so the graph shows which exports changed since the last
build.
"""

from collections.abc import Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import warehouse_session
from pipelines.models.checks import Check, checks
from pipelines.models.graph import build, models
from pipelines.settings import Settings


def models_asset() -> dg.AssetsDefinition:
    every = list(models().values())

    @dg.multi_asset(
        name="models",
        specs=[
            dg.AssetSpec(
                m.name,
                deps=list(m.deps),
                group_name=m.layer,
                kinds={"duckdb"},
                description=m.description,
                skippable=True,
            )
            for m in every
        ],
        check_specs=[
            dg.AssetCheckSpec(c.name, asset=c.table, blocking=True, description=c.description)
            for c in checks()
        ],
        can_subset=True,
    )
    def _models(
        context: dg.AssetExecutionContext,
        settings: dg.ResourceParam[Settings],
        duckdb: DuckDBResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        selected = {key.to_user_string() for key in context.selected_asset_keys}
        wanted = context.selected_asset_check_keys
        chosen = [c for c in checks() if dg.AssetCheckKey(dg.AssetKey(c.table), c.name) in wanted]
        with warehouse_session(duckdb, settings) as conn:
            for done in build(conn, settings, selected, chosen):
                if isinstance(done.step, Check):
                    yield dg.AssetCheckResult(
                        asset_key=done.step.table,
                        check_name=done.step.name,
                        passed=done.passed,
                        metadata=done.metadata,
                    )
                    continue
                version = done.metadata.pop("data_version", None)
                yield dg.MaterializeResult(
                    asset_key=done.step.name,
                    metadata=done.metadata,
                    data_version=dg.DataVersion(version) if version else None,
                )

    return _models


models_assets = models_asset()
