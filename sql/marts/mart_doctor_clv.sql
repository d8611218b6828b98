-- Per primary doctor (definitions 10 and 11): the value of the patients whose first visit
-- was with them, counting every later completed visit with any doctor, against the
-- satisfaction surveys of the doctor's own visits.
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

patient_values as (
    select
        patient_windows.patient_id,
        any_value(patient_windows.doctor_id) as doctor_id,
        any_value(patient_windows.revenue_to_date) as revenue_to_date,
        any_value(patient_windows.is_mature) as is_mature,
        any_value(patient_windows.can_return) as can_return,
        coalesce(sum(completed_visits.amount) filter (
            where completed_visits.visit_at
            < patient_windows.t0 + to_days(patient_windows.clv_horizon_days)
        ), 0) as revenue_horizon,
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
),

doctor_values as (
    select
        doctor_id,
        count(*)::bigint as primary_patients,
        avg(revenue_to_date) as clv_to_date,
        avg(revenue_horizon) filter (where is_mature) as clv_365,
        count(*) filter (where is_mature)::bigint as clv_365_patients,
        avg(repeat_visits_horizon) filter (where is_mature) as repeat_visits_per_primary,
        avg(returned::integer) filter (where can_return) as return_rate
    from patient_values
    group by doctor_id
),

doctor_surveys as (
    select
        visits.doctor_id,
        count(*)::bigint as surveys,
        avg(surveys.score) as score_mean,
        100.0 * (
            count(*) filter (where surveys.score >= 9)
            - count(*) filter (where surveys.score <= 6)
        ) / count(*
        ) as nps
    from stg_surveys__surveys as surveys
    inner join stg_mis__visits as visits using (visit_id)
    group by visits.doctor_id
),

doctors as (
    select
        doctor_id,
        name,
        provider_kind
    from stg_mis__doctors
    union
    select
        doctor_id,
        doctor_id as name,
        null as provider_kind
    from doctor_values
    where doctor_id not in (select known.doctor_id from stg_mis__doctors as known)
),

final as (
    select
        doctors.doctor_id,
        doctors.name as doctor_name,
        coalesce(doctor_values.primary_patients, 0) as primary_patients,
        doctor_values.clv_to_date,
        doctor_values.clv_365,
        coalesce(doctor_values.clv_365_patients, 0) as clv_365_patients,
        doctor_values.repeat_visits_per_primary,
        doctor_values.return_rate,
        coalesce(doctor_surveys.surveys, 0) as surveys,
        doctor_surveys.score_mean,
        doctor_surveys.nps,
        doctors.provider_kind
    from doctors
    left join doctor_values using (doctor_id)
    left join doctor_surveys using (doctor_id)
)

select * from final
order by doctor_id
