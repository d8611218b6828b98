-- Each primary patient's last touch (definition 14): the last target call of a phone the
-- patient holds before their first visit and within attribution_window_days of it
-- (ties: the larger call_id); no row when there is none. As for leads (definition 5), a
-- call from a phone whose holder was already a patient is service, not acquisition, and
-- credits nobody (int_service_calls). A model of its own that reads the first visits,
-- not the primary patients (the same patients: each first visit's patient is a primary
-- patient), so that it runs beside the leads, their conversions and the patients' values
-- instead of after them: int_patient_attribution joins it to them.
with primary_patients as (
    select * from int_first_visits
),

parameters as (
    select * from int_parameters
),

last_touches as (
    select
        primary_patients.patient_id,
        int_calls.call_id,
        int_calls.channel,
        int_calls.admin_id,
        int_calls.started_local,
        int_calls.branch_id
    from primary_patients
    cross join parameters
    inner join int_patient_phones using (patient_id)
    inner join int_calls using (phone_hash)
    anti join int_service_calls using (call_id)
    where
        int_calls.is_target
        and int_calls.started_at < primary_patients.first_visit_at
        and primary_patients.first_visit_at
        <= int_calls.started_at + to_days(parameters.attribution_window_days)
    qualify row_number() over (
        partition by primary_patients.patient_id
        order by int_calls.started_at desc, int_calls.call_id desc
    ) = 1
)

select
    patient_id,
    call_id,
    channel,
    admin_id,
    started_local,
    branch_id
from last_touches
