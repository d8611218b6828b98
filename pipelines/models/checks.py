"""The invariants a wrong number would break, checked on the tables of every build.

Each check counts what offends it (zero passes) and says what it found. All are blocking:
the Dagster multi-asset that builds a table yields its checks' results, and a failed one
stops everything downstream, so the published warehouse stays the last good one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import duckdb

from pipelines.ingest.entities import ENTITIES, Entity

MART_KEYS = {
    "fct_leads": ("call_id",),
    "fct_primary_patients": ("patient_id",),
    "mart_channel_weekly": ("week_start", "channel"),
    "mart_admin_conversion": ("admin_id",),
    "mart_doctor_clv": ("doctor_id",),
    "mart_missed_calls": ("weekday", "hour"),
    "mart_reactivation": ("patient_id",),
    "mart_channel_attribution": ("week_start", "channel"),
    "mart_clv_forecast": ("dimension", "key", "horizon_weeks"),
    "mart_clv_holdout": ("dimension", "key"),
}
MART_MONEY = {
    "mart_channel_weekly": ("spend", "revenue_to_date"),
    "fct_primary_patients": ("revenue_to_date",),
    "mart_reactivation": ("revenue_to_date",),
    "mart_channel_attribution": ("revenue_first_visit", "revenue_repeat"),
    "mart_clv_forecast": ("revenue", "revenue_low", "revenue_high"),
    "mart_clv_holdout": ("revenue", "actual_revenue"),
    "mart_reactivation_outcome": ("revenue_since",),
}


@dataclass(frozen=True)
class Check:
    table: str
    name: str
    description: str
    sql: str
    """One row: the number of offending rows first, then what to report beside it."""
    metrics: tuple[str, ...]

    def evaluate(self, conn: duckdb.DuckDBPyConnection) -> tuple[bool, dict[str, int]]:
        row = conn.execute(self.sql).fetchall()[0]
        return row[0] == 0, {m: int(v or 0) for m, v in zip(self.metrics, row, strict=True)}


def unique_key(table: str, key: tuple[str, ...]) -> Check:
    columns = ", ".join(key)
    return Check(
        table,
        "unique_key",
        f"({columns}) identifies one row.",
        f"select count(*) - count(distinct ({columns})) from {table}",
        ("duplicate_keys",),
    )


def no_negative_money(table: str, columns: tuple[str, ...]) -> Check:
    return Check(
        table,
        "no_negative_money",
        f"No negative {', '.join(columns)}.",
        f"select count(*) from {table} where {' or '.join(f'{c} < 0' for c in columns)}",
        ("negative_rows",),
    )


def rows_reconcile(entity: Entity) -> Check:
    return Check(
        entity.staging_model,
        "rows_reconcile",
        "Rows read = rows loaded + rows quarantined + verbatim duplicates + parts combined.",
        f"""
        with counts as (
            select
                (select count(*) from {entity.raw_table}) as rows_read,
                (select count(*) from {entity.staging_model}) as rows_loaded,
                (select count(*) from quarantine where entity = '{entity.name}')
                    as rows_quarantined,
                (select rows_duplicate from load_reconciliation
                    where entity = '{entity.name}') as rows_duplicate,
                (select rows_combined from load_reconciliation
                    where entity = '{entity.name}') as rows_combined
        )
        select
            case when rows_duplicate is null then 1
                else abs(rows_read - rows_loaded - rows_quarantined - rows_duplicate
                    - rows_combined) end,
            rows_read, rows_loaded, rows_quarantined, rows_duplicate, rows_combined
        from counts
        """,
        (
            "mismatch",
            "rows_read",
            "rows_loaded",
            "rows_quarantined",
            "rows_duplicate",
            "rows_combined",
        ),
    )


def some_rows_load(entity: Entity) -> Check:
    """An entity whose every row was refused (a setting that rejects every date, a
    column renamed upstream) would publish empty marts over good ones: stop instead."""
    return Check(
        entity.staging_model,
        "some_rows_load",
        "Rows were read, so some must load: an entity entirely quarantined stops the build.",
        f"""
        select
            (rows_read > 0 and rows_loaded = 0)::int, rows_read, rows_loaded
        from load_reconciliation
        where entity = '{entity.name}'
        """,
        ("everything_quarantined", "rows_read", "rows_loaded"),
    )


ATTRIBUTION = Check(
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
    ("mismatches",),
)

SIDE_BY_SIDE = Check(
    "mart_channel_attribution",
    "first_and_last_touch_reconcile",
    "First-touch and last-touch each credit every primary patient once; first-touch agrees "
    "with mart_channel_weekly week by week and channel by channel; first-visit and repeat "
    "revenue add up to the patients' revenue to date.",
    """
    with weekly as (
        select week_start, channel, primary_patients, revenue_to_date
        from mart_channel_weekly
        where primary_patients > 0
    ),

    side_by_side as (
        select
            week_start, channel, primary_first_touch,
            revenue_first_visit + revenue_repeat as revenue
        from mart_channel_attribution
        where primary_first_touch > 0
    ),

    disagreements as (
        select count(*) as rows
        from weekly
        full join side_by_side using (week_start, channel)
        where weekly.primary_patients is distinct from side_by_side.primary_first_touch
            or weekly.revenue_to_date is distinct from side_by_side.revenue
    ),

    totals as (
        select
            (select count(*) from fct_primary_patients) as patients,
            (select coalesce(sum(primary_first_touch), 0) from mart_channel_attribution)
                as first_touch,
            (select coalesce(sum(primary_last_touch), 0) from mart_channel_attribution)
                as last_touch
    )

    select
        disagreements.rows + (totals.first_touch is distinct from totals.patients)::int
            + (totals.last_touch is distinct from totals.patients)::int,
        totals.patients, totals.first_touch, totals.last_touch
    from disagreements cross join totals
    """,
    ("mismatches", "primary_patients", "first_touch", "last_touch"),
)


FORECAST = Check(
    "mart_clv_forecast",
    "forecast_covers_every_patient",
    "Every primary patient known at the forecast's cut-off is forecast once per horizon and "
    "counted once in each dimension (clinic, doctor, channel); every interval is ordered "
    "and P(alive) is a probability. An empty forecast (too few returning patients to fit) "
    "passes: it says so, it does not miscount.",
    """
    with horizons as (
        select count(distinct horizon_weeks) as n from mart_clv_forecast
    ),

    known as (
        select count(*) as n
        from fct_primary_patients
        where first_visit_local::date <= (select forecast_cutoff from int_parameters)
    ),

    per_dimension as (
        select dimension, horizon_weeks, sum(patients) as patients
        from mart_clv_forecast
        group by all
    )

    select
        (select count(*) from per_dimension
            where patients <> (select n from known))
        + (select count(*) from mart_clv_forecast
            where visits_low > visits_high or revenue_low > revenue_high
                or p_alive_mean not between 0 and 1)
        + ((select count(*) from fct_patient_forecast)
            <> (select n from known) * (select n from horizons))::int,
        (select count(*) from fct_patient_forecast)
    """,
    ("mismatches", "patient_rows"),
)


BUDGET = Check(
    "mart_spend_response",
    "budget_shift_keeps_the_budget",
    "The suggested weekly spends add up to today's weekly budget of the channels moved, "
    "and each lies within the weekly spend its channel has had; a channel that cannot "
    "tell is not moved.",
    """
    with moved as (
        select
            count(*) filter (
                where suggested_weekly_spend < spend_min * (1 - 1e-9)
                or suggested_weekly_spend > spend_max * (1 + 1e-9)
            ) as outside,
            count(*) filter (
                where elasticity is null and suggested_weekly_spend is not null
            ) as moved_blind,
            coalesce(sum(suggested_weekly_spend), 0) as suggested
        from mart_spend_response
    )

    select
        moved.outside + moved.moved_blind
        + (abs(moved.suggested - coalesce(shift.weekly_budget, 0))
            > 1e-6 * greatest(1, moved.suggested))::int,
        moved.outside, moved.moved_blind
    from moved
    cross join mart_budget_shift as shift
    """,
    ("mismatches", "outside_the_data", "moved_without_a_curve"),
)


@cache
def checks() -> tuple[Check, ...]:
    return (
        *(unique_key(e.staging_model, e.key) for e in ENTITIES),
        *(rows_reconcile(e) for e in ENTITIES),
        *(some_rows_load(e) for e in ENTITIES if e.required),
        *(no_negative_money(e.staging_model, e.money_columns) for e in ENTITIES if e.money_columns),
        *(unique_key(table, key) for table, key in MART_KEYS.items()),
        *(no_negative_money(table, columns) for table, columns in MART_MONEY.items()),
        ATTRIBUTION,
        SIDE_BY_SIDE,
        FORECAST,
        BUDGET,
    )
