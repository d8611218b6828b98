"""`int_poisson_limits`: for every count a channel can reach, the interval of the rate
behind it, so a cost per primary patient from two patients is drawn as the range it is.

A week's primary patients are a Poisson count: 2 patients are consistent with a rate from
0.36 to 6.3 a week (90%). Cost per primary patient = spend / rate, so its interval is
spend / high to spend / low (and unbounded above for 0 patients). The limits are the exact
(Garwood) ones from the chi-square quantiles up to `EXACT_UP_TO` (χ²_q(2k)/2 is the
inverse regularised gamma, from scipy.special, which imports far faster than
scipy.stats); beyond, the Wilson-Hilferty cube-root form, within a millionth of exact
there and far faster (a chain's channel reaches a million patients). DuckDB has no
chi-square quantile, hence a table that `channel_economics` joins on the count.
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
from scipy import special

from pipelines.settings import Settings
from pipelines.warehouse import write_table

EXACT_UP_TO = 5_000


def poisson_limits(largest: int, mass: float) -> pl.DataFrame:
    """k = 0..largest with the interval holding `mass` of the Poisson mean behind k."""
    tail = (1 - mass) / 2
    k = np.arange(largest + 1, dtype=float)
    low = np.zeros_like(k)
    high = np.empty_like(k)
    exact = k <= EXACT_UP_TO
    low[exact & (k > 0)] = special.gammaincinv(k[exact & (k > 0)], tail)
    high[exact] = special.gammaincinv(k[exact] + 1, 1 - tail)
    z = special.ndtri(1 - tail)
    far, far_next = k[~exact], k[~exact] + 1
    low[~exact] = far * (1 - 1 / (9 * far) - z / (3 * np.sqrt(far))) ** 3
    high[~exact] = far_next * (1 - 1 / (9 * far_next) + z / (3 * np.sqrt(far_next))) ** 3
    return pl.DataFrame({"k": k.astype(np.int64), "rate_low": low, "rate_high": high})


def materialize_poisson_limits(
    conn: duckdb.DuckDBPyConnection, settings: Settings
) -> dict[str, int]:
    """Up to the most primary patients any channel has over all the data: no date range
    the Channels page can ask for counts more."""
    largest = conn.execute(
        "select coalesce(max(n), 0) from "
        "(select count(*) as n from int_primary_patients group by channel)"
    ).fetchall()[0][0]
    frame = poisson_limits(int(largest), settings.credible_mass)
    write_table(conn, "int_poisson_limits", frame)
    return {"dagster/row_count": frame.height}
