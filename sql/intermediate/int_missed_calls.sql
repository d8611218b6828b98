-- Every unanswered call with its outcome (definition 12): recovered when the same
-- identified phone has an answered call in (started_at, started_at + 24 h]; lost otherwise
-- (an unidentified caller cannot be recognised, so theirs is lost). The one home of the
-- rule: mart_missed_calls counts it by hour of week, fct_channel_daily by channel and day
-- (the Overview's and the digest's lost calls).
-- materialized: memory
with calls as (
    select * from int_calls
),

answered_calls as (
    select
        phone_hash,
        started_at
    from calls
    where answered and phone_hash is not null
),

final as (
    select
        calls.call_id,
        any_value(calls.started_local) as started_local,
        any_value(calls.channel) as channel,
        any_value(calls.branch_id) as branch_id,
        count(answered_calls.started_at) > 0 as recovered
    from calls
    left join answered_calls
        on
            calls.phone_hash = answered_calls.phone_hash
            and calls.started_at < answered_calls.started_at
            and answered_calls.started_at <= calls.started_at + interval 24 hour
    where not calls.answered
    group by calls.call_id
)

select * from final
