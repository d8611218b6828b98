-- Channel rules from channels.csv, in file order: the first matching rule wins.
-- Patterns are case-insensitive globs; an empty pattern matches anything. `free` (yes/no,
-- optional) declares a channel that costs nothing: only then is its spend 0 rather than
-- unknown where no spend export covers it (definition 8).
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
        coalesce(parse_bool(t.free), false) as free,
        source_file,
        line,
        reject_reason(parse_error, [
            missing('channel', t.channel),
            unreadable('free', t.free, parse_bool(t.free), 'yes or no')
        ]) as reject_reason
    from raw_rows
)

select * from typed
