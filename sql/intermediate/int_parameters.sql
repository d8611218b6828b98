-- One row: the "last data day" every window is measured to, and every setting the build
-- used (the `settings` struct, one column per scalar setting of pipelines/settings.py), so
-- marts, the date-range macro and the dashboard's labels read one consistent set.
-- as_of is the setting when given, else the latest local date of any call or completed visit.
with call_days as (
    select max(timezone(getvariable('timezone'), started_at))::date as last_day
    from stg_calltracking__calls
),

visit_days as (
    select max(timezone(getvariable('timezone'), visit_at))::date as last_day
    from stg_mis__visits
    where status = 'completed'
),

final as (
    select
        coalesce(
            getvariable('as_of_setting')::date,
            greatest(call_days.last_day, visit_days.last_day)
        ) as as_of,
        -- one column per setting
        unnest(getvariable('settings')),  -- noqa: AL03
        getvariable('build_date')::date as build_date
    from call_days, visit_days
)

select * from final
