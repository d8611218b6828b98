-- Channel economics per clinic-local day and branch, the one source of the weekly mart,
-- the date-range macro and the dashboard's branch filter. Spend counts on its date (with
-- no branch: exports do not split it), calls and leads on the call's day, converted leads
-- (and their patients' revenue to date) on the lead call's day, and patients with no
-- converting lead ('No call') on their first visit's day. Lost calls (int_missed_calls)
-- count on the missed call's day.
-- Unknown is not zero (definition 8): a row's spend is NULL on a day outside the dates
-- its channel's spend exports cover (first to last spend date), unless channels.csv
-- declares the channel free (then 0 everywhere). Any aggregate over a NULL is unknown.
with spend as (
    select
        int_channel_map.channel,
        stg_ads__ad_spend.date as day,
        null::varchar as branch_id,
        sum(stg_ads__ad_spend.cost) as spend
    from stg_ads__ad_spend
    inner join int_channel_map using (source, medium, campaign)
    cross join int_parameters
    where stg_ads__ad_spend.date <= int_parameters.as_of
    group by all
),

calls as (
    select
        int_calls.channel,
        int_calls.started_local::date as day,
        int_calls.branch_id,
        count(*)::bigint as calls,
        count(*) filter (where not int_calls.answered)::bigint as missed_calls,
        count(*) filter (where not int_missed_calls.recovered)::bigint as lost_calls
    from int_calls
    left join int_missed_calls using (call_id)
    group by all
),

leads as (
    select
        int_lead_conversions.channel,
        int_lead_conversions.started_local::date as day,
        int_lead_conversions.branch_id,
        count(*)::bigint as leads,
        count(*) filter (where int_lead_conversions.converted)::bigint as primary_patients,
        coalesce(sum(int_primary_patients.revenue_to_date), 0) as revenue_to_date
    from int_lead_conversions
    left join int_primary_patients
        on int_lead_conversions.call_id = int_primary_patients.lead_call_id
    group by all
),

no_call_patients as (
    select
        channel,
        first_visit_local::date as day,
        branch_id,
        count(*)::bigint as primary_patients,
        sum(revenue_to_date) as revenue_to_date
    from int_primary_patients
    where lead_call_id is null
    group by all
),

facts as (
    select
        channel,
        day,
        branch_id,
        spend,
        0 as calls,
        0 as missed_calls,
        0 as lost_calls,
        0 as leads,
        0 as primary_patients,
        0 as revenue_to_date
    from spend
    union all
    select
        channel,
        day,
        branch_id,
        0 as spend,
        calls,
        missed_calls,
        lost_calls,
        0 as leads,
        0 as primary_patients,
        0 as revenue_to_date
    from calls
    union all
    select
        channel,
        day,
        branch_id,
        0 as spend,
        0 as calls,
        0 as missed_calls,
        0 as lost_calls,
        leads,
        primary_patients,
        revenue_to_date
    from leads
    union all
    select
        channel,
        day,
        branch_id,
        0 as spend,
        0 as calls,
        0 as missed_calls,
        0 as lost_calls,
        0 as leads,
        primary_patients,
        revenue_to_date
    from no_call_patients
),

coverage as (
    select
        channel,
        min(day) as first_spend_day,
        max(day) as last_spend_day
    from spend
    group by channel
),

free_channels as (
    select channel
    from stg_clinic__channel_rules
    group by channel
    having bool_or(free)
),

final as (
    select
        facts.channel,
        facts.day,
        facts.branch_id,
        case
            when free_channels.channel is not null then 0
            when facts.day between coverage.first_spend_day and coverage.last_spend_day
                then sum(facts.spend)
        end::decimal(38, 2) as spend,
        sum(facts.calls)::bigint as calls,
        sum(facts.missed_calls)::bigint as missed_calls,
        sum(facts.lost_calls)::bigint as lost_calls,
        sum(facts.leads)::bigint as leads,
        sum(facts.primary_patients)::bigint as primary_patients,
        sum(facts.revenue_to_date)::decimal(38, 2) as revenue_to_date
    from facts
    left join coverage using (channel)
    left join free_channels using (channel)
    group by
        facts.channel, facts.day, facts.branch_id, free_channels.channel,
        coverage.first_spend_day, coverage.last_spend_day
)

select * from final
