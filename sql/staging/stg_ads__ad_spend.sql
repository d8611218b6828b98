-- Ad spend per day and campaign, typed; one row per record read. Cost is kept to a
-- millionth: rows of one file below the key's grain (`grain`: an ad, an hour, a device)
-- are parts of one total that the gate sums before rounding to the kopeck.
-- Spend in another currency is rejected, and so is a platform's row whose currency
-- neither the export nor the settings tell (an empty currency in the canonical form is
-- the deployment's).
with raw_rows as (
    select * from raw_records('raw_ad_spend')
),

-- each value parsed once: the checks below read the parsed columns
parsed as (
    select
        *,
        parse_date(t.date) as parsed_date,
        parse_money_precise(t.cost) as parsed_cost,
        parse_int(t.clicks) as parsed_clicks,
        parse_int(t.impressions) as parsed_impressions
    from raw_rows
),

typed as (
    select
        parsed_date as date,
        coalesce(lower(utm_value(t.source)), '') as source,
        coalesce(lower(utm_value(t.medium)), '') as medium,
        coalesce(utm_value(t.campaign), '') as campaign,
        parsed_cost as cost,
        upper(coalesce(clean_text(t.currency), getvariable('currency'))) as currency,
        parsed_clicks as clicks,
        parsed_impressions as impressions,
        clean_text(t.grain) as grain,
        source_file,
        line,
        reject_reason(parse_error, [
            missing('date', t.date),
            date_problem('date', t.date, parsed_date, false),
            missing('source', t.source),
            missing('cost', t.cost),
            unreadable('cost', t.cost, parsed_cost, 'an amount of money'),
            negative('cost', parsed_cost),
            implausible_money('cost', t.cost, parsed_cost),
            case
                when starts_with(t.currency, 'unknown:')
                    then
                        'currency unknown: the export names none and the setting '
                        || 'ad_platform_currency has none for '
                        || substr(t.currency, 9)
                when upper(clean_text(t.currency)) <> getvariable('currency')
                    then
                        'currency ' || shown(t.currency) || ' is not '
                        || getvariable('currency') || ', the currency of this deployment'
            end,
            unreadable('clicks', t.clicks, parsed_clicks, 'a whole number'),
            negative('clicks', parsed_clicks),
            unreadable('impressions', t.impressions, parsed_impressions, 'a whole number'),
            negative('impressions', parsed_impressions)
        ]) as reject_reason
    from parsed
)

select * from typed
