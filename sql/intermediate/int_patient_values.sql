-- Per primary patient, what their value and loyalty are measured by (definitions 10 and
-- 15): completed revenue to as_of, within the CLV horizon, of the first visit and of every
-- later one; repeat visits within the horizon; whether they returned within the return
-- window; and whether they are old enough for each (mature, can return). Every later
-- completed visit counts, with any doctor.
with primary_patients as (
    select * from int_primary_patients
),

completed_visits as (
    select * from int_completed_visits
),

parameters as (
    select * from int_parameters
),

patient_windows as (
    select
        primary_patients.patient_id,
        primary_patients.primary_doctor_id as doctor_id,
        primary_patients.channel,
        primary_patients.first_visit_id,
        primary_patients.first_visit_at as t0,
        primary_patients.revenue_to_date,
        primary_patients.first_visit_local::date
        <= parameters.as_of - parameters.clv_horizon_days as is_mature,
        primary_patients.first_visit_local::date
        <= parameters.as_of - parameters.return_window_days as can_return,
        parameters.clv_horizon_days,
        parameters.return_window_days
    from primary_patients
    cross join parameters
),

final as (
    select
        patient_windows.patient_id,
        any_value(patient_windows.doctor_id) as doctor_id,
        any_value(patient_windows.channel) as channel,
        any_value(patient_windows.revenue_to_date) as revenue_to_date,
        any_value(patient_windows.is_mature) as is_mature,
        any_value(patient_windows.can_return) as can_return,
        coalesce(sum(completed_visits.amount) filter (
            where completed_visits.visit_at
            < patient_windows.t0 + to_days(patient_windows.clv_horizon_days)
        ), 0) as revenue_horizon,
        coalesce(sum(completed_visits.amount) filter (
            where completed_visits.visit_id = patient_windows.first_visit_id
        ), 0) as revenue_first_visit,
        coalesce(sum(completed_visits.amount) filter (
            where completed_visits.visit_id <> patient_windows.first_visit_id
        ), 0) as revenue_repeat,
        count(completed_visits.visit_id) filter (
            where completed_visits.visit_at > patient_windows.t0
            and completed_visits.visit_at
            < patient_windows.t0 + to_days(patient_windows.clv_horizon_days)
        ) as repeat_visits_horizon,
        count(completed_visits.visit_id) filter (
            where completed_visits.visit_at > patient_windows.t0
            and completed_visits.visit_at
            <= patient_windows.t0 + to_days(patient_windows.return_window_days)
        ) > 0 as returned
    from patient_windows
    left join completed_visits
        on
            patient_windows.patient_id = completed_visits.patient_id
            and patient_windows.t0 <= completed_visits.visit_at
    group by patient_windows.patient_id
)

select * from final
