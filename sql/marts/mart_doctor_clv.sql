-- Per primary doctor (definitions 10, 11 and 15): the value of the patients whose first
-- visit was with them, counting every later completed visit with any doctor, against the
-- satisfaction surveys of the doctor's own visits; each with its 90% interval
-- (int_doctor_intervals), the revenue of first visits vs later ones, what is too thin to
-- tell, and where a doctor sits against the clinic's medians only when the interval says so
-- (the "valuable but unhappy patients" flag also needs enough patients and surveys: a
-- doctor too thin to tell is not accused of over-treatment).
with patient_values as (
    select * from int_patient_values
),

doctor_values as (
    select
        doctor_id,
        count(*)::bigint as primary_patients,
        avg(revenue_to_date) as clv_to_date,
        avg(revenue_horizon) filter (where is_mature) as clv_365,
        count(*) filter (where is_mature)::bigint as clv_365_patients,
        avg(repeat_visits_horizon) filter (where is_mature) as repeat_visits_per_primary,
        avg(returned::integer) filter (where can_return) as return_rate,
        sum(revenue_first_visit) as revenue_first_visit,
        sum(revenue_repeat) as revenue_repeat
    from patient_values
    group by doctor_id
),

doctor_surveys as (
    select
        doctor_id,
        count(*)::bigint as surveys,
        avg(score) as score_mean,
        100.0 * (
            count(*) filter (where score >= 9)
            - count(*) filter (where score <= 6)
        ) / count(*) as nps
    from int_survey_scores
    group by doctor_id
),

intervals as (
    select * from int_doctor_intervals
),

parameters as (
    select * from int_parameters
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

-- the clinic's medians over the doctors the CLV-against-satisfaction chart can place:
-- listed here, with both a CLV of mature patients and an NPS (the chart draws these)
clinic_medians as (
    select
        median(doctor_values.clv_365) as clv_365,
        median(doctor_surveys.nps) as nps
    from doctors
    inner join doctor_values using (doctor_id)
    inner join doctor_surveys using (doctor_id)
    where doctor_values.clv_365 is not null
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
        doctors.provider_kind,
        intervals.clv_to_date_low,
        intervals.clv_to_date_high,
        intervals.clv_365_low,
        intervals.clv_365_high,
        intervals.clv_365_median,
        intervals.nps_low,
        intervals.nps_high,
        intervals.score_mean_low,
        intervals.score_mean_high,
        doctor_values.revenue_first_visit,
        doctor_values.revenue_repeat,
        coalesce(doctor_values.clv_365_patients, 0)
        < parameters.min_mature_patients as thin_patients,
        coalesce(doctor_surveys.surveys, 0) < parameters.min_surveys as thin_surveys,
        case
            when intervals.clv_365_low > clinic_medians.clv_365 then 'above'
            when intervals.clv_365_high < clinic_medians.clv_365 then 'below'
        end as clv_365_vs_median,
        case
            when intervals.nps_low > clinic_medians.nps then 'above'
            when intervals.nps_high < clinic_medians.nps then 'below'
        end as nps_vs_median,
        clinic_medians.clv_365 as median_clv_365,
        clinic_medians.nps as median_nps,
        coalesce(
            intervals.clv_365_low > clinic_medians.clv_365
            and intervals.nps_high < clinic_medians.nps
            and doctor_values.clv_365_patients >= parameters.min_mature_patients
            and doctor_surveys.surveys >= parameters.min_surveys,
            false
        ) as valuable_but_unhappy
    from doctors
    cross join parameters
    cross join clinic_medians
    left join doctor_values using (doctor_id)
    left join doctor_surveys using (doctor_id)
    left join intervals using (doctor_id)
)

select * from final
order by doctor_id
