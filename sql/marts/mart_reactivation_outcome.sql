-- Does calling the reactivation list work? Per primary doctor, the patients on the list
-- as it stood reactivation_lookback_weeks ago (reactivation_list), how many have come
-- back since (a completed visit after that day, up to as_of), and the completed revenue
-- of those visits. One row per primary doctor with anyone listed, and the clinic's total
-- (primary_doctor_id NULL, primary_doctor_name 'All doctors').
with listed as (
    select * from reactivation_list(
        (select reactivation_lookback_weeks from int_parameters)
    )
),

since as (
    select
        listed.patient_id,
        any_value(listed.list_day)::date as list_day,
        count(visits.visit_id) as visits_since,
        coalesce(sum(visits.amount), 0) as revenue_since
    from listed
    left join int_completed_visits as visits
        on
            listed.patient_id = visits.patient_id
            and visits.visit_local::date > listed.list_day
    group by listed.patient_id
),

by_doctor as (
    select
        int_primary_patients.primary_doctor_id,
        any_value(since.list_day) as list_day,
        count(*) as listed,
        count(*) filter (where since.visits_since > 0) as came_back,
        sum(since.revenue_since) as revenue_since
    from since
    left join int_primary_patients using (patient_id)
    group by grouping sets ((int_primary_patients.primary_doctor_id), ())
),

final as (
    select
        by_doctor.primary_doctor_id,
        coalesce(
            doctors.name,
            case when by_doctor.primary_doctor_id is null then 'All doctors' end
        ) as primary_doctor_name,
        by_doctor.list_day,
        by_doctor.listed,
        by_doctor.came_back,
        by_doctor.came_back / nullif(by_doctor.listed, 0) as came_back_share,
        by_doctor.revenue_since
    from by_doctor
    left join stg_mis__doctors as doctors
        on by_doctor.primary_doctor_id = doctors.doctor_id
)

select * from final
order by primary_doctor_id nulls last
