-- Per administrator: leads they answered and how many converted (definition 9, the raw
-- counts that the empirical-Bayes ranking in Python starts from). Leads whose call names
-- no operator are left out of the ranking.
with leads as (
    select * from int_lead_conversions
),

administrators as (
    select * from stg_clinic__administrators
),

final as (
    select
        leads.admin_id,
        coalesce(any_value(administrators.name), leads.admin_id) as admin_name,
        count(*)::bigint as leads,
        count(*) filter (where leads.converted)::bigint as primary_patients
    from leads
    left join administrators using (admin_id)
    where leads.admin_id is not null
    group by leads.admin_id
)

select * from final
