-- Records kept with a value unknown rather than lost, counted by file for the data-quality
-- page: a call whose tracker wrote a duration or wait it cannot have measured (negative,
-- or longer than a day) is still a call (it counts in calls and missed calls) with that
-- value NULL, so it is never a target call.
with calls as (
    select * from stg_calltracking__calls
),

unknowns as (
    select
        'calls' as entity,
        source_file,
        'duration_s' as value,
        'negative or longer than a day: kept as unknown (not a target call)' as reason
    from calls
    where duration_impossible
    union all
    select
        'calls' as entity,
        source_file,
        'wait_s' as value,
        'negative or longer than a day: kept as unknown' as reason
    from calls
    where wait_impossible
),

final as (
    select
        entity,
        source_file,
        value,
        reason,
        count(*)::bigint as rows
    from unknowns
    group by all
)

select * from final
order by entity, value, source_file
