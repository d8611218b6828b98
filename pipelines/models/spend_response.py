"""Spend → leads response curves per paid channel, and where the next rouble should go.

Per channel, weekly leads are Poisson with log E[leads] = a + b·log(spend) + the
season (a yearly wave of organic demand, from the free channels): `b` is the
elasticity (a 10% larger budget brings b·10% more leads; below 1, each new rouble brings
fewer calls). Fitted by Poisson maximum likelihood (IRLS) per channel, its standard error
widened by the overdispersion the weeks show (quasi-Poisson), then pooled across channels
(empirical Bayes, DerSimonian-Laird): a channel with few leads or a narrow range of spend
borrows from the others, one with many keeps its own. A channel whose weekly spend barely
varied (log-spend spread under `response_min_log_spread`) or has too few weeks says
"cannot tell": its curve is not drawn and its budget is not moved.

The budget shift keeps the total weekly budget of the channels that can tell, and moves
it to maximise expected primary patients (each channel's leads times the primary patients
its leads have brought per lead), each channel kept within the weekly spend it has
actually had (no extrapolation beyond the data). Its expected gain carries the curves' uncertainty:
the same shift evaluated under `forecast_draws` draws of every channel's (a, b).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl
from scipy import optimize, special

from pipelines.settings import Settings
from pipelines.warehouse import write_table

CURVE_POINTS = 40
"""Points of each channel's drawn curve, across the spend it has had."""
CAN_TELL = "fitted"
RESPONSE_COLUMNS: dict[str, pl.DataType] = {
    "channel": pl.String(),
    "weeks": pl.Int64(),
    "verdict": pl.String(),
    **dict.fromkeys(
        (
            "elasticity_own",
            "elasticity",
            "elasticity_low",
            "elasticity_high",
            "current_weekly_spend",
            "current_weekly_leads",
            "spend_min",
            "spend_max",
            "marginal_cost_per_lead",
            "marginal_cost_per_lead_low",
            "marginal_cost_per_lead_high",
            "suggested_weekly_spend",
            "leads_gain",
        ),
        pl.Float64(),
    ),
}


@dataclass(frozen=True)
class ChannelFit:
    channel: str
    weeks: int
    status: str
    own: tuple[float, float] | None = None
    """(b, standard error of b) from the channel's own weeks."""
    intercept: float = np.nan
    elasticity: float = np.nan
    se: float = np.nan
    cov: np.ndarray | None = None
    """Covariance of (a, b) after pooling, for the draws."""


class NoFitError(ValueError):
    """The Poisson fit has no finite optimum: the leads do not follow the spend (all of a
    channel's few leads in its dearest week send the elasticity to infinity)."""


MAX_ELASTICITY = 5.0
"""An elasticity beyond ±5 (a budget 10% larger bringing 50% more leads) is not a curve
the data support but a fit running away: the channel cannot tell."""


