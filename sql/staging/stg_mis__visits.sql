-- Visits from the MIS, typed; one row per record read.
-- An empty amount is 0 paid; a status outside the four of METRICS.md is rejected
-- ("canceled", "no-show" and "No show" are spellings of two of them, not new statuses).
with raw_rows as (
    select * from raw_records('raw_visits')
),

normalised as (
    select
        *,
        parse_timestamp(t.visit_at) as parsed_visit_at,
        parse_money(t.amount) as parsed_amount,
        replace(
            regexp_replace(lower(trim(t.status)), '[\s\-]+', '_', 'g'), 'canceled', 'cancelled'
        ) as status_text
    from raw_rows
),

typed as (
    select
        clean_text(t.visit_id) as visit_id,
        clean_text(t.patient_id) as patient_id,
        clean_text(t.doctor_id) as doctor_id,
        clean_text(t.branch_id) as branch_id,
        parsed_visit_at as visit_at,
        clean_text(t.service) as service,
        case when status_text = 'noshow' then 'no_show' else status_text end as status,
        coalesce(parsed_amount, 0) as amount,
        source_file,
        line,
        reject_reason(parse_error, [
            missing('visit_id', t.visit_id),
            missing('patient_id', t.patient_id),
            missing('visit_at', t.visit_at),
            -- a booking may lie in the future; anything that happened may not
            timestamp_problem(
                'visit_at', t.visit_at, parsed_visit_at, status_text = 'scheduled'
            ),
            missing('status', t.status),
            case
                when
                    clean_text(t.status) is not null
                    and status_text not in (
                        'completed', 'cancelled', 'no_show', 'noshow', 'scheduled'
                    )
                    then
                        'status ' || shown(t.status)
                        || ' is not one of completed, cancelled, no_show, scheduled'
            end,
            unreadable('amount', t.amount, parsed_amount, 'an amount of money'),
            negative('amount', parsed_amount),
            implausible_money('amount', t.amount, parsed_amount)
        ]) as reject_reason
    from normalised
)

select * from typed
