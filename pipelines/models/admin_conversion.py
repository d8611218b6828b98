"""`mart_admin_conversion`: every administrator's leads and conversions, the hierarchical
ranking (pipelines/models/admin_ranking.py) and the mix-adjusted rate
(pipelines/models/admin_mix.py) side by side. An administrator with fewer leads than the
setting `admin_min_leads` is listed, not ranked: their interval is shown, their place is
not, and P(best) / P(top 3) are among the ranked ones."""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.models.admin_mix import hour_bucket, mix_adjusted
from pipelines.models.admin_ranking import TOP, rank
from pipelines.settings import Settings
from pipelines.warehouse import write_table

COLUMNS = (
    "admin_id",
    "admin_name",
    "leads",
    "primary_patients",
    "conversion",
    "conversion_shrunk",
    "ci_low",
    "ci_high",
    "rank",
    "ranked",
    "p_best",
    f"p_top{TOP}",
    "expected_conversion",
    "mix_adjusted",
    "mix_ci_low",
    "mix_ci_high",
    "mix_adjusted_for",
    "prior_alpha",
    "prior_beta",
)


def admin_conversion(counts: pl.DataFrame, leads: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """`counts`: admin_id, admin_name, leads, primary_patients; `leads`: one row per lead
    with admin_id, channel, branch_id, started_local, converted."""
    counts = counts.with_columns(pl.col("leads", "primary_patients").cast(pl.Int64))
    if counts.is_empty():
        text, whole = ("admin_id", "admin_name", "mix_adjusted_for"), ("leads", "primary_patients")
        kinds = {"ranked": pl.Boolean, "rank": pl.Int64} | dict.fromkeys(whole, pl.Int64)
        kinds |= dict.fromkeys(text, pl.String)
        return pl.DataFrame(schema={c: kinds.get(c, pl.Float64) for c in COLUMNS})
    ranked = (counts["leads"] >= settings.admin_min_leads).to_numpy()
    result = rank(
        counts["leads"].to_numpy(),
        counts["primary_patients"].to_numpy(),
        credible_mass=settings.credible_mass,
        seed=settings.random_seed,
        ranked=ranked,
    )
    frame = counts.with_columns(
        conversion=pl.col("primary_patients") / pl.col("leads").cast(pl.Float64),
        conversion_shrunk=pl.Series(result.mean),
        ci_low=pl.Series(result.low),
        ci_high=pl.Series(result.high),
        ranked=pl.Series(ranked),
        p_best=pl.Series(result.p_best),
        **{f"p_top{TOP}": pl.Series(result.p_top)},
        prior_alpha=pl.lit(result.team_alpha),
        prior_beta=pl.lit(result.team_beta),
    ).with_columns(pl.col("p_best", f"p_top{TOP}").fill_nan(None))
    mixed = mix_adjusted(
        leads.with_columns(bucket=hour_bucket(pl.col("started_local"))),
        credible_mass=settings.credible_mass,
        seed=settings.random_seed,
    ).rename({"mix_low": "mix_ci_low", "mix_high": "mix_ci_high"})
    frame = frame.join(mixed, on="admin_id", how="left")
    order = frame.filter(pl.col("ranked")).sort(
        ["conversion_shrunk", "leads", "admin_id"], descending=[True, True, False]
    )
    places = order.select("admin_id", rank=pl.int_range(1, order.height + 1, dtype=pl.Int64))
    frame = frame.join(places, on="admin_id", how="left")
    return frame.sort(
        ["rank", "leads", "admin_id"], descending=[False, True, False], nulls_last=True
    ).select(COLUMNS)


def materialize_admin_conversion(
    conn: duckdb.DuckDBPyConnection, settings: Settings
) -> dict[str, float]:
    counts = conn.sql("select * from int_admin_leads order by admin_id").pl()
    leads = conn.sql(
        "select admin_id, channel, branch_id, started_local, converted "
        "from int_lead_conversions where admin_id is not null"
    ).pl()
    frame = admin_conversion(counts, leads, settings)
    write_table(conn, "mart_admin_conversion", frame)
    return {
        "dagster/row_count": frame.height,
        "ranked": int(frame["ranked"].sum()) if frame.height else 0,
    }
