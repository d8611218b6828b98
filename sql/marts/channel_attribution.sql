-- channel_attribution(first_day, last_day, branch := null, by_week := false): definitions
-- 14 and 15 for any date range (the Channels page) or by ISO week (the mart). Per channel,
-- the primary patients credited first-touch (the contract's figures) and last-touch, each
-- counted on its own call's day ('No call' on the first visit's day); how many of the
-- first-touch ones last-touch credits to another channel; and the revenue of the
-- first-touch patients' first visits vs their later visits.
create or replace macro channel_attribution(
    first_day, last_day, branch := null, by_week := false
) as table
    with patients as (
        select * from int_patient_attribution
    ),

    credits as (
        select
            first_touch_channel as channel,
            first_touch_day as day,
            1 as first_touch,
            0 as last_touch,
            (last_touch_channel <> first_touch_channel)::integer as switched,
            revenue_first_visit,
            revenue_repeat
        from patients
        where branch is null or first_touch_branch_id = branch
        union all
        select
            last_touch_channel as channel,
            last_touch_day as day,
            0 as first_touch,
            1 as last_touch,
            0 as switched,
            0 as revenue_first_visit,
            0 as revenue_repeat
        from patients
        where branch is null or last_touch_branch_id = branch
    ),

    final as (
        select
            case
                when by_week then date_trunc('week', day)::date else first_day::date
            end as period_start,
            channel,
            sum(first_touch)::bigint as primary_first_touch,
            sum(last_touch)::bigint as primary_last_touch,
            sum(switched)::bigint as switched,
            sum(revenue_first_visit)::decimal(38, 2) as revenue_first_visit,
            sum(revenue_repeat)::decimal(38, 2) as revenue_repeat
        from credits
        where day between first_day and last_day
        group by all
    )

    select * from final
    order by period_start, channel
