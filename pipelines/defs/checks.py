"""Asset checks on the staging tables: the invariants a wrong number would break.

All are blocking: when one fails, nothing downstream runs in that build and the
published warehouse stays the previous good one.
"""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import warehouse_session
from pipelines.ingest.entities import ENTITIES, Entity
from pipelines.settings import Settings


def _scalar_rows(settings: dg.ResourceParam[Settings], duckdb: DuckDBResource, sql: str) -> tuple:
    with warehouse_session(duckdb, settings) as conn:
        return conn.execute(sql).fetchall()[0]


def zero_rows_check(
    asset: str,
    name: str,
    description: str,
    sql: str,
    metric: str,
    additional_deps: tuple[str, ...] = (),
) -> dg.AssetChecksDefinition:
    """A check that passes when `sql` counts no offending rows."""

    @dg.asset_check(
        asset=asset,
        name=name,
        blocking=True,
        description=description,
        additional_deps=list(additional_deps),
    )
    def _check(settings: dg.ResourceParam[Settings], duckdb: DuckDBResource) -> dg.AssetCheckResult:
        (offending,) = _scalar_rows(settings, duckdb, sql)
        return dg.AssetCheckResult(passed=offending == 0, metadata={metric: int(offending)})

    return _check


def unique_key_check(table: str, key_columns: tuple[str, ...]) -> dg.AssetChecksDefinition:
    key = ", ".join(key_columns)
    return zero_rows_check(
        table,
        "unique_key",
        f"({key}) identifies one row.",
        f"select count(*) - count(distinct ({key})) from {table}",
        "duplicate_keys",
    )


def no_negative_money_check(table: str, columns: tuple[str, ...]) -> dg.AssetChecksDefinition:
    condition = " or ".join(f"{c} < 0" for c in columns)
    return zero_rows_check(
        table,
        "no_negative_money",
        f"No negative {', '.join(columns)}.",
        f"select count(*) from {table} where {condition}",
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


MART_KEYS = {
    "fct_leads": ("call_id",),
    "fct_primary_patients": ("patient_id",),
    "mart_channel_weekly": ("week_start", "channel"),
    "mart_admin_conversion": ("admin_id",),
    "mart_doctor_clv": ("doctor_id",),
    "mart_missed_calls": ("weekday", "hour"),
    "mart_reactivation": ("patient_id",),
}
MART_MONEY = {
    "mart_channel_weekly": ("spend", "revenue_to_date"),
    "fct_primary_patients": ("revenue_to_date",),
    "mart_reactivation": ("revenue_to_date",),
}

attribution_check = zero_rows_check(
    "mart_admin_conversion",
    "attribution_reconciles",
    "Converted leads = primary patients credited to a lead = the administrators' and the "
    "channels' primary patients (outside 'No call'); each patient credited once.",
    """
    with totals as (
        select
            (select count(*) from fct_leads where converted) as converted_leads,
            (select count(*) from fct_primary_patients where lead_call_id is not null)
                as credited_patients,
            (select count(distinct patient_id) from fct_leads where converted)
                as distinct_patients,
            (select coalesce(sum(primary_patients), 0) from mart_admin_conversion)
                + (select count(*) from fct_leads where converted and admin_id is null)
                as by_admin,
            (select coalesce(sum(primary_patients), 0) from mart_channel_weekly
                where channel <> 'No call') as by_channel
    )
    select (converted_leads <> credited_patients)::int + (converted_leads <> distinct_patients)::int
        + (converted_leads <> by_admin)::int + (converted_leads <> by_channel)::int
    from totals
    """,
    "mismatches",
    additional_deps=("fct_leads", "fct_primary_patients", "mart_channel_weekly"),
)

staging_checks = [
    *(unique_key_check(e.staging_model, e.key) for e in ENTITIES),
    *(reconciliation_check(e) for e in ENTITIES),
    *(
        no_negative_money_check(e.staging_model, e.money_columns)
        for e in ENTITIES
        if e.money_columns
    ),
]
mart_checks = [
    *(unique_key_check(table, key) for table, key in MART_KEYS.items()),
    *(no_negative_money_check(table, columns) for table, columns in MART_MONEY.items()),
    attribution_check,
]
