-- Missed calls by clinic-local hour of week (definition 12): all 168 cells, so a heatmap
-- shows quiet hours as zeros. Recovered and lost: int_missed_calls.
with calls as (
    select * from int_calls
),

missed_calls as (
    select * from int_missed_calls
),

calls_per_cell as (
    select
        isodow(started_local) as weekday,
        hour(started_local) as hour,
        count(*)::bigint as calls
    from calls
    group by all
),

missed_per_cell as (
    select
        isodow(started_local) as weekday,
        hour(started_local) as hour,
        count(*)::bigint as missed,
        count(*) filter (where recovered)::bigint as recovered
    from missed_calls
    group by all
),

cells as (
    select
        weekdays.weekday::integer as weekday,
        hours.hour::integer as hour
    from range(1, 8) as weekdays (weekday)
    cross join range(0, 24) as hours (hour)
),

final as (
    select
        cells.weekday,
        cells.hour,
        coalesce(calls_per_cell.calls, 0) as calls,
        coalesce(missed_per_cell.missed, 0) as missed,
        coalesce(missed_per_cell.missed, 0) / nullif(calls_per_cell.calls, 0) as missed_rate,
        coalesce(missed_per_cell.recovered, 0) as recovered,
        coalesce(missed_per_cell.missed - missed_per_cell.recovered, 0) as lost
    from cells
    left join calls_per_cell using (weekday, hour)
    left join missed_per_cell using (weekday, hour)
)

select * from final
order by weekday, hour
