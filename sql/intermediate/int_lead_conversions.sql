-- Every lead with its conversion (definition 6). A lead converts to the patient
-- holding its phone whose first visit comes first in (started_at, started_at + window]
-- (ties: smallest patient_id); a patient is credited to the earliest lead that converts
-- to them, and a later lead pointing at the same patient does not convert.
with leads as (
    select * from int_leads
),

parameters as (
    select * from int_parameters
),

candidates as (
    select
        leads.call_id,
        leads.started_at,
        int_first_visits.patient_id,
        int_first_visits.first_visit_at
    from leads
    cross join parameters
    inner join int_patient_phones using (phone_hash)
    inner join int_first_visits using (patient_id)
    where
        int_first_visits.first_visit_at > leads.started_at
        and int_first_visits.first_visit_at
        <= leads.started_at + to_days(parameters.attribution_window_days)
),

first_patient_per_lead as (
    select *
    from candidates
    qualify row_number() over (partition by call_id order by first_visit_at, patient_id) = 1
),

earliest_lead_per_patient as (
    select *
    from first_patient_per_lead
    qualify row_number() over (partition by patient_id order by started_at, call_id) = 1
),

final as (
    select
        leads.call_id,
        leads.phone_hash,
        leads.started_at,
        leads.week_start,
        leads.channel,
        leads.admin_id,
        earliest_lead_per_patient.patient_id is not null as converted,
        earliest_lead_per_patient.patient_id,
        earliest_lead_per_patient.first_visit_at,
        leads.started_local,
        leads.branch_id
    from leads
    left join earliest_lead_per_patient using (call_id)
)

select * from final
