-- One row per primary patient: first visit, primary doctor, converting lead or 'No call',
-- completed revenue to as_of.
-- materialized: view
with primary_patients as (
    select * from int_primary_patients
),

final as (
    select * from primary_patients
)

select * from final
