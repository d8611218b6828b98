-- Doctors from the MIS.
with raw_rows as (
    select
        struct_pack(*columns(* exclude (_source_file, _line, _parse_error, _raw))) as t,
        _source_file as source_file,
        _line as line,
        _parse_error as parse_error,
        _raw as raw_line
    from raw_doctors
),

typed as (
    select
        clean_text(t.doctor_id) as doctor_id,
        coalesce(clean_text(t.name), clean_text(t.doctor_id)) as name,
        clean_text(t.specialty) as specialty,
        clean_text(t.branch_id) as branch_id,
        source_file,
        line,
        coalesce(raw_line, to_json(t)::varchar) as raw,
        reject_reason(parse_error, [missing('doctor_id', t.doctor_id)]) as reject_reason
    from raw_rows
)

select * from typed
