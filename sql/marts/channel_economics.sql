-- channel_economics(first_day, last_day, branch := null, by_week := false): definition 8,
-- the one definition of channel economics. It serves the weekly mart (by_week), any date
-- range on the Channels page, one branch, and the totals of the Overview (channel_totals):
--     select * from channel_economics(date '2026-07-01', date '2026-09-30');
--     select * from channel_economics(date '2026-07-01', date '2026-09-30', branch := 'B1');
-- Spend is unknown (NULL) when any day with activity in the period lies outside the
-- channel's spend data, and for one branch (ad platforms do not split spend by branch);
-- the ratios built on it are NULL too, as they are when the divisor is 0.
-- cost_per_primary_low/high: the interval of spend over the Poisson rate behind the count
-- (int_poisson_limits), so two patients in a week read as the range they are; high is
-- NULL (unbounded) with no patient.
-- window_open: the period's last day + attribution window is after as_of (its leads can
-- still convert).
create or replace macro channel_economics(
    first_day, last_day, branch := null, by_week := false
) as table
    with daily as (
        select *
        from fct_channel_daily
        where
            day between first_day and last_day
            and (branch is null or branch_id = branch)
    ),

    periods as (
        select
            case
                when by_week then date_trunc('week', day)::date else first_day::date
            end as period_start,
            channel,
            case when branch is null then known_sum(spend) end as spend,
            sum(calls)::bigint as calls,
            sum(missed_calls)::bigint as missed_calls,
            sum(lost_calls)::bigint as lost_calls,
            sum(leads)::bigint as leads,
            sum(primary_patients)::bigint as primary_patients,
            sum(revenue_to_date) as revenue_to_date
        from daily
        group by all
    ),

    final as (
        select
            periods.period_start,
            case
                when by_week then periods.period_start + 6 else last_day::date  -- noqa: RF02
            end as period_end,
            periods.channel,
            periods.spend,
            periods.calls,
            periods.missed_calls,
            periods.lost_calls,
            periods.leads,
            periods.primary_patients,
            cost_per(periods.spend, periods.leads) as cost_per_lead,
            cost_per(periods.spend, periods.primary_patients) as cost_per_primary,
            cost_per(periods.spend, limits.rate_high) as cost_per_primary_low,
            cost_per(periods.spend, limits.rate_low) as cost_per_primary_high,
            periods.revenue_to_date,
            romi(periods.revenue_to_date, periods.spend) as romi,
            period_end + int_parameters.attribution_window_days > int_parameters.as_of
                as window_open
        from periods
        cross join int_parameters
        left join int_poisson_limits as limits on periods.primary_patients = limits.k
    )

    select * from final
    order by period_start, channel
