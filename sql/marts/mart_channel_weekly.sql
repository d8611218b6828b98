-- Channel × ISO week (definition 8): a row for every week a channel had spend, calls, leads
-- or primary patients. Spend is NULL (unknown) when any of the week's days with activity
-- lies outside the channel's spend data, and so are the ratios built on it; ratios are
-- NULL when the divisor is 0, too. A week is window_open while
-- leads of its last day can still convert (its Sunday + attribution window is after as_of).
with daily as (
    select * from fct_channel_daily
),

parameters as (
    select * from int_parameters
),

weekly as (
    select
        date_trunc('week', day)::date as week_start,
        channel,
        known_sum(spend) as spend,
        sum(calls)::bigint as calls,
        sum(missed_calls)::bigint as missed_calls,
        sum(leads)::bigint as leads,
        sum(primary_patients)::bigint as primary_patients,
        sum(revenue_to_date) as revenue_to_date
    from daily
    group by all
),

final as (
    select
        weekly.week_start,
        weekly.channel,
        weekly.spend,
        weekly.calls,
        weekly.missed_calls,
        weekly.leads,
        weekly.primary_patients,
        cost_per(weekly.spend, weekly.leads) as cost_per_lead,
        cost_per(weekly.spend, weekly.primary_patients) as cost_per_primary,
        weekly.revenue_to_date,
        romi(weekly.revenue_to_date, weekly.spend) as romi,
        weekly.week_start + 6 + parameters.attribution_window_days > parameters.as_of
            as window_open
    from weekly
    cross join parameters
)

select * from final
order by week_start, channel
