-- Parsing macros shared by every staging model.
-- Each parse_* returns NULL for empty text and for text it cannot read; the models
-- turn "non-empty text that gave NULL" into a quarantine reason with `unreadable`.
-- Naive date-times are read in the session time zone, which the pipeline sets to the
-- clinic's `timezone` setting; text with an offset (Z, +03:00, +0300) keeps its instant.

create or replace macro clean_text(s) as nullif(trim(s), '');

create or replace macro parse_timestamp(s) as (
    case
        when clean_text(s) is null then null
        when regexp_full_match(trim(s), '\d{4}-\d{1,2}-\d{1,2}([ T].+)?')
            then try_cast(replace(trim(s), 'T', ' ') as timestamptz)
        when regexp_full_match(trim(s), '\d{1,2}\.\d{1,2}\.\d{4}( .+)?')
            then try_strptime(
                trim(s), ['%d.%m.%Y %H:%M:%S', '%d.%m.%Y %H:%M', '%d.%m.%Y']
            )::timestamptz
        when regexp_full_match(trim(s), '\d{1,2}/\d{1,2}/\d{4}( .+)?')
            then try_strptime(
                trim(s), ['%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M', '%d/%m/%Y']
            )::timestamptz
    end
);

create or replace macro parse_date(s) as (
    case
        when clean_text(s) is null then null
        when regexp_matches(trim(s), '^\d{4}-\d{1,2}-\d{1,2}([ T]|$)')
            then try_cast(regexp_extract(trim(s), '^\d{4}-\d{1,2}-\d{1,2}') as date)
        when regexp_matches(trim(s), '^\d{1,2}\.\d{1,2}\.\d{4}( |$)')
            then try_strptime(regexp_extract(trim(s), '^\d{1,2}\.\d{1,2}\.\d{4}'), '%d.%m.%Y')::date
        when regexp_matches(trim(s), '^\d{1,2}/\d{1,2}/\d{4}( |$)')
            then try_strptime(regexp_extract(trim(s), '^\d{1,2}/\d{1,2}/\d{4}'), '%d/%m/%Y')::date
    end
);

-- Whole numbers: "12", "12 345", "12,345" (thousands), and "12.0" as spreadsheets write them.
create or replace macro int_text(s) as regexp_replace(trim(s), '[\s\x{00A0}\x{202F}]', '', 'g');

create or replace macro parse_int(s) as (
    case
        when regexp_full_match(int_text(s), '[+-]?\d+')
            then try_cast(int_text(s) as bigint)
        when regexp_full_match(int_text(s), '[+-]?\d{1,3}(,\d{3})+')
            then try_cast(replace(int_text(s), ',', '') as bigint)
        when regexp_full_match(int_text(s), '[+-]?\d+[.,]0*')
            then try_cast(regexp_extract(int_text(s), '^[+-]?\d+') as bigint)
    end
);

-- Seconds, as a number or as [h:]mm:ss (call-tracker journals write both).
create or replace macro parse_seconds(s) as (
    case
        when regexp_full_match(trim(s), '\d{1,3}:\d{2}:\d{2}')
            then 3600 * split_part(trim(s), ':', 1)::bigint
                + 60 * split_part(trim(s), ':', 2)::bigint
                + split_part(trim(s), ':', 3)::bigint
        when regexp_full_match(trim(s), '\d{1,4}:\d{2}')
            then 60 * split_part(trim(s), ':', 1)::bigint + split_part(trim(s), ':', 2)::bigint
        else parse_int(s)
    end
);

-- Money without currency signs, spaces or thousands separators. When both "," and "."
-- occur the last one is the decimal mark; a lone "," is a decimal comma (Russian
-- exports), so "1,5" is one and a half, never fifteen.
create or replace macro money_text(s) as regexp_replace(
    trim(s), '[\s\x{00A0}\x{202F}₽$€£]|руб\.?|rub|usd|eur', '', 'gi'
);

create or replace macro parse_money(s) as try_cast(
    case
        when money_text(s) like '%,%' and money_text(s) like '%.%'
            and regexp_matches(money_text(s), ',\d*$')
            then replace(replace(money_text(s), '.', ''), ',', '.')
        when money_text(s) like '%,%' and money_text(s) like '%.%'
            then replace(money_text(s), ',', '')
        when money_text(s) like '%,%' then replace(money_text(s), ',', '.')
        else money_text(s)
    end as decimal(18, 2)
);

create or replace macro parse_bool(s) as (
    case
        when lower(trim(s)) in ('true', 't', '1', 'yes', 'y', 'да', 'д', '+', 'on') then true
        when lower(trim(s)) in ('false', 'f', '0', 'no', 'n', 'нет', 'н', '-', 'off') then false
    end
);

-- Quarantine reasons, worded for the clinic's analyst.
create or replace macro missing(column_name, s) as (
    case when clean_text(s) is null then column_name || ' is missing' end
);

create or replace macro unreadable(column_name, s, parsed, expected) as (
    case
        when clean_text(s) is not null and parsed is null
            then column_name || ' ''' || left(trim(s), 60) || ''' is not ' || expected
    end
);

create or replace macro negative(column_name, value) as (
    case when value < 0 then column_name || ' ' || value || ' is negative' end
);

-- The reason for a row: the reader's own, else every check that failed, else NULL.
create or replace macro reject_reason(parse_error, reasons) as (
    coalesce(parse_error, nullif(array_to_string(list_filter(reasons, lambda r: r is not null), '; '), ''))
);

-- A UTM value, or NULL for the placeholders trackers write when there is none.
create or replace macro utm_value(s) as (
    case
        when lower(trim(s)) in ('', '(not set)', '(not provided)', '<не указано>', 'не указано')
            then null
        else trim(s)
    end
);
