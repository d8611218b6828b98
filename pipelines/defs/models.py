"""The model graph as Dagster assets: one multi-asset per layer (raw, staging, intermediate,
marts), as dagster-dbt does with a dbt project. Every model stays its own asset in the
graph, with its dependencies and its blocking checks, but a layer runs as one step, so a
clinic's build pays Dagster's per-step cost four times, not sixty. A subset (one asset
picked in the UI) builds only what was selected.
"""

from collections.abc import Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import warehouse_session
from pipelines.models.checks import checks_on
from pipelines.models.graph import LAYERS, build, models
from pipelines.settings import Settings


def layer_asset(layer: str) -> dg.AssetsDefinition:
    members = [m for m in models().values() if m.layer == layer]
    layer_checks = checks_on({m.name for m in members})

    @dg.multi_asset(
        name=f"{layer}_models",
        specs=[
            dg.AssetSpec(
                m.name,
                deps=list(m.deps),
                group_name=layer,
                kinds={"duckdb"},
                description=m.description,
                skippable=True,
            )
            for m in members
        ],
        check_specs=[
            dg.AssetCheckSpec(c.name, asset=c.table, blocking=True, description=c.description)
            for c in layer_checks
        ],
        can_subset=True,
    )
    def _layer(
        context: dg.AssetExecutionContext,
        settings: dg.ResourceParam[Settings],
        duckdb: DuckDBResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        selected = {key.to_user_string() for key in context.selected_asset_keys}
        wanted_checks = context.selected_asset_check_keys
        with warehouse_session(duckdb, settings) as conn:
            for model, metadata in build(conn, settings, selected):
                yield dg.MaterializeResult(asset_key=model.name, metadata=metadata)
            for check in layer_checks:
                if dg.AssetCheckKey(dg.AssetKey(check.table), check.name) in wanted_checks:
                    passed, found = check.evaluate(conn)
                    yield dg.AssetCheckResult(
                        asset_key=check.table,
                        check_name=check.name,
                        passed=passed,
                        metadata=found,
                    )

    return _layer


layer_assets = [layer_asset(layer) for layer in LAYERS]
