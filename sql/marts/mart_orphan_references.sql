-- References to records the input does not hold, counted by file for the data-quality
-- page: visits naming a patient or a doctor missing from patients/ or doctors/, surveys of
-- visits missing from visits/, calls whose operator matches no administrator. They load
-- (a visit still counts), but a clinic should know its exports do not line up.
with visits as (
    select * from stg_mis__visits
),

surveys as (
    select * from stg_surveys__surveys
),

calls as (
    select * from stg_calltracking__calls
),

orphans as (
    select
        'visits' as entity,
        visits.source_file,
        'patient_id' as reference,
        'patients' as missing_from,
        visits.patient_id as missing_id
    from visits
    anti join stg_mis__patients using (patient_id)
    union all
    select
        'visits' as entity,
        visits.source_file,
        'doctor_id' as reference,
        'doctors' as missing_from,
        visits.doctor_id as missing_id
    from visits
    anti join stg_mis__doctors using (doctor_id)
    where visits.doctor_id is not null
    union all
    select
        'surveys' as entity,
        surveys.source_file,
        'visit_id' as reference,
        'visits' as missing_from,
        surveys.visit_id as missing_id
    from surveys
    anti join stg_mis__visits using (visit_id)
    union all
    select
        'calls' as entity,
        calls.source_file,
        'admin_id' as reference,
        'administrators' as missing_from,
        calls.admin_id as missing_id
    from calls
    left join int_operator_admins on int_operator_admins.operator = lower(calls.admin_id)
    where calls.admin_id is not null and int_operator_admins.operator is null
),

final as (
    select
        entity,
        source_file,
        reference,
        missing_from,
        count(*)::bigint as rows,
        count(distinct missing_id)::bigint as missing_ids,
        min(missing_id) as example
    from orphans
    group by all
)

select * from final
order by entity, reference, source_file
