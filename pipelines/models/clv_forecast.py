"""Predictive CLV: what a clinic's primary patients will still bring, per patient, per
primary doctor and per acquisition channel, and how well the same model predicted the
last `holdout_weeks` when fitted without them (pipelines/models/btyd.py has the models).

A patient's history is counted in visit days: several completed visits on one local day
(a consultation and an X-ray) are one return, as a transaction is one day in the
papers' data. `x` = days with a completed visit after the first visit's day, `t_x` and
`T` = weeks from the first day to the last such day and to the cut-off; `m` = the mean
revenue of those days. Gamma-Gamma needs a positive spend, so it is fitted on the
patients whose return days paid something (a free check-up day still counts in their
mean). Too few returning patients to fit (setting `forecast_min_repeaters`) gives no
forecast, not a number; too few paying ones gives visits with revenue NULL: a clinic
whose visits carry no amounts (exported without fees) is unknown, not worth 0.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from pipelines import warehouse
from pipelines.models import btyd, versions
from pipelines.models.btyd import (
    Fit,
    History,
    expected_spend,
    expected_visits,
    finite_mean_spend,
    fit_bgnbd,
    fit_gamma_gamma,
    interval,
    p_alive,
    simulate,
)
from pipelines.models.stopping import carried, checkpoint
from pipelines.models.versions import data_version, rows_digest, versioned
from pipelines.settings import Settings
from pipelines.warehouse import write_table

DIMENSIONS = ("clinic", "doctor", "channel")
"""The groups a forecast is summed over: the whole clinic, the primary doctor, the
first-touch acquisition channel."""
CLINIC_KEY = "all"
POOLED = "(pooled)"
"""The segment of the clinic's pooled fit, which a doctor with too few returning
patients falls back to."""
PILOT_PATIENTS = 5_000
"""Above this many patients, the fit starts from a fit of a sample of this size."""
PATIENT_CHUNK = 500
"""Patients simulated at once, every draw together: 100,000 cells at 200 draws, so the
simulation's twenty-odd temporaries (under 1 MB each) stay in the core's cache. At scale
100 the draws took 11.5 s in chunks of 500 patients against 17.4 s in chunks of 5,000
(chunks of 1,000 and 250: 12.5 and 11.4 s)."""
CODE = (Path(__file__), *(Path(str(m.__file__)) for m in (btyd, versions, warehouse)))
"""The code that turns a history into a forecast's tables (the models, the carrying, the
writing): a change makes every forecast new."""
SETTINGS_READ = (
    "credible_mass",
    "forecast_draws",
    "forecast_horizons_weeks",
    "forecast_min_repeaters",
    "forecast_visit_model",
    "holdout_weeks",
    "min_mature_patients",
    "random_seed",
)
"""The settings that shape a forecast beside its history (the cut-off is in the history)."""
FORECAST_TABLES = ("fct_patient_forecast", "int_forecast_fits", "mart_clv_forecast")

_HISTORY_SQL = """
with patients as (
    select patient_id, primary_doctor_id as doctor_id, channel,
        first_visit_local::date as first_day
    from int_primary_patients
    where first_visit_local::date <= $cutoff
),
days as (
    select v.patient_id, v.visit_local::date as day, sum(v.amount) as spend
    from int_completed_visits as v
    semi join patients as p on v.patient_id = p.patient_id
    where v.visit_local::date <= $cutoff
    group by all
),
repeats as (
    select d.patient_id,
        count(*) as x,
        max(d.day - p.first_day) / 7.0 as t_x,
        avg(d.spend) as m
    from days as d
    join patients as p on d.patient_id = p.patient_id and d.day > p.first_day
    group by d.patient_id
)
select p.patient_id, p.doctor_id, p.channel,
    coalesce(p.doctor_id, 'unknown') as segment,
    coalesce(r.x, 0)::double as x,
    coalesce(r.t_x, 0)::double as t_x,
    ($cutoff - p.first_day) / 7.0 as big_t,
    coalesce(r.x, 0)::double as x_spend,
    coalesce(r.m, 0)::double as m
