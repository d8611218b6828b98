-- Satisfaction surveys, one per visit, scored 0 to 10.
with raw_rows as (
    select * from raw_records('raw_surveys')
),

typed as (
    select
        clean_text(t.visit_id) as visit_id,
        parse_int(t.score) as score,
        parse_timestamp(t.answered_at) as answered_at,
        source_file,
        line,
        reject_reason(parse_error, [
            missing('visit_id', t.visit_id),
            missing('score', t.score),
            unreadable('score', t.score, parse_int(t.score), 'a whole number'),
            case
                when parse_int(t.score) not between 0 and 10
                    then 'score ' || parse_int(t.score) || ' is outside 0 to 10'
            end,
            timestamp_problem('answered_at', t.answered_at, parse_timestamp(t.answered_at), false)
        ]) as reject_reason
    from raw_rows
)

select * from typed
