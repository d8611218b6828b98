"""How sure each doctor's figures are: 90% intervals for CLV and satisfaction.

Revenue is skewed (a few implant patients carry a doctor's mean), and a clinic's doctors
have tens to hundreds of primary patients and surveys, so a mean alone reads as a fact
when it is not one. Per doctor:

* `clv_to_date` and `clv_365`: the studentized bootstrap (bootstrap-t) over the doctor's
  patients, seeded; past `BOOTSTRAP_MAX_PATIENTS`, the t interval it converges to; and
  the median beside the mean. Percentile and Bayesian bootstraps, BCa and the plain t
  interval all cover too little on skewed revenue at 30 to 150 patients (simulated:
  77-87% for a nominal 90%); bootstrap-t is the one that stays near 90%
  (tests/test_statistics.py prints its coverage);
* NPS: the posterior of the shares of promoters, passives and detractors under a uniform
  Dirichlet(1, 1, 1) prior; the mean score: bootstrap-t over the surveys.

The mart flags what is too thin to tell (settings `min_surveys`, `min_mature_patients`).
"""

from __future__ import annotations

import zlib

import duckdb
import numpy as np
import polars as pl
from scipy import special

from pipelines.settings import Settings
from pipelines.warehouse import write_table

DRAWS = 2_000
SCORE_BOUNDS = (0.0, 10.0)
"""A survey score is 0 to 10 (definition 11)."""
BOOTSTRAP_MAX_PATIENTS = 2_000
"""Beyond this many, the t interval (the bootstrap's limit) saves the resamples' memory."""


def mean_interval(
    values: np.ndarray,
    rng: np.random.Generator,
    mass: float,
    bounds: tuple[float, float] = (0.0, np.inf),
) -> tuple[float, float]:
    """The interval holding `mass` of the mean of `values`, within `bounds` (revenue is
    never negative, a score never above 10); the high end is inf when the data cannot
    bound it. NaN, NaN for fewer than two values or for values all alike: no spread seen,
    so nothing says how wide the truth may be (thirty patients who each paid 3,000 are
    not proof that the next one will).

    A resample with no spread (every patient a non-payer) has an infinite pivot, not a
    dropped one: with 29 non-payers and one large plan, a third of the resamples hold no
    payer at all, and the interval's top is then unbounded, as it should be."""
    n = values.size
    mean = float(values.mean()) if n else np.nan
    se = float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    if n < 2 or se == 0:
        return np.nan, np.nan
    tail = (1 - mass) / 2
    if n > BOOTSTRAP_MAX_PATIENTS:
        half = special.stdtrit(n - 1, 1 - tail) * se
        low, high = mean - half, mean + half
    else:
        resamples = values[rng.integers(0, n, size=(DRAWS, n))]
        errors = resamples.std(axis=1, ddof=1) / np.sqrt(n)
        shift = resamples.mean(axis=1) - mean
        with np.errstate(divide="ignore", invalid="ignore"):
            pivots = np.where(errors > 0, shift / errors, np.sign(shift) * np.inf)
        low_pivot = np.quantile(pivots, tail, method="lower")
        high_pivot = np.quantile(pivots, 1 - tail, method="higher")
        low, high = mean - high_pivot * se, mean - low_pivot * se
    return float(max(low, bounds[0])), float(min(high, bounds[1]))


def nps_counts(scores: np.ndarray) -> list[int]:
    """Promoters (9-10), passives (7-8), detractors (0-6): definition 11."""
    return [
        int((scores >= 9).sum()),
        int(((scores >= 7) & (scores <= 8)).sum()),
        int((scores <= 6).sum()),
    ]


def nps_draws(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`DRAWS` draws of NPS (points) from the posterior of the three shares under a uniform
    Dirichlet(1, 1, 1) prior."""
    shares = rng.dirichlet(np.asarray(nps_counts(scores), dtype=float) + 1.0, size=DRAWS)
    return 100 * (shares[:, 0] - shares[:, 2])


def observed_nps(scores: np.ndarray) -> float:
    """% promoters minus % detractors of the scores (definition 11)."""
    promoters, _, detractors = nps_counts(scores)
    return 100 * (promoters - detractors) / scores.size


def nps_interval(scores: np.ndarray, rng: np.random.Generator, mass: float) -> tuple[float, float]:
    """The interval holding `mass` of NPS (points) from the survey scores (NaN, NaN for none). The
    posterior pulls an all-promoter NPS of 100 below 100; the interval is widened to hold
    the observed figure, so the page never shows an estimate outside its own bar."""
    if scores.size == 0:
        return np.nan, np.nan
    nps = nps_draws(scores, rng)
    tail = (1 - mass) / 2
    low, high = np.quantile(nps, [tail, 1 - tail])
    observed = observed_nps(scores)
    return float(min(low, observed)), float(max(high, observed))


def doctor_intervals(
    patients: pl.DataFrame, surveys: pl.DataFrame, *, mass: float, seed: int
) -> pl.DataFrame:
    """`patients`: doctor_id, revenue_to_date, revenue_horizon, is_mature (one row per
    primary patient); `surveys`: doctor_id, score."""
    doctors = sorted(
        set(patients["doctor_id"].drop_nulls().to_list())
        | set(surveys["doctor_id"].drop_nulls().to_list())
    )
    rows = []
    for doctor in doctors:
        # each doctor's own stream: adding a doctor moves no other doctor's interval
        rng = np.random.default_rng([seed, zlib.crc32(str(doctor).encode())])
        own = patients.filter(pl.col("doctor_id") == doctor)
        # sorted: the warehouse returns rows in no set order, and the resamples index them
        to_date = np.sort(own["revenue_to_date"].cast(pl.Float64).to_numpy())
        mature = np.sort(
            own.filter(pl.col("is_mature"))["revenue_horizon"].cast(pl.Float64).to_numpy()
        )
        scores = np.sort(
            surveys.filter(pl.col("doctor_id") == doctor)["score"].to_numpy().astype(float)
        )
        rows.append(
            (
                doctor,
                *mean_interval(to_date, rng, mass),
                *mean_interval(mature, rng, mass),
                float(np.median(mature)) if mature.size else np.nan,
                *nps_interval(scores, rng, mass),
                *mean_interval(scores, rng, mass, SCORE_BOUNDS),
            )
        )
    columns = [
        "doctor_id",
        "clv_to_date_low",
        "clv_to_date_high",
        "clv_365_low",
        "clv_365_high",
        "clv_365_median",
        "nps_low",
        "nps_high",
        "score_mean_low",
        "score_mean_high",
    ]
    schema = {c: pl.Float64 for c in columns} | {"doctor_id": pl.String}
    frame = pl.DataFrame(rows, schema=schema, orient="row").fill_nan(None)
    # an unbounded end is unknown, not a number: NULL ("no upper bound" on the page)
    return frame.with_columns(
        pl.when(pl.col(c).is_infinite()).then(None).otherwise(pl.col(c)).alias(c)
        for c in columns[1:]
    )


def materialize_doctor_intervals(
    conn: duckdb.DuckDBPyConnection, settings: Settings
) -> dict[str, int]:
    patients = conn.sql(
        "select doctor_id, revenue_to_date, revenue_horizon, is_mature from int_patient_values"
    ).pl()
    surveys = conn.sql("select doctor_id, score from int_survey_scores").pl()
    frame = doctor_intervals(
        patients, surveys, mass=settings.credible_mass, seed=settings.random_seed
    )
    write_table(conn, "int_doctor_intervals", frame)
    return {"dagster/row_count": frame.height}
