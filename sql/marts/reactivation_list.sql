-- reactivation_list(weeks_back): the reactivation list (definition 13) as it stood
-- weeks_back weeks before as_of, the one home of its rule. The list is measured to that
-- day d0: patients with contact_consent whose last completed visit on or before d0 has a
-- date d with d0 - reactivation_max_months < d <= d0 - reactivation_min_months (calendar
-- months); months_since = whole calendar months from d to d0; revenue_to_date = their
-- completed revenue up to d0. mart_reactivation is reactivation_list(0); the list's own
-- test (mart_reactivation_outcome) is reactivation_list(reactivation_lookback_weeks).
create or replace macro reactivation_list(weeks_back) as table
    with parameters as (
        select
            *,
            as_of - to_weeks(weeks_back) as list_day
        from int_parameters
    ),

    last_visits as (
        select
            completed_visits.patient_id,
            max(completed_visits.visit_at) as last_visit_at,
            arg_max(
                completed_visits.visit_local::date,
                (completed_visits.visit_at, completed_visits.visit_id)
            ) as last_visit_day,
            arg_max(
                completed_visits.service, (completed_visits.visit_at, completed_visits.visit_id)
            ) as last_service,
            sum(completed_visits.amount) as revenue_to_date
        from int_completed_visits as completed_visits
        cross join parameters
        where completed_visits.visit_local::date <= parameters.list_day
        group by completed_visits.patient_id
    ),

    lapsed as (
        select
            last_visits.*,
            parameters.list_day,
            datediff('month', last_visits.last_visit_day, parameters.list_day)
                as month_boundaries
        from last_visits
        cross join parameters
        where
            last_visits.last_visit_day
            > parameters.list_day - to_months(parameters.reactivation_max_months)
            and last_visits.last_visit_day
            <= parameters.list_day - to_months(parameters.reactivation_min_months)
    )

    select
        lapsed.patient_id,
        lapsed.list_day,
        lapsed.last_visit_at,
        lapsed.month_boundaries - case
            when lapsed.last_visit_day + to_months(lapsed.month_boundaries) > lapsed.list_day
                then 1
            else 0
        end as months_since,
        lapsed.last_service,
        lapsed.revenue_to_date
    from lapsed
    inner join stg_mis__patients as patients on lapsed.patient_id = patients.patient_id
    where patients.contact_consent
