-- Completed visits up to as_of: the only visits that count for revenue, first visits and
-- CLV (definition 2), with their clinic-local time.
with visits as (
    select * from stg_mis__visits
),

parameters as (
    select * from int_parameters
),

final as (
    select
        visits.visit_id,
        visits.patient_id,
        visits.doctor_id,
        visits.branch_id,
        visits.visit_at,
        timezone(parameters.timezone, visits.visit_at) as visit_local,
        visits.service,
        visits.amount
    from visits
    cross join parameters
    where
        visits.status = 'completed'
        and timezone(parameters.timezone, visits.visit_at)::date <= parameters.as_of
)

select * from final
