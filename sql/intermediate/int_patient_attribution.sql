-- Each primary patient credited two ways (definitions 14 and 15): first-touch, the
-- contract's rule (the converting lead of definition 6, or 'No call'), and last-touch,
-- the last target call of a phone the patient holds before their first visit and within
-- attribution_window_days of it (ties: the larger call_id), or 'No call'. As for leads
-- (definition 5), a call from a phone whose holder was already a patient is service, not
-- acquisition, and credits nobody (a parent phoning about their own treatment does not
-- bring the child who later books on that phone). One call may credit two patients: a
-- parent books themself and a child in one call. Each credit
-- counts on its call's clinic-local day and branch ('No call' on the first visit's), and
-- carries the patient's revenue of the first visit and of every later visit.
with primary_patients as (
    select * from int_primary_patients
),

patient_values as (
    select * from int_patient_values
),

parameters as (
    select * from int_parameters
),

lead_calls as (
    select
        call_id,
        started_local,
        branch_id
    from int_calls
),

service_calls as (
    select distinct int_calls.call_id
    from int_calls
    inner join int_patient_phones using (phone_hash)
    inner join int_first_visits using (patient_id)
    where int_first_visits.first_visit_at < int_calls.started_at
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
    anti join service_calls using (call_id)
    where
        int_calls.is_target
        and int_calls.started_at < primary_patients.first_visit_at
        and primary_patients.first_visit_at
        <= int_calls.started_at + to_days(parameters.attribution_window_days)
    qualify row_number() over (
        partition by primary_patients.patient_id
        order by int_calls.started_at desc, int_calls.call_id desc
    ) = 1
),

final as (
    select
        primary_patients.patient_id,
        primary_patients.primary_doctor_id,
        primary_patients.first_visit_at,
        primary_patients.channel as first_touch_channel,
        primary_patients.admin_id as first_touch_admin_id,
        coalesce(
            lead_calls.started_local, primary_patients.first_visit_local
        )::date as first_touch_day,
        coalesce(lead_calls.branch_id, primary_patients.branch_id) as first_touch_branch_id,
        last_touches.call_id as last_touch_call_id,
        coalesce(last_touches.channel, 'No call') as last_touch_channel,
        last_touches.admin_id as last_touch_admin_id,
        coalesce(
            last_touches.started_local, primary_patients.first_visit_local
        )::date as last_touch_day,
        coalesce(last_touches.branch_id, primary_patients.branch_id) as last_touch_branch_id,
        patient_values.revenue_first_visit,
        patient_values.revenue_repeat
    from primary_patients
    inner join patient_values using (patient_id)
    left join lead_calls on primary_patients.lead_call_id = lead_calls.call_id
    left join last_touches using (patient_id)
)

select * from final
