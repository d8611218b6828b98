-- Phone numbers are personal data. Text the pipeline keeps (the raw layer's text fields,
-- the text of an unreadable row, a value echoed in a quarantine reason, file and header
-- names) has every phone-like digit run masked as <phone>: 10 to 15 digits (a number with
-- its area code, up to E.164's longest), optionally after '+', with up to three
-- separators between them (spaces of any width, hyphens and dashes, brackets, dots,
-- slashes, underscores), wherever it stands, glued to letters or not. A longer digit run
-- is not a phone (an amount, an identifier). The pass runs twice: a match takes the
-- character after it, so a phone right after another is caught by the second pass.
create or replace macro mask_phone_runs(s) as regexp_replace(
    s,
    '(^|\D)(\+?\d(?:[ \-().\/_\x{2013}\x{2014}\x{00A0}\x{2009}\x{202F}]{0,3}\d){9,14})($|\D)',
    '\1<phone>\3',
    'g'
);

-- Dates are not phone numbers: 2025-03-01, 01.03.2025 and 01/03/2025 are fenced (a
-- control character, 31, before each, and 29/30 for their separators) so no run can
-- start in them or reach into them, then unfenced.
create or replace macro fence_dates(s) as regexp_replace(
    regexp_replace(
        s,
        '(^|\D)(\d{4})-(\d{2})-(\d{2})',
        '\1' || chr(31) || '\2' || chr(30) || '\3' || chr(30) || '\4',
        'g'
    ),
    '(^|\D)(\d{1,2})([./])(\d{1,2})[./](\d{4})',
    '\1' || chr(31) || '\2' || chr(29) || '\3\4' || chr(29) || '\3\5',
    'g'
);

create or replace macro unfence_dates(s) as replace(
    replace(replace(replace(s, chr(29) || '.', '.'), chr(29) || '/', '/'), chr(30), '-'),
    chr(31),
    ''
);

-- Three shortcuts spare the four regular expressions on most cells, with the same result:
-- text shorter than ten characters holds no ten digits, a well-formed date or timestamp
-- (ISO or dd.mm.yyyy, with time and offset) is exactly what fencing keeps, and text
-- without ten digits joined by at most three separators holds no run to mask (a search,
-- not a replacement: nothing is copied).
create or replace macro is_plain_timestamp(s) as regexp_full_match(
    s,
    '(\d{4}-\d{2}-\d{2}|\d{2}\.\d{2}\.\d{4})'
    || '([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+\-]\d{2}(:?\d{2})?)?)?'
);

create or replace macro may_hold_phone(s) as regexp_matches(
    s, '\d(?:[ \-().\/_\x{2013}\x{2014}\x{00A0}\x{2009}\x{202F}]{0,3}\d){9}'
);

create or replace macro mask_phones(s) as case
    when length(s) < 10 or is_plain_timestamp(s) or not may_hold_phone(s) then s
    else unfence_dates(mask_phone_runs(mask_phone_runs(fence_dates(s))))
end;
