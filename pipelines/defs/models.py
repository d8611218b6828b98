"""The model graph as Dagster assets: one multi-asset for every model, as dagster-dbt
does with a whole dbt project. Every model stays its own asset in the graph (grouped by
layer: raw, staging, intermediate, marts), with its dependencies and its blocking
checks, but the build runs as one step on one DuckDB connection, so a clinic's build
pays Dagster's per-step cost and the session's set-up once, not once per layer.

The checks of a layer run as soon as its last selected model is built; a failed one
stops the step there, before anything downstream reads the table it found wrong, and
Dagster fails the run, so nothing is published. A subset (assets picked in the UI)
builds only what was selected, in the same order. A raw asset's data version is the
digest of its files and of what shaped their rows (pipelines/ingest/ledger.py), so the
graph shows which exports changed since the last build.
"""

from collections.abc import Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import warehouse_session
from pipelines.models.checks import checks_on
from pipelines.models.graph import LAYERS, build, models
from pipelines.settings import Settings


def models_asset() -> dg.AssetsDefinition:
    every = list(models().values())
    checks = {layer: checks_on({m.name for m in every if m.layer == layer}) for layer in LAYERS}

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
            for layer in LAYERS
            for c in checks[layer]
        ],
        can_subset=True,
    )
    def _models(
        context: dg.AssetExecutionContext,
        settings: dg.ResourceParam[Settings],
        duckdb: DuckDBResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        selected = {key.to_user_string() for key in context.selected_asset_keys}
        wanted_checks = context.selected_asset_check_keys
        with warehouse_session(duckdb, settings) as conn:
            for layer in LAYERS:
                members = {m.name for m in every if m.layer == layer} & selected
                for model, metadata in build(conn, settings, members):
                    version = metadata.pop("data_version", None)
                    yield dg.MaterializeResult(
                        asset_key=model.name,
                        metadata=metadata,
                        data_version=dg.DataVersion(version) if version else None,
                    )
                passed = True
                for check in checks[layer]:
                    if dg.AssetCheckKey(dg.AssetKey(check.table), check.name) in wanted_checks:
                        ok, found = check.evaluate(conn)
                        passed &= ok
                        yield dg.AssetCheckResult(
                            asset_key=check.table, check_name=check.name, passed=ok, metadata=found
                        )
                if not passed:
                    return

    return _models


models_assets = models_asset()
