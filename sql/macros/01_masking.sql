-- Phone numbers are personal data. Text the pipeline keeps (the raw layer's text fields,
-- the text of an unreadable row, a value echoed in a quarantine reason) has every
-- phone-like digit run masked: ten or more digits (a number with its area code),
-- optionally after '+', with up to three spaces, hyphens or brackets between them, not
-- glued to a Latin letter or '_' (so an identifier such as CT0000004242 survives). ISO
-- dates (2025-03-01) are not phone numbers: their hyphens are set aside (chr(30)) while
-- masking and put back after.
create or replace macro mask_phones(s) as replace(
    regexp_replace(
        regexp_replace(
            s,
            '(^|\D)(\d{4})-(\d{2})-(\d{2})',
            '\1\2' || chr(30) || '\3' || chr(30) || '\4',
            'g'
        ),
        '(^|[^0-9A-Za-z_])\+?\d(?:[ \-()]{0,3}\d){9,}',
        '\1<phone>',
        'g'
    ),
    chr(30),
    '-'
);
