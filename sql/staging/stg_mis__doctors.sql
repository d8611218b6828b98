-- Doctors from the MIS; provider_kind (dentist, hygienist, ...) where the MIS says it.
with raw_rows as (
    select * from raw_records('raw_doctors')
),

typed as (
    select
        clean_text(t.doctor_id) as doctor_id,
        coalesce(clean_text(t.name), clean_text(t.doctor_id)) as name,
        clean_text(t.specialty) as specialty,
        clean_text(t.branch_id) as branch_id,
        lower(clean_text(t.provider_kind)) as provider_kind,
        source_file,
        line,
        reject_reason(parse_error, [missing('doctor_id', t.doctor_id)]) as reject_reason
    from raw_rows
)

select * from typed
