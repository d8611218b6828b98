-- Administrators and the logins, names or e-mails call trackers report them under.
-- Aliases are kept lower-cased: operator matching is case-insensitive.
with raw_rows as (
    select * from raw_records('raw_administrators')
),

typed as (
    select
        clean_text(t.admin_id) as admin_id,
        coalesce(clean_text(t.name), clean_text(t.admin_id)) as name,
        clean_text(t.branch_id) as branch_id,
        list_sort(list_distinct(list_filter(
            list_transform(string_split(coalesce(t.aliases, ''), ';'), lambda a: lower(trim(a))),
            lambda a: a <> ''
        ))) as aliases,
        source_file,
        line,
        reject_reason(parse_error, [missing('admin_id', t.admin_id)]) as reject_reason
    from raw_rows
)

select * from typed
