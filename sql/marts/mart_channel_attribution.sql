-- Channel × ISO week (definitions 14 and 15): first-touch and last-touch primary patients
-- side by side, how many change channel between the two, and the first-touch patients'
-- revenue of first visits vs later visits; from channel_attribution, over every day.
with weekly as (
    select * from channel_attribution('-infinity'::date, 'infinity'::date, by_week := true)
),

final as (
    select
        period_start as week_start,
        channel,
        primary_first_touch,
        primary_last_touch,
        switched,
        revenue_first_visit,
        revenue_repeat
    from weekly
)

select * from final
order by week_start, channel
