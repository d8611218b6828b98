-- Completed visits up to as_of: the only visits that count for revenue, first visits and
-- CLV (definition 2), with their clinic-local time.
-- materialized: memory
with visits as (
    select * from stg_mis__visits
),

parameters as (
    select * from int_parameters
),

localised as (
    select
        visits.visit_id,
        visits.patient_id,
        visits.doctor_id,
        visits.branch_id,
        visits.visit_at,
        timezone(parameters.timezone, visits.visit_at) as visit_local,
        visits.service,
        visits.amount,
        parameters.as_of
    from visits
    cross join parameters
    where visits.status = 'completed'
),

final as (
    select * exclude (as_of)
    from localised
    where visit_local::date <= as_of
)

select * from final
