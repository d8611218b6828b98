-- Each primary patient credited two ways (definitions 14 and 15): first-touch, the
-- contract's rule (the converting lead of definition 6, or 'No call'), and last-touch,
-- the last target call of a phone the patient holds before their first visit, within
-- attribution_window_days and not a service call (int_last_touches), or 'No call'. One
-- call may credit two patients: a parent books themself and a child in one call. Each
-- credit counts on its call's clinic-local day and branch ('No call' on the first
-- visit's), and carries the patient's revenue of the first visit and of every later visit.
-- materialized: view
with primary_patients as (
    select * from int_primary_patients
),

patient_values as (
    select * from int_patient_values
),

lead_calls as (
    select
        call_id,
        started_local,
        branch_id
    from int_calls
),

last_touches as (
    select * from int_last_touches
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
