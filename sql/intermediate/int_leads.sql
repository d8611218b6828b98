-- Leads (definition 5): per identified phone its earliest target call (ties: smallest
-- call_id), unless a patient holding that phone had a completed visit before the call:
-- an existing patient's call is service, not acquisition (int_service_calls).
-- materialized: memory
with target_calls as (
    select * from int_calls
    where is_target and phone_hash is not null
),

earliest_per_phone as (
    select *
    from target_calls
    qualify row_number() over (partition by phone_hash order by started_at, call_id) = 1
),

final as (
    select earliest_per_phone.*
    from earliest_per_phone
    anti join int_service_calls using (call_id)
)

select * from final
