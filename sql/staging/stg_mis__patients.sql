-- Patients from the MIS, typed; phones arrive as keyed hashes only.
-- An empty consent field means no consent: reactivation needs an explicit yes.
with raw_rows as (
    select * from raw_records('raw_patients')
),

-- each value parsed once: the checks below read the parsed columns
parsed as (
    select
        *,
        parse_date(t.birth_date) as parsed_birth_date,
        parse_timestamp(no_placeholder(t.registered_at)) as parsed_registered_at,
        parse_timestamp(t.registered_at) as parsed_registered_at_as_written,
        parse_bool(t.contact_consent) as parsed_contact_consent
    from raw_rows
),

typed as (
    select
        clean_text(t.patient_id) as patient_id,
        coalesce(t.phone_hashes, []::varchar[]) as phone_hashes,
        coalesce(t.phones_unidentified, 0) as phones_unidentified,
        case
            when lower(trim(t.sex)) in ('m', 'male', 'м', 'муж', 'мужской') then 'M'
            when lower(trim(t.sex)) in ('f', 'female', 'ж', 'жен', 'женский') then 'F'
        end as sex,
        parsed_birth_date as birth_date,
        parsed_registered_at as registered_at,
        coalesce(parsed_contact_consent, false) as contact_consent,
        source_file,
        line,
        reject_reason(parse_error, [
            missing('patient_id', t.patient_id),
            -- a placeholder birth date is no birth date; one before 2000 is a grown-up
            unreadable(
                'birth_date', no_placeholder(t.birth_date), parsed_birth_date, 'a date'
            ),
            case
                when parsed_birth_date > getvariable('build_date')
                    then 'birth_date ' || shown(t.birth_date) || ' is in the future'
            end,
            timestamp_problem(
                'registered_at',
                no_placeholder(t.registered_at),
                parsed_registered_at_as_written,
                false
            ),
            unreadable(
                'contact_consent', t.contact_consent, parsed_contact_consent, 'true or false'
            )
        ]) as reject_reason
    from parsed
)

select * from typed
