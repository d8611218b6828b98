-- One row: the "last data day" every window is measured to, and every setting the build
-- used (the `settings` struct, one column per scalar setting of pipelines/settings.py), so
-- marts, the date-range macro and the dashboard's labels read one consistent set.
-- as_of is the setting when given, else the latest local date of any call or completed visit;
-- forecast_cutoff is the day the forecast is fitted to (setting forecast_refit).
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
        -- the forecast's cut-off: as_of, or the end of the last complete month by then
        -- (as_of itself when it is a month's last day)
        case getvariable('forecast_refit')
            when 'every_build' then as_of
            else date_trunc('month', as_of + 1)::date - 1
        end as forecast_cutoff,
        -- one column per setting
        unnest(getvariable('settings')),  -- noqa: AL03
        getvariable('build_date')::date as build_date
    from call_days, visit_days
)

select * from final
