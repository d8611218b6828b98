-- What a person should know about this build before trusting its figures, one line each:
-- files that could not be read (quarantined whole), phone numbers that do not fit the
-- clinic's region, references to records the input lacks, a free channel with spend, a
-- channel rule or an administrator that could not be read, a vendor API whose last day
-- with data is older than pull.freshness_days.
-- The build prints these on stderr; the data-quality page and the digest show them.
with parameters as (
    select * from int_parameters
),

rejected_files as (
    select
        'file not read' as kind,
        entity,
        source_file || ': ' || rejected || '; the file was quarantined, the others loaded'
            as message
    from ingest_files
    where rejected is not null
),

phones as (
    select
        entity,
        sum(phones) filter (where status <> 'missing') as written,
        sum(phones) filter (where status = 'invalid') as invalid,
        sum(phones) filter (
            where status = 'identified' and region <> getvariable('default_region')
        ) as foreign_phones
    from phone_quality
    group by entity
),

phone_warnings as (
    select
        'phone region' as kind,
        phones.entity,
        phones.entity || ': ' || round(
            100.0 * (phones.invalid + coalesce(phones.foreign_phones, 0)) / phones.written, 1
        ) || '% of ' || phones.written || ' phone numbers are invalid for '
        || getvariable('default_region') || ' (' || phones.invalid || ') or belong to another '
        || 'country (' || coalesce(phones.foreign_phones, 0) || '): check default_region'
            as message
    from phones
    cross join parameters
    where
        phones.entity = 'patients'
        and phones.written > 0
        and (phones.invalid + coalesce(phones.foreign_phones, 0))
        > parameters.phone_warning_share * phones.written
),

orphan_warnings as (
    select
        'orphan references' as kind,
        entity,
        entity || ': ' || sum(rows) || ' rows in ' || count(*) || ' file(s) name a '
        || reference || ' missing from ' || missing_from || '/ (e.g. '
        || min(example) || ')' as message
    from mart_orphan_references
    group by entity, reference, missing_from
),

free_spend as (
    select
        'free channel with spend' as kind,
        'ad_spend' as entity,
        'channel ' || int_channel_map.channel
        || ' is declared free in channels.csv, yet spend exports hold '
        || sum(stg_ads__ad_spend.cost) || ' for it: that spend is not counted' as message
    from stg_ads__ad_spend
    inner join int_channel_map using (source, medium, campaign)
    where
        int_channel_map.channel in (
            select rules.channel from stg_clinic__channel_rules as rules
            group by rules.channel
            having bool_or(rules.free)
        )
    group by int_channel_map.channel
    having sum(stg_ads__ad_spend.cost) > 0
),

-- A configuration file refused whole is one line, said by rejected_files above.
setup_rows as (
    select
        'configuration row not used' as kind,
        entity,
        source_file || ' line ' || line || ': ' || reason || '; the row was not used'
        || case
            when entity = 'channel_rules'
                then ', so the calls and spend it maps may fall to Other'
            else ', so calls reported under this administrator are ranked under the raw name'
        end as message
    from quarantine
    where
        entity in ('channel_rules', 'administrators')
        and kind = 'invalid'
        and line is not null
),

other_channel as (
    select
        'calls in Other' as kind,
        'calls' as entity,
        'calls: ' || sum(calls) || ' calls from ' || count(*)
        || ' source/medium pair(s) match no rule of channels.csv and fall to Other (most: '
        || arg_max(source || '/' || medium, calls)
        || '): see the data-quality page and add rules' as message
    from mart_unmapped_sources
    where calls > 0
    having count(*) > 0
),

unknown_values as (
    select
        'values kept unknown' as kind,
        entity,
        entity || ': ' || sum(rows) || ' rows in ' || count(distinct source_file)
        || ' file(s) have a ' || value || ' ' || reason as message
    from mart_values_kept_unknown
    group by entity, value, reason
),

stale_sources as (
    select
        'stale source' as kind,
        source as entity,
        source || ': '
        || case
            when last_data_day is null
                then 'no data pulled yet (limit ' || freshness_days || ' days)'
            else
                'the last day with data is ' || last_data_day || ' (' || days_old
                || ' days ago, limit ' || freshness_days || ')'
        end
        || ': check the pull and its credentials' as message
    from mart_source_freshness
    where stale
),

final as (
    select * from rejected_files
    union all
    select * from stale_sources
    union all
    select * from other_channel
    union all
    select * from unknown_values
    union all
    select * from setup_rows
    union all
    select * from phone_warnings
    union all
    select * from orphan_warnings
    union all
    select * from free_spend
)

select * from final
order by kind, entity, message
