-- Patients from the MIS, typed; phones arrive as keyed hashes only.
-- An empty consent field means no consent: reactivation needs an explicit yes.
with raw_rows as (
    select * from raw_records('raw_patients')
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
        parse_date(t.birth_date) as birth_date,
        parse_timestamp(no_placeholder(t.registered_at)) as registered_at,
        coalesce(parse_bool(t.contact_consent), false) as contact_consent,
        source_file,
        line,
        raw,
        reject_reason(parse_error, [
            missing('patient_id', t.patient_id),
            -- a placeholder birth date is no birth date; one before 2000 is a grown-up
            unreadable(
                'birth_date', no_placeholder(t.birth_date), parse_date(t.birth_date), 'a date'
            ),
            case
                when parse_date(t.birth_date) > getvariable('build_date')
                    then 'birth_date ' || shown(t.birth_date) || ' is in the future'
            end,
            timestamp_problem(
                'registered_at',
                no_placeholder(t.registered_at),
                parse_timestamp(t.registered_at),
                false
            ),
            unreadable(
                'contact_consent', t.contact_consent, parse_bool(t.contact_consent), 'true or false'
            )
        ]) as reject_reason
    from raw_rows
)

select * from typed
