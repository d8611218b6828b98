-- Parsing macros shared by every staging model.
-- Each parse_* returns NULL for empty text and for text it cannot read; the models
-- turn "non-empty text that gave NULL" into a quarantine reason (`unreadable`,
-- `timestamp_problem`, ...). Naive date-times are read in the session time zone, which
-- the pipeline sets to the clinic's `timezone` setting; text with an offset (Z, +03:00,
-- +0300) keeps its instant.

create or replace macro clean_text(s) as nullif(trim(s), '');

-- Open Dental (and other MIS) write 0001-01-01 or 0000-00-00 for "no date": never a date.
create or replace macro is_placeholder_date(s) as (
    regexp_matches(trim(s), '^(0001-01-01|0000-00-00)')
);

-- An optional date field holding such a placeholder is simply empty.
create or replace macro no_placeholder(s) as (
    case when is_placeholder_date(s) then null else s end
);

-- The UTC offset written after a time (Z, +3, +03, +0300, +03:00); '' when there is none.
create or replace macro utc_offset(s) as regexp_extract(
    trim(s), '\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(Z|[+-]\d{1,2}(?::?\d{2})?)$', 1
);

-- Definition 16: an offset beyond ±14:00 (or with minutes past 59) is not a time zone.
create or replace macro offset_ok(s) as regexp_full_match(
    utc_offset(s), '|Z|[+-](0?\d|1[0-3])(:?[0-5]\d)?|[+-]14(:?00)?'
);

-- ISO 8601 (the offset checked), dd.mm.yyyy and dd/mm/yyyy (day first, as Russian exports
-- and Calltouch write them); a placeholder for "no date" is no date.
create or replace macro parse_timestamp(s) as (
    case
        when clean_text(s) is null then null
        when regexp_full_match(trim(s), '\d{4}-\d{1,2}-\d{1,2}([ T].+)?')
            then case
                when not is_placeholder_date(s) and offset_ok(s)
                    then try_cast(replace(trim(s), 'T', ' ') as timestamptz)
            end
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
        when clean_text(s) is null or is_placeholder_date(s) then null
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
            then
                3600 * split_part(trim(s), ':', 1)::bigint
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

create or replace macro money_number(s) as (
    case
        when
            money_text(s) like '%,%' and money_text(s) like '%.%'
            and regexp_matches(money_text(s), ',\d*$')
            then replace(replace(money_text(s), '.', ''), ',', '.')
        when money_text(s) like '%,%' and money_text(s) like '%.%'
            then replace(money_text(s), ',', '')
        when money_text(s) like '%,%' then replace(money_text(s), ',', '.')
        else money_text(s)
    end
);

-- Money to the kopeck, as a visit's amount is paid.
create or replace macro parse_money(s) as try_cast(money_number(s) as decimal(18, 2));

-- Money to a millionth, for the parts of an ad platform's total (an ad's, an hour's
-- cost, from micros): rounded to the kopeck only once they are summed.
create or replace macro parse_money_precise(s) as try_cast(money_number(s) as decimal(24, 6));

create or replace macro parse_bool(s) as (
    case
        when lower(trim(s)) in ('true', 't', '1', 'yes', 'y', 'да', 'д', '+', 'on') then true
        when lower(trim(s)) in ('false', 'f', '0', 'no', 'n', 'нет', 'н', '-', 'off') then false
    end
);

-- Quarantine reasons, worded for the clinic's analyst. A value echoed in a reason is
-- quoted, cut to 60 characters, and has its phone-like digit runs masked.
create or replace macro shown(s) as '''' || left(mask_phones(trim(s)), 60) || '''';

create or replace macro missing(column_name, s) as (
    case when clean_text(s) is null then column_name || ' is missing' end
);

create or replace macro unreadable(column_name, s, parsed, expected) as (
    case
        when clean_text(s) is not null and parsed is null
            then
                case
                    when s like '%<phone>%'
                        then column_name || ' holds a phone-like number (masked), not ' || expected
                    else column_name || ' ' || shown(s) || ' is not ' || expected
                end
    end
);

-- The rounded amount is masked through a lambda so that `value` (a whole parse
-- expression) is written once, not in every branch of mask_phones: the same text, a
-- fraction of the planning.
create or replace macro negative(column_name, value) as (
    case
        when value < 0
            then
                column_name || ' '
                || list_transform([round(value, 2)::varchar], lambda v: mask_phones(v))[1]
                || ' is negative'
    end
);

-- A reason naming a column and its value as written: `what` says what is wrong with it
-- (NULL: nothing), and the value is shown (masked) only for the rows at fault.
create or replace macro problem(column_name, s, what) as (
    case when what is not null then column_name || ' ' || shown(s) || ' ' || what end
);

-- An amount beyond any clinic's single row (a typo, or 9999999999999999.99 written for
-- "unknown") would overflow the sums and swamp every total.
create or replace macro implausible_money(column_name, s, value) as (
    case
        when value > getvariable('max_plausible_amount')
            then
                column_name || ' ' || shown(s) || ' is above '
                || getvariable('max_plausible_amount') || ', not a plausible amount'
    end
);

-- Definition 16, the window a local day must fall in: not before min_plausible_date, and
-- (unless future_ok: a booking) not after the build's own date plus one day.
create or replace macro date_window(local_day, future_ok) as (
    case
        when local_day < getvariable('min_plausible_date')
            then 'is before ' || getvariable('min_plausible_date') || ', not a plausible date'
        when not future_ok and local_day > getvariable('build_date') + 1
            then
                'is after ' || (getvariable('build_date') + 1)
                || ', the build''s date plus one day'
    end
);

-- Why a date-time field is not a date (definition 16); NULL when it is one, or is empty.
-- `parsed` is parse_timestamp(s), computed once by the model.
create or replace macro timestamp_problem(column_name, s, parsed, future_ok) as problem(
    column_name,
    s,
    case
        when clean_text(s) is null then null
        when parsed is not null
            then date_window(timezone(getvariable('timezone'), parsed)::date, future_ok)
        when is_placeholder_date(s) then 'is a placeholder for "no date"'
        when not offset_ok(s) then 'has a UTC offset beyond ±14:00'
        else 'is not a date-time'
    end
);

-- The same for a date field; `parsed` is parse_date(s).
create or replace macro date_problem(column_name, s, parsed, future_ok) as problem(
    column_name,
    s,
    case
        when clean_text(s) is null then null
        when parsed is not null then date_window(parsed, future_ok)
        when is_placeholder_date(s) then 'is a placeholder for "no date"'
        else 'is not a date'
    end
);

-- The reason for a row: the reader's own, else every check that failed, else NULL.
create or replace macro reject_reason(parse_error, reasons) as (
    coalesce(
        parse_error,
        nullif(array_to_string(list_filter(reasons, lambda r: r is not null), '; '), '')
    )
);

-- The placeholders trackers and ad platforms write for "no value", in one list, whatever
-- brackets surround them: (not set), <не указано>, ‹не заполнено>, «нет данных», [none],
-- null, undefined, n/a, a lone dash.
create or replace macro is_placeholder_text(s) as regexp_full_match(
    lower(trim(s)),
    '[(\[<‹«{"]?\s*(не\s*(указано|указан|заполнено|задано|определено|определен)'
    || '|нет\s*данных|not\s*(set|provided|specified)|none|null|undefined|n/a|-)'
    || '\s*[)\]>›»}"]?'
);

-- A source, medium or campaign, or NULL when it is empty or a placeholder.
create or replace macro utm_value(s) as (
    case when clean_text(s) is null or is_placeholder_text(s) then null else trim(s) end
);
