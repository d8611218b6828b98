"""Model assets: staging (each through the gate), intermediate and marts."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import warehouse_session
from pipelines.ingest.entities import ENTITIES, Entity
from pipelines.ingest.staging import run_staging_model
from pipelines.models.admin_ranking import materialize_admin_conversion
from pipelines.models.graph import PYTHON_MODELS, SqlModel, discover, materialize
from pipelines.settings import Settings


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


def sql_model_asset(model: SqlModel) -> dg.AssetsDefinition:
    first_line = model.sql.strip().splitlines()[0].lstrip("- ").strip()

    @dg.asset(
        name=model.name,
        group_name=model.layer,
        kinds={"duckdb"},
        deps=list(model.deps),
        description=f"{first_line} (sql/{model.layer}/{model.name}.sql)",
    )
    def _model(
        settings: dg.ResourceParam[Settings], duckdb: DuckDBResource
    ) -> dg.MaterializeResult:
        with warehouse_session(duckdb, settings) as conn:
            rows = materialize(conn, model)
        return dg.MaterializeResult(metadata={} if rows is None else {"dagster/row_count": rows})

    return _model


sql_model_assets = [sql_model_asset(model) for model in discover()]


@dg.asset(
    group_name="marts",
    kinds={"duckdb", "polars"},
    deps=list(PYTHON_MODELS["mart_admin_conversion"]),
)
def mart_admin_conversion(
    settings: dg.ResourceParam[Settings], duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Administrators ranked by the posterior mean of an empirical-Bayes beta-binomial,
    with 90% credible intervals and the raw rate beside it (pipelines/admin_ranking.py)."""
    with warehouse_session(duckdb, settings) as conn:
        ranked = materialize_admin_conversion(conn)
    alpha, beta = (ranked["prior_alpha"][0], ranked["prior_beta"][0]) if ranked.height else (0, 0)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": ranked.height,
            "prior_alpha": float(alpha),
            "prior_beta": float(beta),
        }
    )
