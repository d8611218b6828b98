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
--
-- Why separators and digits are marked first: DuckDB compiles a regular expression
-- wherever it is called (every masked column of every query, again on each thread), and
-- a pattern counting 10 to 15 digits with up to five of these separators between each two
-- holds seventy copies of the separators' Unicode classes and fifteen of the digits':
-- one call of the macro cost 27-42 ms, 2.5 s of a clinic's build. So one pass wraps every
-- separator in two control characters (29 before, 30 after), another puts one (28) before
-- every digit that is not ASCII, the counting pattern steps over a wrapped stretch
-- whatever it holds and reads a digit as [0-9] or a mark and the character after it (a
-- few machine instructions a copy: 7-9 ms a call), and the marks go at the end with the
-- date fences. On 200,000 random strings of digits of three scripts, every separator,
-- escapes, dates and phones, the output is the same as the unmarked pattern's.
create or replace macro phone_separator() as
'(?:[\s\x{0B}\p{Z}\x{00AD}\x{200B}-\x{200F}\x{2060}\x{FEFF}]+'
|| '|[\p{Pd}\-().,\/|_~\[\]\x{00B7}\x{2212}\x{2053}\x{223C}\x{30FB}\x{30FC}'
|| '\x{FF08}\x{FF09}\x{FF0E}\x{FF0F}\x{FF3B}\x{FF3D}\x{FF5E}]'
|| '|\\[nrt]|&nbsp;|&#160;)';

create or replace macro mark_separators(s) as regexp_replace(
    s, phone_separator(), chr(29) || '\0' || chr(30), 'g'
);

-- A digit of another script than ASCII's is marked too (28 before it), so that the
-- counting pattern spells a digit as [0-9] or a mark and what follows it.
create or replace macro mark_digits(s) as regexp_replace(
    s, '[^\P{Nd}0-9]', chr(28) || '\0', 'g'
);

create or replace macro phone_digit() as '(?s:[0-9]|\x{1C}.)';

-- A run starts after anything but a digit, a digit's mark or a date's fence (below),
-- and ends before a non-digit: a digit, then 9 to 14 more, each after up to five marked
-- separators. What follows a run is taken with it as one character of the text was
-- before the marks: a separator's opening mark and its first character (and its closing
-- mark when nothing else is left of it), so the two passes find what they found without
-- marks.
create or replace macro mask_phone_runs(s) as regexp_replace(
    s,
    '(^|[^\p{Nd}\x{1C}\x{1F}])([+\x{FF0B}]?' || phone_digit()
    || '(?:(?:\x{1D}[^\x{1E}]*\x{1E}){0,5}' || phone_digit() || '){9,14})'
    || '($|(?s:\x{1D}.\x{1E}|\x{1D}.)|[^0-9\x{1C}\x{1D}])',
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

-- The marks (28 to 31) go at the end. The same invisible characters already in text
-- that may hold a phone are written as spaces first, separators as a reader sees them,
-- so no text can pose as a mark and none can hide a phone.
create or replace macro information_separators() as chr(28) || chr(29) || chr(30) || chr(31);

create or replace macro drop_marks(s) as translate(s, information_separators(), '');

create or replace macro blank_marks(s) as translate(s, information_separators(), '    ');

-- Three shortcuts spare the regular expressions on most cells: text shorter than ten
-- characters holds no ten digits, a cell that is a date or timestamp alone (ISO or
-- dd.mm.yyyy, with time and offset) is a date, kept as written for its check to judge,
-- and text with fewer than ten digits holds no run to mask (a search, not a replacement:
-- nothing is copied).
create or replace macro is_plain_timestamp(s) as regexp_full_match(
    s,
    '(\d{4}-\d{2}-\d{2}|\d{2}\.\d{2}\.\d{4})'
    || '([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+\-]\d{2}(:?\d{2})?)?)?'
);

create or replace macro may_hold_phone(s) as regexp_matches(s, '(?s)\p{Nd}(?:.*\p{Nd}){9}');

create or replace macro mask_phones(s) as case
    when length(s) < 10 or is_plain_timestamp(s) or not may_hold_phone(s) then s
    else
        drop_marks(
            mask_phone_runs(
                mask_phone_runs(mark_digits(mark_separators(fence_dates(blank_marks(s)))))
            )
        )
end;
