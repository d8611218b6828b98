-- Channel economics per clinic-local day and branch, the one source of the weekly mart,
-- the date-range macro and the dashboard's branch filter. Spend counts on its date (with
-- no branch: exports do not split it), calls and leads on the call's day, converted leads
-- (and their patients' revenue to date) on the lead call's day, and patients with no
-- converting lead ('No call') on their first visit's day.
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
        channel,
        started_local::date as day,
        branch_id,
        count(*)::bigint as calls,
        count(*) filter (where not answered)::bigint as missed_calls
    from int_calls
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
        on int_primary_patients.lead_call_id = int_lead_conversions.call_id
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
    select channel, day, branch_id, spend, 0 as calls, 0 as missed_calls, 0 as leads,
        0 as primary_patients, 0 as revenue_to_date
    from spend
    union all
    select channel, day, branch_id, 0, calls, missed_calls, 0, 0, 0 from calls
    union all
    select channel, day, branch_id, 0, 0, 0, leads, primary_patients, revenue_to_date
    from leads
    union all
    select channel, day, branch_id, 0, 0, 0, 0, primary_patients, revenue_to_date
    from no_call_patients
),

final as (
    select
        channel,
        day,
        branch_id,
        sum(spend)::decimal(18, 2) as spend,
        sum(calls)::bigint as calls,
        sum(missed_calls)::bigint as missed_calls,
        sum(leads)::bigint as leads,
        sum(primary_patients)::bigint as primary_patients,
        sum(revenue_to_date)::decimal(18, 2) as revenue_to_date
    from facts
    group by channel, day, branch_id
)

select * from final
