-- Lapsed patients who agreed to be contacted (definition 13, the rule in
-- reactivation_list), in the order worth calling: by the revenue the forecast expects
-- from each over its longest horizon (fct_patient_forecast: the chance they are still a
-- patient times what they would then bring), the likeliest first; p_alive beside it. A
-- patient the forecast could not price (too few returning patients, no fees, or a first
-- visit after the forecast's cut-off: possible only with reactivation_min_months under a
-- month) follows, longest lapsed first. The forecast's figures are as of its cut-off
-- (forecast_refit), the list's months and revenue as of as_of.
with listed as (
    select * from reactivation_list(0)
),

longest_horizon as (
    select max(horizon_weeks) as horizon_weeks
    from fct_patient_forecast
),

forecast as (
    select
        fct_patient_forecast.patient_id,
        fct_patient_forecast.p_alive,
        fct_patient_forecast.revenue as expected_value,
        fct_patient_forecast.horizon_weeks as value_horizon_weeks
    from fct_patient_forecast
    inner join longest_horizon using (horizon_weeks)
),

final as (
    select
        listed.patient_id,
        listed.last_visit_at,
        listed.months_since,
        int_primary_patients.primary_doctor_id,
        doctors.name as primary_doctor_name,
        listed.last_service,
        listed.revenue_to_date,
        forecast.p_alive,
        forecast.expected_value,
        forecast.value_horizon_weeks
    from listed
    left join int_primary_patients using (patient_id)
    left join stg_mis__doctors as doctors
        on int_primary_patients.primary_doctor_id = doctors.doctor_id
    left join forecast using (patient_id)
)

select * from final
order by expected_value desc nulls last, months_since desc, patient_id asc