from patients as p
left join repeats as r on p.patient_id = r.patient_id
order by p.patient_id
"""

_INPUT_ROWS = (
    "select patient_id, primary_doctor_id, channel, first_visit_local from int_primary_patients "
    "where first_visit_local::date <= $end",
    "select patient_id, visit_local, amount from int_completed_visits "
    "where visit_local::date <= $end",
)
"""Every column of every row `_HISTORY_SQL` and `_ACTUAL_SQL` read, up to the last day
either reads: a forecast's data version digests these (pipelines/models/versions.py)."""

_ACTUAL_SQL = """
select v.patient_id,
    count(distinct v.visit_local::date)::double as visits,
    sum(v.amount)::double as revenue
from int_completed_visits as v
where v.visit_local::date > $cutoff and v.visit_local::date <= $end
group by v.patient_id
order by v.patient_id
"""


@dataclass(frozen=True)
class Fits:
    """A segment's models; None for one the data cannot support. `own` says whether
    they were fitted on the segment's own patients or are the clinic's pooled ones."""

    visits: Fit | None
    spend: Fit | None
    own: tuple[bool, bool] = (True, True)


def load_history(conn: duckdb.DuckDBPyConnection, cutoff: date | None) -> pl.DataFrame:
    return conn.sql(_HISTORY_SQL, params={"cutoff": cutoff}).pl()


def fit_models(
    frame: pl.DataFrame, model: str, min_repeaters: int, near: Fits | None = None
) -> Fits:
    """Both models, or None for a model the data cannot support: fewer than
    `min_repeaters` patients who came back (visits) or whose returns paid (spend), a
    likelihood too flat to bound the parameters, or a spend with no finite mean."""
    checkpoint()
    if near is None and frame.height > PILOT_PATIENTS:
        # a fit on a sample starts the search near the optimum: fewer gradient steps over
        # hundreds of thousands of patients then
        near = fit_models(frame.sample(PILOT_PATIENTS, seed=0), model, min_repeaters)
    visits = spend = None
    if frame.filter(pl.col("x") > 0).height >= min_repeaters:
        columns = (frame[c].to_numpy() for c in ("x", "t_x", "big_t"))
        visits = fit_bgnbd(*columns, model, near.visits if near else None)
        visits = visits if visits.cov is not None else None
    paying = frame.filter((pl.col("x_spend") > 0) & (pl.col("m") > 0))
    if paying.height >= min_repeaters:
        spend = fit_gamma_gamma(
            paying["x_spend"].to_numpy(), paying["m"].to_numpy(), near.spend if near else None
        )
        spend = spend if spend.cov is not None and spend.params["q"] > 1 else None
    return Fits(visits, spend)


def fit_segments(
    frame: pl.DataFrame, model: str, min_repeaters: int, workers: int = 1
) -> dict[str, Fits]:
    """Models per primary doctor, falling back model by model to the clinic's pooled
    fit for a doctor with too few returning patients. Per doctor, because a doctor sets
    both the rhythm of returns (an orthodontist's monthly adjustments, a surgeon's one
    extraction) and the price of a visit: pooled, an implantologist's patient with no
    repeat visit yet would be forecast at the clinic's mean price, a hygienist's at the
    same. The doctors' fits are independent of one another (each starts from the pooled
    one): they run on `workers` threads, their likelihoods' array operations without the
    GIL, and come back in the doctors' order, so the result does not depend on timing."""
    pooled = fit_models(frame, model, min_repeaters)
    parts = sorted(
        ((str(doctor), part) for (doctor,), part in frame.group_by("segment")),
        key=lambda item: item[0],
    )
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(parts)))) as pool:
        fit = carried(lambda item: fit_models(item[1], model, min_repeaters, near=pooled))
        owns = pool.map(fit, parts)
        fits = {POOLED: pooled}
        for (doctor, _), own in zip(parts, owns, strict=True):
            fits[doctor] = Fits(
                own.visits or pooled.visits,
                own.spend or pooled.spend,
                (own.visits is not None, own.spend is not None),
            )
    return fits


def _history(frame: pl.DataFrame) -> History:
    return History(*(frame[c].to_numpy() for c in ("x", "t_x", "big_t", "x_spend", "m")))


