-- Acquisition cost against lifetime value, per channel, over all the data: what a primary
-- patient cost (channel_economics over every day: spend unknown stays unknown, a free
-- channel costs 0 and has no ratio) against what those patients are worth: realised
-- revenue per patient up to the forecast's cut-off plus the forecast's revenue per patient
-- over its longest horizon from there (mart_clv_forecast, first-touch channel, with its
-- interval), both over the patients the forecast knows (first visit by its cut-off), so no
-- day between the cut-off and as_of is counted twice; the ratio of the two with a range
-- whose ends combine both ranges' ends (so at least as sure as either).
-- Payback, realised and predicted kept apart: a channel-week cohort (the spend of a week
-- and the patients its leads converted) has paid back in the first week since the cohort
-- week in which their cumulative completed revenue reached its spend. paid_back_share is
-- the share of the channel's spend in cohorts that have; median_payback_weeks is over
-- those cohorts (recent ones have had no time yet: read it with the share). Predicted:
-- pays_back_within_weeks is 0 when the revenue to date already covers the channel's whole
-- spend, else the shortest forecast horizon within which the known patients' revenue to
-- the cut-off plus the forecast reaches it (NULL: not within the longest, or spend
-- unknown; patients first seen after the cut-off are not counted: conservative).
with economics as (
    select
        channel,
        spend,
        primary_patients,
        cost_per_primary,
        cost_per_primary_low,
        cost_per_primary_high,
        revenue_to_date
    from channel_economics('-infinity'::date, 'infinity'::date)
),

forecast as (
    select
        key as channel,
        horizon_weeks,
        revenue,
        revenue_per_patient,
        revenue_per_patient_low,
        revenue_per_patient_high,
        horizon_weeks = max(horizon_weeks) over () as is_longest
    from mart_clv_forecast
    where dimension = 'channel'
),

known as (
    select
        patients.channel,
        count(distinct patients.patient_id) as patients,
        sum(visits.amount) as revenue
    from fct_primary_patients as patients
    inner join int_completed_visits as visits
        on patients.patient_id = visits.patient_id
    cross join int_parameters as parameters
    where
        patients.first_visit_local::date <= parameters.forecast_cutoff
        and visits.visit_local::date <= parameters.forecast_cutoff
    group by patients.channel
),

payback_predicted as (
    select
        economics.channel,
        case
            when any_value(economics.revenue_to_date) >= any_value(economics.spend) then 0
            else min(forecast.horizon_weeks) filter (
                where known.revenue + forecast.revenue >= economics.spend
            )
        end as pays_back_within_weeks
    from economics
    left join forecast using (channel)
    left join known using (channel)
    where economics.spend > 0
    group by economics.channel
),

cohort_spend as (
    select
        channel,
        week_start,
        spend
    from mart_channel_weekly
    where spend > 0
),

cohort_revenue as (
    select
        leads.channel,
        leads.week_start,
        (visits.visit_local::date - leads.week_start) // 7 as weeks_since,
        sum(visits.amount) as revenue
    from fct_leads as leads
    inner join int_completed_visits as visits
        on leads.patient_id = visits.patient_id
    where leads.converted
    group by all
),

cumulative as (
    select
        *,
        sum(revenue) over (
            partition by channel, week_start order by weeks_since
        ) as revenue_so_far
    from cohort_revenue
),

cohort_payback as (
    select
        cohort_spend.channel,
        cohort_spend.week_start,
        cohort_spend.spend,
        min(cumulative.weeks_since) filter (
            where cumulative.revenue_so_far >= cohort_spend.spend
        ) as payback_weeks
    from cohort_spend
    left join cumulative using (channel, week_start)
    group by all
),

payback_realised as (
    select
        channel,
        count(*) as cohorts,
        sum(spend) filter (where payback_weeks is not null) / sum(spend) as paid_back_share,
        median(payback_weeks) as median_payback_weeks
    from cohort_payback
    group by channel
),

final as (
    select
        economics.channel,
        economics.spend,
        economics.primary_patients,
        economics.cost_per_primary,
        economics.cost_per_primary_low,
        economics.cost_per_primary_high,
        economics.revenue_to_date / nullif(economics.primary_patients, 0)
            as revenue_to_date_per_patient,
        forecast.horizon_weeks as forecast_weeks,
        forecast.revenue_per_patient as forecast_per_patient,
        forecast.revenue_per_patient_low as forecast_per_patient_low,
        forecast.revenue_per_patient_high as forecast_per_patient_high,
        known.revenue / nullif(known.patients, 0) as revenue_to_cutoff_per_patient,
        revenue_to_cutoff_per_patient + forecast_per_patient as value_per_patient,
        revenue_to_cutoff_per_patient + forecast_per_patient_low as value_per_patient_low,
        revenue_to_cutoff_per_patient + forecast_per_patient_high as value_per_patient_high,
        value_per_patient / nullif(economics.cost_per_primary, 0) as ltv_to_cac,
        value_per_patient_low / nullif(economics.cost_per_primary_high, 0) as ltv_to_cac_low,
        value_per_patient_high / nullif(economics.cost_per_primary_low, 0) as ltv_to_cac_high,
        payback_realised.cohorts,
        payback_realised.paid_back_share,
        payback_realised.median_payback_weeks,
        payback_predicted.pays_back_within_weeks
    from economics
    left join forecast on economics.channel = forecast.channel and forecast.is_longest
    left join known on economics.channel = known.channel
    left join payback_realised on economics.channel = payback_realised.channel
    left join payback_predicted on economics.channel = payback_predicted.channel
)

select * from final
order by ltv_to_cac desc nulls last, channel asc
