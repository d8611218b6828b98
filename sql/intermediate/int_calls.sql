-- Calls up to as_of with everything the metrics ask of them: clinic-local time and ISO
-- week, channel, the administrator resolved from the tracker's operator, and whether the
-- call is a target call (answered and at least target_call_min_duration_s long).
-- materialized: memory
with calls as (
    select * from stg_calltracking__calls
),

channels as (
    select * from int_channel_map
),

operators as (
    select * from int_operator_admins
),

parameters as (
    select * from int_parameters
),

localised as (
    select
        calls.*,
        timezone(parameters.timezone, calls.started_at) as started_local,
        parameters.target_call_min_duration_s,
        parameters.as_of
    from calls
    cross join parameters
),

final as (
    select
        localised.call_id,
        localised.started_at,
        localised.started_local,
        date_trunc('week', localised.started_local)::date as week_start,
        localised.caller_phone_hash as phone_hash,
        localised.caller_phone_status as phone_status,
        localised.answered,
        localised.duration_s,
        localised.answered
        and localised.duration_s >= localised.target_call_min_duration_s as is_target,
        channels.channel,
        coalesce(operators.admin_id, localised.admin_id) as admin_id,
        localised.branch_id,
        localised.vendor_lead_flag
    from localised
    left join channels using (source, medium, campaign)
    left join operators on operators.operator = lower(localised.admin_id)
    where localised.started_local::date <= localised.as_of
)

select * from final