@dataclass(frozen=True)
class Forecast:
    """Per patient: the closed-form expectations and the draws' intervals; per group of
    every dimension: the draws' sums (draws, horizons, keys), for the groups' intervals."""

    patients: pl.DataFrame
    group_draws: dict[str, tuple[list[str], np.ndarray, np.ndarray]]


def forecast(
    frame: pl.DataFrame,
    fits: dict[str, Fits],
    horizons: tuple[int, ...],
    settings: Settings,
    patient_intervals: bool = True,
) -> Forecast | None:
    """Predict every patient of `frame` over `horizons` weeks with their doctor's models;
    None when not even the pooled visit model could be fitted (too thin to tell). A
    segment with no spend model has unknown revenue, and so has every group holding it.
    Without `patient_intervals` (the holdout, which reads only groups) the patients'
    own intervals are left NaN."""
    if fits[POOLED].visits is None:
        return None
    draws, tail = settings.forecast_draws, (1 - settings.credible_mass) / 2
    n, width = frame.height, len(horizons)
    point_v, point_r, low_v, high_v, low_r, high_r = (np.full((width, n), np.nan) for _ in range(6))
    alive = np.full(n, np.nan)
    keys = {d: _keys(frame, d) for d in DIMENSIONS}
    codes = {d: _codes(frame, d, keys[d]) for d in DIMENSIONS}
    sums = {d: np.zeros((2, draws, width, len(keys[d]))) for d in DIMENSIONS}
    segment = frame["segment"].to_numpy()
    model = settings.forecast_visit_model
    everyone = _history(frame)  # once: each segment and chunk takes its rows of it

    def one_segment(name: str) -> dict[str, np.ndarray]:
        """A doctor's patients: their own cells of the per-patient arrays (no other
        segment writes there) and the segment's own group sums, returned to be added in
        a fixed order, so that the totals do not depend on which thread ended first."""
        fit = fits[name]
        assert fit.visits is not None  # falls back to the pooled fit, which exists here
        rng = np.random.default_rng([settings.random_seed, zlib.crc32(name.encode())])
        visit_draws = fit.visits.draws(rng, draws)
        # no spend model: revenue is drawn with a stand-in and then marked unknown
        spend_draws = (
            fit.spend.draws(rng, draws, finite_mean_spend)
            if fit.spend
            else np.full((draws, 3), 2.0)
        )
        own = {d: np.zeros((2, draws, width, len(keys[d]))) for d in DIMENSIONS}
        members = np.flatnonzero(segment == name)
        for part in np.array_split(members, -(-members.size // PATIENT_CHUNK)):
            checkpoint()  # a failed or interrupted build: the rest is not drawn
            visits, revenue = simulate(
                visit_draws,
                spend_draws,
                everyone.take(part),
                tuple(map(float, horizons)),
                rng,
                model,
            )
            if fit.spend is None:
                revenue[:] = np.nan
            if patient_intervals:
                low_v[:, part], high_v[:, part] = interval(visits, tail)
                low_r[:, part], high_r[:, part] = interval(revenue, tail)
            for d in DIMENSIONS:
                # every draw's and horizon's group sums in one product with a 0/1 matrix
                members_of = np.eye(len(keys[d]), dtype=np.float32)[codes[d][part]]
                own[d][0] += visits @ members_of
                own[d][1] += revenue @ members_of
        history = everyone.take(members)
        alive[members] = p_alive(fit.visits.params, history.x, history.t_x, history.big_t, model)
        spend = (
            expected_spend(fit.spend.params, history.x_spend, history.m) if fit.spend else np.nan
        )
        for h, horizon in enumerate(horizons):
            point_v[h, members] = expected_visits(
                fit.visits.params, horizon, history.x, history.t_x, history.big_t, model
            )
            point_r[h, members] = point_v[h, members] * spend
        return own

    # NumPy draws its random numbers and SciPy its special functions without the GIL:
    # the segments run on the build's cores
    names = sorted(set(segment))
    with ThreadPoolExecutor(max_workers=min(len(names), settings.cores)) as pool:
        for own in pool.map(carried(one_segment), names):  # in `names`' order, whatever ended first
            for d in DIMENSIONS:
                sums[d] += own[d]
    base = frame.select(
        "patient_id",
        "doctor_id",
        "channel",
        repeat_visit_days=pl.col("x").cast(pl.Int64),
        weeks_since_last=pl.col("big_t") - pl.col("t_x"),
        p_alive=pl.Series(alive),
    )
    patients = pl.concat(
        base.with_columns(
            horizon_weeks=pl.lit(horizon, pl.Int32),
            visits=point_v[h],
            visits_low=low_v[h],
            visits_high=high_v[h],
            revenue=point_r[h],
            revenue_low=low_r[h],
            revenue_high=high_r[h],
        )
        for h, horizon in enumerate(horizons)
    ).fill_nan(None)
    return Forecast(patients, {d: (keys[d], sums[d][0], sums[d][1]) for d in DIMENSIONS})


def _key_column(dimension: str) -> pl.Expr:
    if dimension == "clinic":
        return pl.lit(CLINIC_KEY)
    column = {"doctor": "doctor_id", "channel": "channel"}[dimension]
    return pl.col(column).cast(pl.String).fill_null("unknown")


def _keys(frame: pl.DataFrame, dimension: str) -> list[str]:
    return sorted(frame.with_columns(k=_key_column(dimension))["k"].unique().to_list())


def _codes(frame: pl.DataFrame, dimension: str, keys: list[str]) -> np.ndarray:
    index = {k: i for i, k in enumerate(keys)}
    values = frame.with_columns(k=_key_column(dimension))["k"].to_list()
    return np.array([index[v] for v in values], dtype=np.int64)


def group_table(
    result: Forecast, horizons: tuple[int, ...], mass: float, min_patients: int
) -> pl.DataFrame:
    """Per dimension, key and horizon: patients, expected visits and revenue (sums of the
    patients' expectations) with the draws' intervals, and revenue per patient. A group
    with a patient of unknown revenue has unknown revenue: a partial sum is not a total."""
    tail = (1 - mass) / 2
    frames = []
    for dimension, (keys, visit_sums, revenue_sums) in result.group_draws.items():
        points = result.patients.group_by(_key_column(dimension).alias("key"), "horizon_weeks").agg(
            patients=pl.len(),
            p_alive_mean=pl.col("p_alive").mean(),
            visits=pl.col("visits").sum(),
            revenue=pl.when(pl.col("revenue").null_count() == 0).then(pl.col("revenue").sum()),
        )
        low_v, high_v = interval(visit_sums, tail)
        low_r, high_r = interval(revenue_sums, tail)
        intervals = pl.DataFrame(
            {
                "key": [k for _ in horizons for k in keys],
                "horizon_weeks": [h for h in horizons for _ in keys],
                "visits_low": low_v.ravel(),
                "visits_high": high_v.ravel(),
                "revenue_low": low_r.ravel(),
                "revenue_high": high_r.ravel(),
            },
            schema_overrides={"horizon_weeks": pl.Int32},
        ).fill_nan(None)
        frames.append(
            points.join(intervals, on=["key", "horizon_weeks"]).with_columns(
                dimension=pl.lit(dimension)
            )
        )
    return (
        pl.concat(frames)
        .with_columns(
            patients=pl.col("patients").cast(pl.Int64),
            too_thin=pl.col("patients") < min_patients,
            revenue_per_patient=pl.col("revenue") / pl.col("patients"),
            revenue_per_patient_low=pl.col("revenue_low") / pl.col("patients"),
            revenue_per_patient_high=pl.col("revenue_high") / pl.col("patients"),
        )
        .select(list(GROUP_COLUMNS))
        .cast(GROUP_COLUMNS)
        .sort("dimension", "key", "horizon_weeks")
    )


_F, _I, _S, _B = pl.Float64, pl.Int64, pl.String, pl.Boolean
GROUP_COLUMNS: dict[str, pl.DataType] = {
    "dimension": _S,
    "key": _S,
    "horizon_weeks": pl.Int32(),
    "patients": _I,
    "too_thin": _B,
    "p_alive_mean": _F,
    "visits": _F,
    "visits_low": _F,
    "visits_high": _F,
    "revenue": _F,
    "revenue_low": _F,
    "revenue_high": _F,
    "revenue_per_patient": _F,
    "revenue_per_patient_low": _F,
    "revenue_per_patient_high": _F,
}
PATIENT_COLUMNS = {
    "patient_id": pl.String,
    "doctor_id": pl.String,
    "channel": pl.String,
    "horizon_weeks": pl.Int32,
    "repeat_visit_days": pl.Int64,
    "weeks_since_last": pl.Float64,
    "p_alive": pl.Float64,
    "visits": pl.Float64,
    "visits_low": pl.Float64,
    "visits_high": pl.Float64,
    "revenue": pl.Float64,
    "revenue_low": pl.Float64,
    "revenue_high": pl.Float64,
}
HOLDOUT_COLUMNS: dict[str, pl.DataType] = {
    "dimension": _S,
    "key": _S,
    "cutoff": pl.Date(),
    "holdout_weeks": pl.Int32(),
    "patients": _I,
    "too_thin": _B,
    "visits": _F,
    "visits_low": _F,
    "visits_high": _F,
    "actual_visits": _F,
    "visits_error": _F,
    "visits_covered": _B,
    "revenue": _F,
    "revenue_low": _F,
    "revenue_high": _F,
    "actual_revenue": _F,
    "revenue_error": _F,
    "revenue_covered": _B,
}


def forecast_cutoff(conn: duckdb.DuckDBPyConnection) -> date | None:
    """The last day the forecast knows (setting `forecast_refit`); None without a single
    data day."""
    return conn.execute("select forecast_cutoff from int_parameters").fetchall()[0][0]


def _version(
    conn: duckdb.DuckDBPyConnection, settings: Settings, cutoff: date | None, end: date | None
) -> tuple[str, int]:
    """The data version of a forecast fitted up to `cutoff` and tested up to `end`: the
    rows its history and the visits after it are computed from, up to `end`, with the
    settings and code. Also how many patients the history holds."""
    chosen = {name: getattr(settings, name) for name in SETTINGS_READ} | {"cutoff": cutoff}
    inputs = tuple(rows_digest(conn, query, {"end": end}) for query in _INPUT_ROWS)
    return data_version(CODE, chosen, inputs), inputs[0][0]


def fits_table(fits: dict[str, Fits], frame: pl.DataFrame) -> pl.DataFrame:
    """Every segment's parameters, standard errors on the log scale, log-likelihood, and
    whether the segment's own patients or the pooled fit gave them."""
    counts = dict(frame.group_by("segment").len().iter_rows()) | {POOLED: frame.height}
    rows = []
    for segment, fit in sorted(fits.items()):
        for own, (model, part) in zip(
            fit.own, (("visits", fit.visits), ("spend", fit.spend)), strict=True
        ):
            if part is None:
                continue
            errors = np.sqrt(np.diag(part.cov)) if part.cov is not None else [None] * 4
            for (name, value), error in zip(part.params.items(), errors, strict=False):
                rows.append(
                    (
                        segment,
                        model,
                        own or segment == POOLED,
                        name,
                        value,
                        error,
                        part.log_likelihood,
                        counts.get(segment, 0),
                    )
                )
    schema = {
        "segment": pl.String,
        "model": pl.String,
        "own_fit": pl.Boolean,
        "parameter": pl.String,
        "value": pl.Float64,
        "log_se": pl.Float64,
        "log_likelihood": pl.Float64,
        "patients": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def materialize_clv_forecast(
    conn: duckdb.DuckDBPyConnection, settings: Settings
) -> dict[str, object]:
    """`mart_clv_forecast` (per clinic, doctor and channel) and, beside it,
    `fct_patient_forecast` (per patient) and `int_forecast_fits` (the parameters), per
    horizon of `forecast_horizons_weeks`, from the forecast's cut-off; carried from the
    last warehouse when it was made from the same history (pipelines/models/versions.py)."""
    horizons = tuple(settings.forecast_horizons_weeks)
    cutoff = forecast_cutoff(conn)

    def compute() -> None:
        frame = load_history(conn, cutoff)
        fits = fit_segments(
            frame, settings.forecast_visit_model, settings.forecast_min_repeaters, settings.cores
        )
        result = forecast(frame, fits, horizons, settings)
        if result is None:
            patients = pl.DataFrame(schema=PATIENT_COLUMNS)
            groups = pl.DataFrame(schema=GROUP_COLUMNS)
        else:
            patients = result.patients.select(list(PATIENT_COLUMNS)).cast(PATIENT_COLUMNS)
            groups = group_table(
                result, horizons, settings.credible_mass, settings.min_mature_patients
            )
        write_table(conn, "fct_patient_forecast", patients)
        write_table(conn, "int_forecast_fits", fits_table(fits, frame))
        write_table(conn, "mart_clv_forecast", groups.with_columns(cutoff=pl.lit(cutoff, pl.Date)))

    version, patients = _version(conn, settings, cutoff, cutoff)
    metadata = versioned(conn, settings, "mart_clv_forecast", version, FORECAST_TABLES, compute)
    return metadata | {"patients": patients}


def materialize_clv_holdout(
    conn: duckdb.DuckDBPyConnection, settings: Settings
) -> dict[str, object]:
    """`mart_clv_holdout`: the models fitted on everything up to the forecast's cut-off
    minus `holdout_weeks`, their forecast of the next `holdout_weeks` (visit days and
    revenue of the patients known at that cut-off) against what those patients then did;
    carried like the forecast."""
    end = forecast_cutoff(conn)
    # no data day at all (no call, no completed visit): nothing to fit, an empty mart
    cutoff = end - timedelta(weeks=settings.holdout_weeks) if end else None

    def compute() -> None:
        frame = load_history(conn, cutoff)
        actual = conn.sql(_ACTUAL_SQL, params={"cutoff": cutoff, "end": end}).pl()
        write_table(conn, "mart_clv_holdout", _holdout(frame, actual, cutoff, settings))

    version, _ = _version(conn, settings, cutoff, end)
    return versioned(conn, settings, "mart_clv_holdout", version, ("mart_clv_holdout",), compute)


def _holdout(
    frame: pl.DataFrame, actual: pl.DataFrame, cutoff: date | None, settings: Settings
) -> pl.DataFrame:
    fits = fit_segments(
        frame, settings.forecast_visit_model, settings.forecast_min_repeaters, settings.cores
    )
    horizon = (settings.holdout_weeks,)
    result = forecast(frame, fits, horizon, settings, patient_intervals=False)
    if result is None:
        return pl.DataFrame(schema=HOLDOUT_COLUMNS)
    predicted = group_table(result, horizon, settings.credible_mass, settings.min_mature_patients)
    people = frame.join(actual, on="patient_id", how="left").with_columns(
        pl.col("visits", "revenue").fill_null(0)
    )
    observed = pl.concat(
        people.group_by(_key_column(d).alias("key"))
        .agg(
            actual_visits=pl.col("visits").sum(),
            actual_revenue=pl.col("revenue").sum(),
        )
        .with_columns(dimension=pl.lit(d))
        for d in DIMENSIONS
    )
    return (
        predicted.join(observed, on=["dimension", "key"], how="left")
        .with_columns(
            cutoff=pl.lit(cutoff),
            holdout_weeks=pl.lit(settings.holdout_weeks, pl.Int32),
            # an error relative to nothing is no number: NULL when nothing happened
            visits_error=pl.when(pl.col("actual_visits") > 0).then(
                pl.col("visits") / pl.col("actual_visits") - 1
            ),
            revenue_error=pl.when(pl.col("actual_revenue") > 0).then(
                pl.col("revenue") / pl.col("actual_revenue") - 1
            ),
            visits_covered=pl.col("actual_visits").is_between("visits_low", "visits_high"),
            revenue_covered=pl.col("actual_revenue").is_between("revenue_low", "revenue_high"),
        )
        .select(list(HOLDOUT_COLUMNS))
        .cast(HOLDOUT_COLUMNS)
    )
