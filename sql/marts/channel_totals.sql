-- channel_totals(first_day, last_day, by_week := false): all channels together, from
-- channel_economics, for the Overview and the digest. Unknown is not zero: spend and the
-- ratios are over the channels whose spend in the period is known; the others are named
-- in unknown_spend. Cost per primary and ROMI count the patients leads brought, not
-- walk-ins ('No call').
create or replace macro channel_totals(first_day, last_day, by_week := false) as table
    with channels as (
        select * from channel_economics(first_day, last_day, by_week := by_week)
    ),

    totals as (
        select
            period_start,
            period_end,
            sum(spend) as spend,
            sum(calls)::bigint as calls,
            sum(missed_calls)::bigint as missed_calls,
            sum(lost_calls)::bigint as lost_calls,
            sum(leads)::bigint as leads,
            sum(primary_patients)::bigint as primary_patients,
            sum(leads) filter (where spend is not null)::bigint as priced_leads,
            sum(primary_patients) filter (
                where spend is not null and channel <> 'No call'
            )::bigint as priced_primary,
            sum(revenue_to_date) filter (
                where spend is not null and channel <> 'No call'
            ) as priced_revenue,
            string_agg(channel, ', ' order by channel) filter (
                where spend is null and channel <> 'No call'
            ) as unknown_spend,
            bool_or(window_open) as window_open
        from channels
        group by period_start, period_end
    ),

    final as (
        select
            *,
            cost_per(spend, priced_leads) as cost_per_lead,
            cost_per(spend, priced_primary) as cost_per_primary,
            romi(priced_revenue, spend) as romi,
            missed_calls / nullif(calls, 0) as missed_rate
        from totals
    )

    select * from final
    order by period_start
