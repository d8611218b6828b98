-- One row per lead (definition 5) with its conversion (definition 6): the columns of
-- METRICS.md, then the lead's local time and branch for filtering.
-- materialized: view
with lead_conversions as (
    select * from int_lead_conversions
),

final as (
    select
        call_id,
        phone_hash,
        started_at,
        week_start,
        channel,
        admin_id,
        converted,
        patient_id,
        first_visit_at,
        started_local,
        branch_id
    from lead_conversions
)

select * from final
