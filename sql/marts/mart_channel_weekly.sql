-- Channel × ISO week (definition 8): channel_economics by week, over every day the data
-- holds: a row for every week a channel had spend, calls, leads or primary patients.
with weekly as (
    select * from channel_economics('-infinity'::date, 'infinity'::date, by_week := true)
),

final as (
    select
        period_start as week_start,
        channel,
        spend,
        calls,
        missed_calls,
        leads,
        primary_patients,
        cost_per_lead,
        cost_per_primary,
        cost_per_primary_low,
        cost_per_primary_high,
        revenue_to_date,
        romi,
        window_open
    from weekly
)

select * from final
order by week_start, channel
