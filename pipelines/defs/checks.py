"""Asset checks on the staging tables: the invariants a wrong number would break.

All are blocking: when one fails, nothing downstream runs in that build and the
published warehouse stays the previous good one.
"""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import warehouse_session
from pipelines.entities import ENTITIES, Entity
from pipelines.settings import Settings


def _scalar_rows(settings: dg.ResourceParam[Settings], duckdb: DuckDBResource, sql: str) -> tuple:
    with warehouse_session(duckdb, settings) as conn:
        return conn.execute(sql).fetchall()[0]


def zero_rows_check(
    entity: Entity, name: str, description: str, sql: str, metric: str
) -> dg.AssetChecksDefinition:
    """A check that passes when `sql` counts no offending rows."""

    @dg.asset_check(asset=entity.staging_model, name=name, blocking=True, description=description)
    def _check(settings: dg.ResourceParam[Settings], duckdb: DuckDBResource) -> dg.AssetCheckResult:
        (offending,) = _scalar_rows(settings, duckdb, sql)
        return dg.AssetCheckResult(passed=offending == 0, metadata={metric: int(offending)})

    return _check


def unique_key_check(entity: Entity) -> dg.AssetChecksDefinition:
    key = ", ".join(entity.key)
    return zero_rows_check(
        entity,
        "unique_key",
        f"({key}) identifies one row.",
        f"select count(*) - count(distinct ({key})) from {entity.staging_model}",
        "duplicate_keys",
    )


def no_negative_money_check(entity: Entity) -> dg.AssetChecksDefinition:
    condition = " or ".join(f"{c} < 0" for c in entity.money_columns)
    return zero_rows_check(
        entity,
        "no_negative_money",
        f"No negative {', '.join(entity.money_columns)}.",
        f"select count(*) from {entity.staging_model} where {condition}",
        "negative_rows",
    )


def reconciliation_check(entity: Entity) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=entity.staging_model,
        name="rows_reconcile",
        blocking=True,
        description="Rows read = rows loaded + rows quarantined + verbatim duplicates.",
    )
    def _check(settings: dg.ResourceParam[Settings], duckdb: DuckDBResource) -> dg.AssetCheckResult:
        read, loaded, quarantined, duplicate = _scalar_rows(
            settings,
            duckdb,
            f"""
            select
                (select count(*) from {entity.raw_table}),
                (select count(*) from {entity.staging_model}),
                (select count(*) from quarantine where entity = '{entity.name}'),
                (select rows_duplicate from load_reconciliation where entity = '{entity.name}')
            """,
        )
        return dg.AssetCheckResult(
            passed=duplicate is not None and read == loaded + quarantined + duplicate,
            metadata={
                "rows_read": int(read),
                "rows_loaded": int(loaded),
                "rows_quarantined": int(quarantined),
                "rows_duplicate": int(duplicate or 0),
            },
        )

    return _check


staging_checks = [
    *(unique_key_check(e) for e in ENTITIES),
    *(reconciliation_check(e) for e in ENTITIES),
    *(no_negative_money_check(e) for e in ENTITIES if e.money_columns),
]
