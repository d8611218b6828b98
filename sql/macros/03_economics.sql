-- The channel-economics ratios of definition 8, one definition for the weekly mart and
-- the date-range macro: NULL when the divisor is 0, never 0 or infinity.
create or replace macro cost_per(spend, how_many) as spend / nullif(how_many, 0);

create or replace macro romi(revenue, spend) as (revenue - spend) / nullif(spend, 0);

-- Unknown is not zero: a sum over rows any of which is unknown (NULL) is unknown.
create or replace macro known_sum(x) as case when count(*) = count(x) then sum(x) end;
