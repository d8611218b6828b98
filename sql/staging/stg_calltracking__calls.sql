-- Calls as the call tracker logged them: typed, one row per record read.
-- The caller's number arrives already replaced by its keyed hash (pipelines/ingest/loader.py).
-- A placeholder source, medium or campaign is empty. A duration or wait the tracker
-- cannot have measured (negative, or longer than a day: Calltouch writes -1 to -14 s on
-- answered calls) is unknown, not a reason to lose the call: it stays a call, its
-- duration NULL (so not a target call), and is counted in mart_values_kept_unknown.
with raw_rows as (
    select * from raw_records('raw_calls')
),

-- each value parsed once: the checks below read the parsed columns
parsed as (
    select
        *,
        parse_timestamp(t.started_at) as parsed_started_at,
        parse_bool(t.answered) as parsed_answered,
        parse_seconds(t.duration_s) as parsed_duration_s,
        parse_seconds(t.wait_s) as parsed_wait_s
    from raw_rows
),

typed as (
    select
        clean_text(t.call_id) as call_id,
        parsed_started_at as started_at,
        t.caller_phone_hash,
        t.caller_phone_status,
        clean_text(t.tracking_phone) as tracking_phone,
        coalesce(lower(utm_value(t.source)), '') as source,
        coalesce(lower(utm_value(t.medium)), '') as medium,
        coalesce(utm_value(t.campaign), '') as campaign,
        parsed_answered as answered,
        parsed_duration_s as duration_s,
        parsed_wait_s as wait_s,
        not coalesce(parsed_duration_s between 0 and 86400, true)
            as duration_impossible,
        not coalesce(parsed_wait_s between 0 and 86400, true) as wait_impossible,
        clean_text(t.admin_id) as admin_id,
        clean_text(t.branch_id) as branch_id,
        clean_text(t.tags) as tags,
        parse_bool(t.vendor_lead_flag) as vendor_lead_flag,
        source_file,
        line,
        reject_reason(parse_error, [
            missing('call_id', t.call_id),
            missing('started_at', t.started_at),
            timestamp_problem('started_at', t.started_at, parsed_started_at, false),
            missing('answered', t.answered),
            unreadable('answered', t.answered, parsed_answered, 'true or false'),
            unreadable(
                'duration_s', t.duration_s, parsed_duration_s, 'a number of seconds'
            ),
            unreadable('wait_s', t.wait_s, parsed_wait_s, 'a number of seconds')
        ]) as reject_reason
    from parsed
),

final as (
    select
        * exclude (duration_s, wait_s),
        case when not duration_impossible then coalesce(duration_s, 0) end as duration_s,
        case when not wait_impossible then wait_s end as wait_s
    from typed
)

select * from final
