-- Every (source, medium, campaign) seen in calls or spend, mapped to its channel by the
-- ordered glob rules of channels.csv: the first matching rule wins, no match is 'Other'.
-- Matching the few distinct combinations, not every call, keeps this cheap at any volume.
with combinations as (
    select distinct
        source,
        medium,
        campaign
    from stg_calltracking__calls
    union
    select distinct
        source,
        medium,
        campaign
    from stg_ads__ad_spend
),

rules as (
    select * from stg_clinic__channel_rules
),

first_matches as (
    select
        combinations.source,
        combinations.medium,
        combinations.campaign,
        arg_min(rules.channel, rules.rule_order) as channel
    from combinations
    inner join rules
        on
            lower(combinations.source) glob rules.source_pattern
            and lower(combinations.medium) glob rules.medium_pattern
            and lower(combinations.campaign) glob rules.campaign_pattern
    group by all
),

final as (
    select
        combinations.source,
        combinations.medium,
        combinations.campaign,
        coalesce(first_matches.channel, 'Other') as channel
    from combinations
    left join first_matches using (source, medium, campaign)
)

select * from final