def poisson_fit(
    design: np.ndarray, y: np.ndarray, offset: np.ndarray | float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients of log E[y] = offset + design @ β by Poisson maximum likelihood (IRLS;
    the design's first column the constant), and their covariance scaled by the Pearson
    overdispersion (never below Poisson's own). Raises NoFitError when IRLS does not converge
    to a finite optimum."""
    beta = np.zeros(design.shape[1])
    beta[0] = np.log(max(y.mean(), 1e-9))
    with np.errstate(all="ignore"):
        for _ in range(50):
            mu = np.exp(offset + design @ beta)
            try:
                step = np.linalg.solve(design.T @ (design * mu[:, None]), design.T @ (y - mu))
            except np.linalg.LinAlgError as exc:
                raise NoFitError from exc
            beta = beta + step
            if not np.isfinite(beta).all():
                raise NoFitError
            if np.max(np.abs(step)) < 1e-10:
                break
        else:
            raise NoFitError
        mu = np.exp(offset + design @ beta)
        information = design.T @ (design * mu[:, None])
        residual = float(((y - mu) ** 2 / mu).sum())
    dispersion = max(1.0, residual / max(len(y) - design.shape[1], 1))
    try:
        return beta, np.linalg.inv(information) * dispersion
    except np.linalg.LinAlgError as exc:
        raise NoFitError from exc


def weekly_history(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Full weeks (ending on or before as_of) of every channel, with the week's place in
    the year (radians) for the seasonal wave."""
    return conn.sql(
        """
        select weekly.channel, weekly.week_start, weekly.spend::double as spend,
               weekly.leads::bigint as leads,
               weekly.primary_patients::bigint as primary_patients,
               2 * pi() * (dayofyear(weekly.week_start) + 3) / 365.25 as angle
        from mart_channel_weekly as weekly
        cross join int_parameters as parameters
        where weekly.week_start + 6 <= parameters.as_of
        order by weekly.channel, weekly.week_start
        """
    ).pl()


def seasonal_wave(history: pl.DataFrame) -> tuple[float, float] | None:
    """The clinic's organic demand through the year, from the channels that cost nothing
    (spend 0 in every week: SEO, direct calls): log E[their weekly leads] = c + s·sin +
    k·cos of the week's place in the year. A paid channel's spend that rises in high
    season would otherwise take the season's leads for its own (in the demo, Yandex
    Direct's elasticity read 0.72 for a planted 0.6); with the wave as an offset it does
    not. None without free channels or with fewer than 52 weeks of them."""
    free = (
        history.group_by("channel")
        .agg((pl.col("spend").fill_null(-1) == 0).all().alias("free"))
        .filter(pl.col("free"))["channel"]
    )
    weeks = (
        history.filter(pl.col("channel").is_in(free.implode()))
        .group_by("week_start", "angle")
        .agg(pl.col("leads").sum())
        .sort("week_start")
    )
    if weeks.height < 52 or weeks["leads"].sum() == 0:
        return None
    angle = weeks["angle"].to_numpy()
    design = np.column_stack([np.ones_like(angle), np.sin(angle), np.cos(angle)])
    beta, _ = poisson_fit(design, weeks["leads"].to_numpy().astype(float))
    return float(beta[1]), float(beta[2])


def season_offset(wave: tuple[float, float] | None, angle: np.ndarray) -> np.ndarray:
    if wave is None:
        return np.zeros_like(angle)
    return wave[0] * np.sin(angle) + wave[1] * np.cos(angle)


def fit_channels(history: pl.DataFrame, settings: Settings) -> list[ChannelFit]:
    """Every paid channel's own fit (its weeks with a known, positive spend, the seasonal
    wave as an offset), then the pooled elasticities."""
    wave = seasonal_wave(history)
    paid = history.filter(pl.col("spend") > 0)
    fits = []
    for (channel,), weeks in paid.group_by("channel", maintain_order=True):
        log_spend = np.log(weeks["spend"].to_numpy())
        leads = weeks["leads"].to_numpy().astype(float)
        offset = season_offset(wave, weeks["angle"].to_numpy())
        if weeks.height < settings.response_min_weeks:
            fits.append(ChannelFit(str(channel), weeks.height, "cannot tell: too few weeks"))
        elif log_spend.std() < settings.response_min_log_spread:
            fits.append(ChannelFit(str(channel), weeks.height, "cannot tell: spend barely varied"))
        elif leads.sum() == 0:
            fits.append(ChannelFit(str(channel), weeks.height, "cannot tell: no leads"))
        else:
            centred = log_spend - log_spend.mean()
            design = np.column_stack([np.ones_like(centred), centred])
            try:
                beta, cov = poisson_fit(design, leads, offset)
            except NoFitError:
                beta, cov = np.full(2, np.inf), None
            if cov is None or abs(beta[1]) > MAX_ELASTICITY:
                fits.append(
                    ChannelFit(str(channel), weeks.height, "cannot tell: leads do not follow spend")
                )
                continue
            fits.append(
                ChannelFit(
                    str(channel),
                    weeks.height,
                    CAN_TELL,
                    own=(float(beta[1]), float(np.sqrt(cov[1, 1]))),
                    cov=cov,
                )
            )
    return pool(fits, paid, wave)


def pool(
    fits: list[ChannelFit], history: pl.DataFrame, wave: tuple[float, float] | None
) -> list[ChannelFit]:
    """Shrink each fitted channel's elasticity towards the channels' common one by
    DerSimonian-Laird: τ² (the channels' true spread) from how much more the estimates
    vary than their errors say; each then weighs its own estimate against the mean by
    their precisions. The intercept is refitted with the elasticity fixed (the curve must
    still pass through the channel's own weeks)."""
    fitted = [f for f in fits if f.own is not None]
    if not fitted:
        return fits
    b = np.array([f.own[0] for f in fitted])  # type: ignore[index]
    v = np.array([f.own[1] ** 2 for f in fitted])  # type: ignore[index]
    w = 1 / v
    mean_fixed = (w * b).sum() / w.sum()
    q = (w * (b - mean_fixed) ** 2).sum()
    tau2 = max(0.0, (q - (len(b) - 1)) / (w.sum() - (w**2).sum() / w.sum())) if len(b) > 1 else 0.0
    w_star = 1 / (v + tau2)
    mean = (w_star * b).sum() / w_star.sum()
    mean_var = 1 / w_star.sum()
    out = []
    for fit in fits:
        if fit.own is None:
            out.append(fit)
            continue
        own_b, own_se = fit.own
        if tau2 == 0:  # no spread beyond noise: every channel has the common elasticity
            shrunk, var = mean, mean_var
        else:
            precision = 1 / own_se**2 + 1 / tau2
            shrunk = (own_b / own_se**2 + mean / tau2) / precision
            var = 1 / precision + (1 / tau2 / precision) ** 2 * mean_var
        weeks = history.filter(pl.col("channel") == fit.channel)
        log_spend = np.log(weeks["spend"].to_numpy())
        leads = weeks["leads"].to_numpy().astype(float)
        offset = season_offset(wave, weeks["angle"].to_numpy())
        # with b fixed, the Poisson MLE of a makes fitted and observed leads add up
        intercept = float(np.log(leads.sum() / np.exp(shrunk * log_spend + offset).sum()))
        se_a = 1 / np.sqrt(leads.sum())
        cov = np.array(
            [
                [se_a**2 + var * log_spend.mean() ** 2, -var * log_spend.mean()],
                [-var * log_spend.mean(), var],
            ]
        )
        out.append(
            ChannelFit(
                fit.channel,
                fit.weeks,
                fit.status,
                fit.own,
                intercept,
                float(shrunk),
                float(np.sqrt(var)),
                cov,
            )
        )
    return out


def expected_leads(intercept: object, elasticity: object, spend: object) -> np.ndarray:
    """The curve itself, E[weekly leads] = exp(a + b·log spend), broadcast over arrays of
    parameter draws and of spends alike: the one home of the formula."""
    return np.exp(
        np.asarray(intercept) + np.asarray(elasticity) * np.log(np.asarray(spend, dtype=float))
    )


def leads_at(fit: ChannelFit, spend: object) -> np.ndarray:
    return expected_leads(fit.intercept, fit.elasticity, spend)


def best_shift(
    fits: list[ChannelFit],
    current: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    worth: np.ndarray,
) -> np.ndarray:
    """The weekly spends, each within [low, high], adding up to the current total, that
    maximise Σ worth × expected leads: with `worth` each channel's primary patients per
    lead, the expected primary patients (concave when every elasticity is below 1)."""
    total = current.sum()

    def negative(spend: np.ndarray) -> float:
        return -sum(w * float(leads_at(f, s)) for f, s, w in zip(fits, spend, worth, strict=True))

    result = optimize.minimize(
        negative,
        current,
        method="SLSQP",
        bounds=list(zip(low, high, strict=True)),
        constraints=[{"type": "eq", "fun": lambda s: s.sum() - total}],
        options={"ftol": 1e-10, "maxiter": 500},
    )
    chosen = result.x if result.success else current
    # never worse than today at the point estimates
    return chosen if -negative(chosen) >= -negative(current) else current


def materialize_spend_response(
    conn: duckdb.DuckDBPyConnection, settings: Settings
) -> dict[str, int]:
    """`mart_spend_response` (per channel), `mart_spend_curve` (per channel and spend) and
    `mart_budget_shift` (one row)."""
    history = weekly_history(conn)
    fits = fit_channels(history, settings)
    history = history.filter(pl.col("spend") > 0)
    mass, tail = settings.credible_mass, (1 - settings.credible_mass) / 2
    z = float(special.ndtri(1 - tail))
    recent = history.group_by("channel").agg(
        pl.col("spend").tail(settings.response_recent_weeks).mean().alias("current_spend"),
        pl.col("leads").tail(settings.response_recent_weeks).mean().alias("current_leads"),
        pl.col("spend").min().alias("spend_min"),
        pl.col("spend").max().alias("spend_max"),
        (pl.col("primary_patients").sum() / pl.col("leads").sum()).alias("patients_per_lead"),
    )
    told = [f for f in fits if f.status == CAN_TELL]
    by_channel = {row["channel"]: row for row in recent.iter_rows(named=True)}
    current = np.array([by_channel[f.channel]["current_spend"] for f in told])
    low = np.array([by_channel[f.channel]["spend_min"] for f in told])
    high = np.array([by_channel[f.channel]["spend_max"] for f in told])
    per_lead = np.array([by_channel[f.channel]["patients_per_lead"] or 0.0 for f in told])
    suggested = best_shift(told, current, low, high, per_lead) if told else current
    rng = np.random.default_rng(settings.random_seed)
    draws = [
        rng.multivariate_normal([f.intercept, f.elasticity], f.cov, settings.forecast_draws)
        for f in told
    ]

    def leads_under(spend: np.ndarray) -> np.ndarray:
        """Expected weekly leads of every draw (rows) for each channel (columns)."""
        return (
            np.column_stack(
                [expected_leads(d[:, 0], d[:, 1], s) for d, s in zip(draws, spend, strict=True)]
            )
            if told
            else np.zeros((settings.forecast_draws, 0))
        )

    gain_draws = leads_under(suggested) - leads_under(current)
    rows = []
    for fit in fits:
        own = by_channel.get(fit.channel, {})
        row = {
            "channel": fit.channel,
            "weeks": fit.weeks,
            "verdict": fit.status,
            "elasticity_own": fit.own[0] if fit.own else None,
            "elasticity": None,
            "elasticity_low": None,
            "elasticity_high": None,
            "current_weekly_spend": own.get("current_spend"),
            "current_weekly_leads": own.get("current_leads"),
            "spend_min": own.get("spend_min"),
            "spend_max": own.get("spend_max"),
            "marginal_cost_per_lead": None,
            "marginal_cost_per_lead_low": None,
            "marginal_cost_per_lead_high": None,
            "suggested_weekly_spend": None,
            "leads_gain": None,
        }
        if fit.status == CAN_TELL:
            i = told.index(fit)
            spend = current[i]
            fitted_leads = float(leads_at(fit, spend))
            b_low, b_high = fit.elasticity - z * fit.se, fit.elasticity + z * fit.se
            # marginal cost = spend / (b · leads): dearer the smaller b
            row |= {
                "elasticity": fit.elasticity,
                "elasticity_low": b_low,
                "elasticity_high": b_high,
                "marginal_cost_per_lead": spend / (fit.elasticity * fitted_leads),
                "marginal_cost_per_lead_low": spend / (b_high * fitted_leads)
                if b_high > 0
                else None,
                "marginal_cost_per_lead_high": spend / (b_low * fitted_leads)
                if b_low > 0
                else None,
                "suggested_weekly_spend": float(suggested[i]),
                "leads_gain": float(leads_at(fit, suggested[i])) - fitted_leads,
            }
        rows.append(row)
    response = pl.DataFrame(rows, schema=RESPONSE_COLUMNS, orient="row")
    curves = []
    for i, fit in enumerate(told):
        grid = np.geomspace(low[i], high[i], CURVE_POINTS) if high[i] > low[i] else low[i : i + 1]
        sampled = expected_leads(draws[i][:, [0]], draws[i][:, [1]], grid[None, :])
        curves.append(
            pl.DataFrame(
                {
                    "channel": fit.channel,
                    "spend": grid,
                    "leads": leads_at(fit, grid),
                    "leads_low": np.quantile(sampled, tail, axis=0),
                    "leads_high": np.quantile(sampled, 1 - tail, axis=0),
                }
            )
        )
    curve = (
        pl.concat(curves)
        if curves
        else pl.DataFrame(
            schema={c: pl.Float64 for c in ("spend", "leads", "leads_low", "leads_high")}
            | {"channel": pl.String}
        )
    )
    total_gain = gain_draws.sum(axis=1)
    patients_gain = (gain_draws * per_lead).sum(axis=1)
    point_gain = sum(r["leads_gain"] or 0.0 for r in rows)
    point_patients = sum(
        (r["leads_gain"] or 0.0) * by_channel[r["channel"]]["patients_per_lead"]
        for r in rows
        if r["leads_gain"] is not None
    )
    shift = pl.DataFrame(
        {
            "channels_moved": [len(told)],
            "weekly_budget": [float(current.sum())],
            "leads_now": [
                float(sum(float(leads_at(f, s)) for f, s in zip(told, current, strict=True)))
            ],
            "leads_gain": [float(point_gain)],
            "leads_gain_low": [float(np.quantile(total_gain, tail)) if told else None],
            "leads_gain_high": [float(np.quantile(total_gain, 1 - tail)) if told else None],
            "patients_gain": [float(point_patients)],
            "patients_gain_low": [float(np.quantile(patients_gain, tail)) if told else None],
            "patients_gain_high": [float(np.quantile(patients_gain, 1 - tail)) if told else None],
            "gain_probability": [float((total_gain > 0).mean()) if told else None],
            "credible_mass": [mass],
        }
    )
    write_table(conn, "mart_spend_response", response)
    write_table(conn, "mart_spend_curve", curve)
    write_table(conn, "mart_budget_shift", shift)
    return {"dagster/row_count": response.height, "channels_that_can_tell": len(told)}
