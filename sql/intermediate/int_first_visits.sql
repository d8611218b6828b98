-- Each patient's first visit: the earliest completed visit (ties: smallest visit_id).
-- Its doctor is the patient's primary doctor; its ISO week is the week the patient is primary.
-- materialized: memory
with completed_visits as (
    select * from int_completed_visits
),

ranked as (
    select
        *,
        row_number() over (partition by patient_id order by visit_at, visit_id) as visit_number
    from completed_visits
),

final as (
    select
        patient_id,
        visit_id as first_visit_id,
        visit_at as first_visit_at,
        visit_local as first_visit_local,
        date_trunc('week', visit_local)::date as week_start,
        doctor_id as primary_doctor_id,
        branch_id
    from ranked
    where visit_number = 1
)

select * from final
