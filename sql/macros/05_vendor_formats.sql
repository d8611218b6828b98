-- Helpers for the vendor format specs (pipelines/ingest/formats/*.yaml), so a spec is a list
-- of SQL expressions with no Python behind it. Settings arrive as DuckDB variables.

-- Tag names, ';'-joined, from a JSON list of Calltouch tag objects ({names: [...]}) or of
-- CallRail strings; any other text is kept as it is.
create or replace macro tag_names(tags) as (
    case
        when trim(tags) like '[%'
            then nullif(array_to_string(flatten(list_transform(
                json_extract(tags, '$[*]')::json[],
                lambda t: case
                    when json_type(t) = 'OBJECT'
                        then from_json(json_extract(t, '$.names'), '["VARCHAR"]')
                    else [json_extract_string(t, '$')]
                end
            )), ';'), '')
        else tags
    end
);

-- Ad platforms' reports carry no UTM: the source and medium their spend is booked under
-- (setting ad_platform_utm).
create or replace macro platform_source(platform) as getvariable('ad_platform_utm')[platform][1];

create or replace macro platform_medium(platform) as getvariable('ad_platform_utm')[platform][2];

-- A platform's exported cost as money: micros divided out when `in_micros`, the platform's
-- VAT (setting vat_rate_to_strip) removed, to a millionth (rows finer than a day and a
-- campaign are summed before the total is rounded to the kopeck); text that is no amount
-- stays as written, for the staging model to quarantine with its reason.
create or replace macro platform_cost(cost, platform, in_micros) as coalesce(
    (
        parse_money_precise(cost)
        / (
            (case when in_micros then 1000000 else 1 end)
            * (1 + getvariable('vat_rate_to_strip')[platform])
        )
    )::decimal(24, 6)::varchar,
    cost
);

-- The currency of a platform's rows: the export's own, else the account's (setting
-- ad_platform_currency), else the marker the staging model quarantines as unknown: a
-- platform's money is never silently taken for the deployment's currency.
create or replace macro platform_currency(exported, platform) as coalesce(
    nullif(trim(exported), ''),
    getvariable('ad_platform_currency')[platform],
    'unknown:' || platform
);

-- A month's number from its name or abbreviation, English or Russian (Jan, January, янв.,
-- января, ...), for ad platforms' UI reports.
create or replace macro month_number(name) as map_extract_value(
    map(
        [
            'jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec',
            'янв', 'фев', 'мар', 'апр', 'май', 'мая', 'июн', 'июл', 'авг', 'сен', 'окт', 'ноя',
            'дек'
        ],
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10, 11, 12]
    ),
    lower(left(name, 3))
);

-- One date as a UI report writes it: 2025-10-01, 01.10.2025, 1 Oct 2025, 1 окт. 2025,
-- October 1, 2025; NULL when it is none of those.
create or replace macro report_date(token) as coalesce(
    try_strptime(token, '%Y-%m-%d')::date,
    try_strptime(token, '%d.%m.%Y')::date,
    case
        when regexp_full_match(token, '\d{1,2} \pL+\.? \d{4}')
            then try_cast(make_date(
                regexp_extract(token, '(\d{4})$', 1)::integer,
                month_number(regexp_extract(token, '^\d{1,2} (\pL+)', 1)),
                regexp_extract(token, '^(\d{1,2})', 1)::integer
            ) as date)
        when regexp_full_match(token, '\pL+\.? \d{1,2}, \d{4}')
            then try_cast(make_date(
                regexp_extract(token, '(\d{4})$', 1)::integer,
                month_number(regexp_extract(token, '^(\pL+)', 1)),
                regexp_extract(token, ' (\d{1,2}),', 1)::integer
            ) as date)
    end
);

-- The one day a UI report without a day segment covers: its date-range line (above the
-- header, in `_preamble`) names the same date twice, or one date; NULL when the range is
-- longer ("All time", "1 Oct 2025 - 31 Oct 2025"), so such a report cannot be placed on
-- dates.
create or replace macro report_day(preamble) as (
    with days as (
        select list_filter(
            list_transform(
                regexp_extract_all(
                    coalesce(preamble, ''),
                    '\d{4}-\d{2}-\d{2}|\d{1,2}\.\d{1,2}\.\d{4}|\d{1,2} \pL{3,}\.? \d{4}'
                    || '|\pL{3,}\.? \d{1,2}, \d{4}'
                ),
                lambda t: report_date(t)
            ),
            lambda d: d is not null
        ) as found
    )

    select case when len(found) > 0 and list_min(found) = list_max(found) then list_min(found) end
    from days
);

-- A Unix epoch (seconds, or milliseconds as Calltouch's leads give it) as an ISO instant
-- in UTC; NULL for anything else.
create or replace macro epoch_instant(epoch) as (
    case
        when regexp_full_match(trim(epoch), '\d{9,13}')
            then strftime(
                timezone(
                    'UTC',
                    to_timestamp(
                        trim(epoch)::bigint
                        / (case when trim(epoch)::bigint > 100000000000 then 1000 else 1 end)
                    )
                ),
                '%Y-%m-%dT%H:%M:%SZ'
            )
    end
);

-- A naive local time written by an account in another zone than the clinic's (a Saratov
-- clinic on a Moscow Calltouch account), as an ISO instant in UTC; NULL when unreadable.
create or replace macro zoned_instant(local_text, zone) as strftime(
    timezone(
        'UTC',
        timezone(
            zone,
            try_strptime(
                trim(local_text),
                [
                    '%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M', '%d.%m.%Y %H:%M:%S',
                    '%d.%m.%Y %H:%M', '%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S'
                ]
            )
        )
    ),
    '%Y-%m-%dT%H:%M:%SZ'
);
