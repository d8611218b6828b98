-- The import CTE of every staging model: one raw table's records, their text fields
-- packed into the struct `t` (so typed columns can reuse the names), their origin and
-- the reader's parse error. The record as read reaches quarantine through `raw_text`,
-- for the rejected rows alone.
create or replace macro raw_records(raw_table) as table
    select
        struct_pack(*columns(* exclude (_source_file, _line, _parse_error, _raw))) as t,
        _source_file as source_file,
        _line as line,
        _parse_error as parse_error
    from query_table(raw_table);

-- The record as read, by file and line, for the rows the gate sends to quarantine: the
-- reader's own (masked) text for a row it could not split, else the record as JSON
-- (phones already hashed).
create or replace macro raw_text(raw_table) as table
    with rejected as (
        select records.*
        from query_table(raw_table) as records  -- noqa: RF02
        semi join _rejects
            on
                records._source_file = _rejects.source_file
                and records._line is not distinct from _rejects.line
    )

    select
        _source_file as source_file,
        _line as line,
        coalesce(
            _raw,
            to_json(
                struct_pack(*columns(* exclude (_source_file, _line, _parse_error, _raw)))
            )::varchar
        ) as raw
    from rejected;
