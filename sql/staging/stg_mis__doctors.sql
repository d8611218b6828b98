-- Doctors from the MIS.
with raw_rows as (
    select * from raw_records('raw_doctors')
),

typed as (
    select
        clean_text(t.doctor_id) as doctor_id,
        coalesce(clean_text(t.name), clean_text(t.doctor_id)) as name,
        clean_text(t.specialty) as specialty,
        clean_text(t.branch_id) as branch_id,
        source_file,
        line,
        raw,
        reject_reason(parse_error, [missing('doctor_id', t.doctor_id)]) as reject_reason
    from raw_rows
)

select * from typed
