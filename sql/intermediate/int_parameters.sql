-- One row: the "last data day" every window is measured to, and the windows themselves,
-- stored so that marts and the date-range macro read one consistent set.
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
        getvariable('timezone') as timezone,
        getvariable('currency') as currency,
        getvariable('target_call_min_duration_s')::integer as target_call_min_duration_s,
        getvariable('attribution_window_days')::integer as attribution_window_days,
        getvariable('clv_horizon_days')::integer as clv_horizon_days,
        getvariable('return_window_days')::integer as return_window_days,
        getvariable('reactivation_min_months')::integer as reactivation_min_months,
        getvariable('reactivation_max_months')::integer as reactivation_max_months,
        getvariable('min_plausible_date')::date as min_plausible_date,
        getvariable('max_plausible_amount')::double as max_plausible_amount,
        getvariable('phone_warning_share')::double as phone_warning_share,
        getvariable('build_date')::date as build_date
    from call_days, visit_days
)

select * from final
