-- Lapsed patients who agreed to be contacted (definition 13): last completed visit date d
-- with as_of - reactivation_max_months < d <= as_of - reactivation_min_months (calendar
-- months), months_since = whole calendar months from d to as_of.
with completed_visits as (
    select * from int_completed_visits
),

parameters as (
    select * from int_parameters
),

last_visits as (
    select
        patient_id,
        max(visit_at) as last_visit_at,
        arg_max(visit_local::date, (visit_at, visit_id)) as last_visit_day,
        arg_max(service, (visit_at, visit_id)) as last_service,
        sum(amount) as revenue_to_date
    from completed_visits
    group by patient_id
),

lapsed as (
    select
        last_visits.*,
        datediff('month', last_visits.last_visit_day, parameters.as_of) as month_boundaries,
        parameters.as_of
    from last_visits
    cross join parameters
    where
        last_visits.last_visit_day
        > parameters.as_of - to_months(parameters.reactivation_max_months)
        and last_visits.last_visit_day
        <= parameters.as_of - to_months(parameters.reactivation_min_months)
),

final as (
    select
        lapsed.patient_id,
        lapsed.last_visit_at,
        lapsed.month_boundaries - case
            when lapsed.last_visit_day + to_months(lapsed.month_boundaries) > lapsed.as_of
                then 1
            else 0
        end as months_since,
        int_primary_patients.primary_doctor_id,
        doctors.name as primary_doctor_name,
        lapsed.last_service,
        lapsed.revenue_to_date
    from lapsed
    inner join stg_mis__patients as patients using (patient_id)
    left join int_primary_patients using (patient_id)
    left join stg_mis__doctors as doctors
        on int_primary_patients.primary_doctor_id = doctors.doctor_id
    where patients.contact_consent
)

select * from final
order by months_since desc, patient_id asc
