-- How call trackers name an administrator → admin_id. A call's operator matches an
-- admin_id first, then a name, then an alias (all case-insensitive); when two people share
-- a name or alias, the smaller admin_id is taken. An operator that matches nobody keeps its
-- raw value (see int_calls).
with administrators as (
    select * from stg_clinic__administrators
),

operator_keys as (
    select
        lower(admin_id) as operator,
        admin_id,
        1 as priority
    from administrators
    union all
    select
        lower(name) as operator,
        admin_id,
        2 as priority
    from administrators
    union all
    select
        unnest(aliases) as operator,
        admin_id,
        3 as priority
    from administrators
),

final as (
    select
        operator,
        first(admin_id order by priority, admin_id) as admin_id
    from operator_keys
    group by operator
)

select * from final
