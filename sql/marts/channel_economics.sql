-- channel_economics(first_day, last_day): definition 8 for any date range, as a table
-- macro stored in the warehouse, so the dashboard and any analyst get the same numbers
-- as the weekly mart: select * from channel_economics(date '2026-07-01', date '2026-09-30').
-- window_open: the range's last day + attribution window is after as_of.
create or replace macro channel_economics(first_day, last_day) as table
    with ranged as (
        select
            channel,
            known_sum(spend) as spend,
            sum(calls)::bigint as calls,
            sum(leads)::bigint as leads,
            sum(primary_patients)::bigint as primary_patients,
            sum(revenue_to_date) as revenue_to_date
        from fct_channel_daily
        where day between first_day and last_day
        group by channel
    ),

    final as (
        select
            ranged.channel,
            ranged.spend,
            ranged.calls,
            ranged.leads,
            ranged.primary_patients,
            cost_per(ranged.spend, ranged.leads) as cost_per_lead,
            cost_per(ranged.spend, ranged.primary_patients) as cost_per_primary,
            ranged.revenue_to_date,
            romi(ranged.revenue_to_date, ranged.spend) as romi,
            last_day::date + int_parameters.attribution_window_days > int_parameters.as_of
                as window_open
        from ranged
        cross join int_parameters
    )

    select * from final
    order by channel
