-- Patient ↔ phone (keyed hash), one row per pair: a family shares a phone, and a patient
-- may have several.
-- materialized: memory
with patients as (
    select * from stg_mis__patients
),

final as (
    select distinct
        patient_id,
        unnest(phone_hashes) as phone_hash
    from patients
)

select * from final
