-- channel_attribution(first_day, last_day, branch := null, by_week := false): definitions
-- 14 and 15 for any date range (the Channels page) or by ISO week (the mart). Per channel,
-- the primary patients credited first-touch (the contract's figures) and last-touch, each
-- counted on its own call's day ('No call' on the first visit's day); how many of the
-- first-touch ones last-touch credits to another channel; and the revenue of the
-- first-touch patients' first visits vs their later visits. It sums the daily credits of
-- fct_channel_attribution_daily, so a date range costs the same whatever the calls.
create or replace macro channel_attribution(
    first_day, last_day, branch := null, by_week := false
) as table
    with daily as (
        select *
        from fct_channel_attribution_daily
        where
            day between first_day and last_day
            and (branch is null or branch_id = branch)
    ),

    final as (
        select
            case
                when by_week then date_trunc('week', day)::date else first_day::date
            end as period_start,
            channel,
            sum(primary_first_touch)::bigint as primary_first_touch,
            sum(primary_last_touch)::bigint as primary_last_touch,
            sum(switched)::bigint as switched,
            sum(revenue_first_visit)::decimal(38, 2) as revenue_first_visit,
            sum(revenue_repeat)::decimal(38, 2) as revenue_repeat
        from daily
        group by all
    )

    select * from final
    order by period_start, channel
