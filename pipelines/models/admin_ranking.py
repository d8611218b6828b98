"""Administrators ranked fairly (METRICS.md definition 9): empirical-Bayes beta-binomial.

Each administrator's conversion p_i is taken to come from one Beta(alpha, beta) shared by
the whole team. alpha and beta are fitted by maximum likelihood of the beta-binomial to all
administrators' (leads, primary patients) counts. Each administrator's posterior is then
Beta(alpha + k_i, beta + n_i - k_i): its mean is `conversion_shrunk`, its 5% and 95%
quantiles the 90% credible interval. Five lucky calls move the posterior a little; a
thousand calls move it almost all the way to the raw rate, so a 5-for-5 newcomer cannot
outrank a steady 60% over 1,000 leads.
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
from scipy import optimize, stats

LOG_BOUNDS = (-6.0, 12.0)
"""alpha and beta between e^-6 and e^12: wide enough for any team, finite when every
administrator converts at the same rate (the likelihood then wants infinite confidence)."""


def fit_prior(leads: np.ndarray, conversions: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood Beta(alpha, beta) of the beta-binomial over all administrators.

    Starts from the method-of-moments estimate; with no leads at all it returns the
    uniform Beta(1, 1).
    """
    mask = leads > 0
    n, k = leads[mask], conversions[mask]
    if n.size == 0:
        return 1.0, 1.0
    rates = k / n
    mean = float(np.clip(rates.mean(), 0.01, 0.99))
    var = float(rates.var()) if n.size > 1 else 0.0
    strength = mean * (1 - mean) / var - 1 if var > 0 else 100.0
    start = np.log(
        np.clip([mean * max(strength, 0.1), (1 - mean) * max(strength, 0.1)], *np.exp(LOG_BOUNDS))
    )

    def negative_log_likelihood(log_params: np.ndarray) -> float:
        a, b = np.exp(log_params)
        return -float(stats.betabinom.logpmf(k, n, a, b).sum())

    result = optimize.minimize(
        negative_log_likelihood, start, method="L-BFGS-B", bounds=[LOG_BOUNDS, LOG_BOUNDS]
    )
    alpha, beta = np.exp(result.x)
    return float(alpha), float(beta)


def rank_administrators(counts: pl.DataFrame, credible_mass: float = 0.9) -> pl.DataFrame:
    """`counts` has admin_id, admin_name, leads, primary_patients; adds the ranking columns."""
    leads = counts["leads"].cast(pl.Float64).to_numpy()
    wins = counts["primary_patients"].cast(pl.Float64).to_numpy()
    alpha, beta = fit_prior(leads, wins)
    post_a, post_b = alpha + wins, beta + leads - wins
    tail = (1 - credible_mass) / 2
    ranked = counts.with_columns(
        leads=pl.col("leads").cast(pl.Int64),
        primary_patients=pl.col("primary_patients").cast(pl.Int64),
        conversion=pl.col("primary_patients") / pl.col("leads").cast(pl.Float64),
        conversion_shrunk=pl.Series(post_a / (post_a + post_b), dtype=pl.Float64),
        ci_low=pl.Series(stats.beta.ppf(tail, post_a, post_b), dtype=pl.Float64),
        ci_high=pl.Series(stats.beta.ppf(1 - tail, post_a, post_b), dtype=pl.Float64),
        prior_alpha=pl.lit(alpha),
        prior_beta=pl.lit(beta),
    ).sort(["conversion_shrunk", "leads", "admin_id"], descending=[True, True, False])
    return ranked.with_columns(rank=pl.int_range(1, ranked.height + 1, dtype=pl.Int64)).select(
        "admin_id",
        "admin_name",
        "leads",
        "primary_patients",
        "conversion",
        "conversion_shrunk",
        "ci_low",
        "ci_high",
        "rank",
        "prior_alpha",
        "prior_beta",
    )


def materialize_admin_conversion(conn: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Rank `int_admin_leads` and store it as `mart_admin_conversion`; what it reports."""
    ranked = rank_administrators(conn.sql("select * from int_admin_leads order by admin_id").pl())
    conn.register("_ranked", ranked)
    conn.execute("create or replace table mart_admin_conversion as select * from _ranked")
    conn.unregister("_ranked")
    alpha, beta = (ranked["prior_alpha"][0], ranked["prior_beta"][0]) if ranked.height else (0, 0)
    return {
        "dagster/row_count": ranked.height,
        "prior_alpha": float(alpha),
        "prior_beta": float(beta),
    }
