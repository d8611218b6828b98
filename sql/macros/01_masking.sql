-- Phone numbers are personal data. Text the pipeline keeps (the raw layer's text fields,
-- the text of an unreadable row, a value echoed in a quarantine reason, file and header
-- names) has every phone-like digit run masked as <phone>: 10 to 15 digits (a number with
-- its area code, up to E.164's longest), optionally after a plus, with up to five
-- separators between two digits, wherever it stands, glued to letters or not. A longer
-- digit run is not a phone (an amount, an identifier). Digits and separators are those a
-- person reads in a phone, at least every one libphonenumber accepts (the loader
-- identifies a caller by it, so what it reads as a number is never left in free text):
-- digits of any script (full-width, Arabic-Indic); a run of spaces of any width, tabs,
-- line breaks and invisible marks (soft hyphen, zero-width space and joiners, direction
-- marks, word joiner), which counts as one separator; hyphens, dashes and minus signs,
-- brackets, dots, middle dots, commas, slashes, pipes, underscores, tildes; the escapes a
-- JSON or HTML export writes for them (\n, \t, &nbsp;). The pass runs twice: a match
-- takes the character after it, so a phone right after another is caught by the second
-- pass. Tests: tests/test_phones.py.
create or replace macro phone_separator() as
'(?:[\s\x{0B}\p{Z}\x{00AD}\x{200B}-\x{200F}\x{2060}\x{FEFF}]+'
|| '|[\p{Pd}\-().,\/|_~\[\]\x{00B7}\x{2212}\x{2053}\x{223C}\x{30FB}\x{30FC}'
|| '\x{FF08}\x{FF09}\x{FF0E}\x{FF0F}\x{FF3B}\x{FF3D}\x{FF5E}]'
|| '|\\[nrt]|&nbsp;|&#160;)';

-- A digit and `n` more (a count or a range), each after up to five separators.
create or replace macro phone_digits(n) as
'\p{Nd}(?:' || phone_separator() || '{0,5}\p{Nd}){' || n || '}';

-- A run starts after anything but a digit or a date's fence (below), and ends before a
-- non-digit.
create or replace macro mask_phone_runs(s) as regexp_replace(
    s,
    '(^|[^\p{Nd}\x{1F}])([+\x{FF0B}]?' || phone_digits('9,14') || ')($|\P{Nd})',
    '\1<phone>\3',
    'g'
);

-- Dates are not phone numbers: 2025-03-01, 01.03.2025 and 01/03/2025 (a year of 1900 to
-- 2099, a month 1 to 12, a day 1 to 31: not any 4-2-2 digits, which a phone can hold)
-- are fenced (a control character, 31, before each of their parts) so no run can start
-- in them or reach into them, then unfenced.
create or replace macro fence_dates(s) as regexp_replace(
    regexp_replace(
        s,
        '(^|\D)((?:19|20)\d{2})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])',
        '\1' || chr(31) || '\2-' || chr(31) || '\3-' || chr(31) || '\4',
        'g'
    ),
    '(^|\D)(0?[1-9]|[12]\d|3[01])([./])(0?[1-9]|1[0-2])([./])((?:19|20)\d{2})',
    '\1' || chr(31) || '\2\3' || chr(31) || '\4\5' || chr(31) || '\6',
    'g'
);

create or replace macro unfence_dates(s) as replace(s, chr(31), '');

-- Three shortcuts spare the regular expressions on most cells: text shorter than ten
-- characters holds no ten digits, a cell that is a date or timestamp alone (ISO or
-- dd.mm.yyyy, with time and offset) is a date, kept as written for its check to judge,
-- and text without ten digits joined by separators holds no run to mask (a search, not a
-- replacement: nothing is copied).
create or replace macro is_plain_timestamp(s) as regexp_full_match(
    s,
    '(\d{4}-\d{2}-\d{2}|\d{2}\.\d{2}\.\d{4})'
    || '([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+\-]\d{2}(:?\d{2})?)?)?'
);

create or replace macro may_hold_phone(s) as regexp_matches(s, phone_digits('9'));

create or replace macro mask_phones(s) as case
    when length(s) < 10 or is_plain_timestamp(s) or not may_hold_phone(s) then s
    else unfence_dates(mask_phone_runs(mask_phone_runs(fence_dates(s))))
end;
