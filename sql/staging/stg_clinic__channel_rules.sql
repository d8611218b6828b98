-- Channel rules from channels.csv, in file order: the first matching rule wins.
-- Patterns are case-insensitive globs; an empty pattern matches anything.
with raw_rows as (
    select * from raw_records('raw_channel_rules')
),

typed as (
    select
        line as rule_order,
        coalesce(lower(clean_text(t.source)), '*') as source_pattern,
        coalesce(lower(clean_text(t.medium)), '*') as medium_pattern,
        coalesce(lower(clean_text(t.campaign)), '*') as campaign_pattern,
        clean_text(t.channel) as channel,
        source_file,
        line,
        raw,
        reject_reason(parse_error, [missing('channel', t.channel)]) as reject_reason
    from raw_rows
)

select * from typed
