-- The import CTE of every staging model: one raw table's records, their text fields
-- packed into the struct `t` (so typed columns can reuse the names), their origin, the
-- reader's parse error, and `raw`: the record as JSON (phones already hashed) or, for a
-- row the reader could not split, its masked text.
create or replace macro raw_records(raw_table) as table
    select
        struct_pack(*columns(* exclude (_source_file, _line, _parse_error, _raw))) as t,
        _source_file as source_file,
        _line as line,
        _parse_error as parse_error,
        coalesce(
            _raw,
            to_json(
                struct_pack(*columns(* exclude (_source_file, _line, _parse_error, _raw)))
            )::varchar
        ) as raw
    from query_table(raw_table);
