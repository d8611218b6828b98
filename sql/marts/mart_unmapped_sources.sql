-- The source/medium pairs that no rule of channels.csv maps, so their calls and spend fall
-- to the channel 'Other': for the data-quality page, so a manager can add the rules
-- (CallRail's display names are mapped already: pipelines/ingest/formats/callrail.yaml).
with calls as (
    select
        stg_calltracking__calls.source,
        stg_calltracking__calls.medium,
        count(*)::bigint as calls
    from stg_calltracking__calls
    inner join int_channel_map using (source, medium, campaign)
    where int_channel_map.channel = 'Other'
    group by all
),

spend as (
    select
        stg_ads__ad_spend.source,
        stg_ads__ad_spend.medium,
        count(*)::bigint as spend_rows,
        sum(stg_ads__ad_spend.cost) as spend
    from stg_ads__ad_spend
    inner join int_channel_map using (source, medium, campaign)
    where int_channel_map.channel = 'Other'
    group by all
),

final as (
    select
        source,
        medium,
        coalesce(calls.calls, 0) as calls,
        coalesce(spend.spend_rows, 0) as spend_rows,
        spend.spend
    from calls
    full outer join spend using (source, medium)
)

select * from final
order by calls desc, spend_rows desc, source asc, medium asc
