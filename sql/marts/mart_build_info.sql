-- One row for the dashboard's freshness line: the data's last day, when the build ran,
-- and the settings it used.
with parameters as (
    select * from int_parameters
),

final as (
    select
        parameters.*,
        current_timestamp as built_at
    from parameters
)

select * from final
