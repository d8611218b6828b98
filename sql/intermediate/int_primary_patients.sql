-- Primary patients (definition 3): first visit, primary doctor, the converting lead (or the
-- channel 'No call' when no lead converted to them), and completed revenue to as_of.
with first_visits as (
    select * from int_first_visits
),

conversions as (
    select * from int_lead_conversions
    where converted
),

revenue as (
    select
        patient_id,
        sum(amount) as revenue_to_date,
        count(*)::bigint as completed_visits
    from int_completed_visits
    group by patient_id
),

final as (
    select
        first_visits.patient_id,
        first_visits.first_visit_id,
        first_visits.first_visit_at,
        first_visits.first_visit_local,
        first_visits.week_start,
        first_visits.primary_doctor_id,
        first_visits.branch_id,
        conversions.call_id as lead_call_id,
        conversions.started_at as lead_started_at,
        coalesce(conversions.channel, 'No call') as channel,
        conversions.admin_id,
        revenue.revenue_to_date,
        revenue.completed_visits
    from first_visits
    left join conversions using (patient_id)
    inner join revenue using (patient_id)
)

select * from final
