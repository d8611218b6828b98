-- First-touch and last-touch credits per clinic-local day, channel and branch (definitions
-- 14 and 15), the one source of the channel_attribution macro, so that the Channels page
-- sums a few thousand days instead of every primary patient. Each credit counts on its own
-- call's day and branch ('No call' on the first visit's day): a first-touch row carries
-- how many of its patients last-touch credits to another channel and their revenue of
-- first and later visits; a last-touch row only its count.
with patients as (
    select * from int_patient_attribution
),

first_touch as (
    select
        first_touch_channel as channel,
        first_touch_day as day,
        first_touch_branch_id as branch_id,
        count(*)::bigint as primary_first_touch,
        0 as primary_last_touch,
        sum((last_touch_channel <> first_touch_channel)::integer) as switched,
        sum(revenue_first_visit) as revenue_first_visit,
        sum(revenue_repeat) as revenue_repeat
    from patients
    group by all
),

last_touch as (
    select
        last_touch_channel as channel,
        last_touch_day as day,
        last_touch_branch_id as branch_id,
        0 as primary_first_touch,
        count(*)::bigint as primary_last_touch,
        0 as switched,
        0 as revenue_first_visit,
        0 as revenue_repeat
    from patients
    group by all
),

credits as (
    select * from first_touch
    union all
    select * from last_touch
),

final as (
    select
        channel,
        day,
        branch_id,
        sum(primary_first_touch)::bigint as primary_first_touch,
        sum(primary_last_touch)::bigint as primary_last_touch,
        sum(switched)::bigint as switched,
        sum(revenue_first_visit)::decimal(38, 2) as revenue_first_visit,
        sum(revenue_repeat)::decimal(38, 2) as revenue_repeat
    from credits
    group by channel, day, branch_id
)

select * from final
