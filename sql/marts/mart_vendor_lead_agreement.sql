-- Our leads against the call tracker's own flag (Calltouch uniqTargetCall, CallRail
-- first_call), for the data-quality page: how many of the tracker's flagged calls we also
-- count as leads, and why the others differ. Calls whose export carries no flag are not here.
with calls as (
    select * from int_calls
    where vendor_lead_flag is not null
),

leads as (
    select call_id from int_leads
),

earliest_target as (
    select
        phone_hash,
        min(started_at) as first_target_at
    from int_calls
    where is_target and phone_hash is not null
    group by phone_hash
),

classified as (
    select
        calls.vendor_lead_flag,
        case
            when leads.call_id is not null then 'a lead for us too'
            when calls.phone_hash is null then 'phone hidden or not a valid number'
            when not calls.is_target then 'not a target call by our threshold'
            when calls.started_at > earliest_target.first_target_at
                then 'not the phone''s first target call'
            else 'the caller was already a patient'
        end as our_verdict
    from calls
    left join leads using (call_id)
    left join earliest_target using (phone_hash)
),

final as (
    select
        case when vendor_lead_flag then 'flagged by the tracker' else 'not flagged' end
            as tracker,
        our_verdict,
        count(*)::bigint as calls
    from classified
    where vendor_lead_flag or our_verdict = 'a lead for us too'
    group by all
)

select * from final
order by tracker asc, calls desc
