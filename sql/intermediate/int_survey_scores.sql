-- Every survey with the doctor of the surveyed visit (definition 11: satisfaction counts for
-- the doctor whose visit was surveyed, whatever the visit's status).
with surveys as (
    select * from stg_surveys__surveys
),

visits as (
    select * from stg_mis__visits
),

final as (
    select
        visits.doctor_id,
        surveys.visit_id,
        surveys.score
    from surveys
    inner join visits using (visit_id)
)

select * from final
