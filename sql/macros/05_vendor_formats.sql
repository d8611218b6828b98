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
-- VAT (setting vat_rate_to_strip) removed; text that is no amount stays as written, for
-- the staging model to quarantine with its reason.
create or replace macro platform_cost(cost, platform, in_micros) as coalesce(
    round(
        parse_money(cost)
        / (
            (case when in_micros then 1000000 else 1 end)
            * (1 + getvariable('vat_rate_to_strip')[platform])
        ),
        2
    )::varchar,
    cost
);
