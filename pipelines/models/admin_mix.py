"""Administrators against the conversion their lead mix predicts.

An administrator who answers mostly ProDoctorov leads (people who have chosen a doctor
already), or works the easy hours, converts more without being better. So beside the raw
and the shrunk rate stands a mix-adjusted one, from a hierarchical logistic model:

    logit P(lead converts) = b0 + channel + hour-of-week bucket + branch + admin

with weak N(0, 10²) priors on the mix effects and N(0, σ²) on the administrators' effects.
σ, how different the administrators are, is not fixed at a point: each σ of a grid is
fitted (on leads grouped by those factors, binomial counts, by Newton's method), weighted
by its Laplace approximation of the marginal likelihood (a flat prior on log σ), and the
draws come from that mixture, so a team that does not differ is not made to, and the
intervals carry the doubt about how much it does.

* `expected_conversion`: what a typical administrator would convert on this one's leads
  (their channels, branches and hours; the administrator effect set to 0);
* `mix_adjusted`: what this administrator would convert on the whole team's lead mix
  (standardisation), with a 90% interval from the Laplace posterior (seeded draws);
* `mix_adjusted_for`: the factors the data can tell apart from the administrators (a
  branch whose administrators work only there cannot be: see `_mix_columns`).

Ranked by `mix_adjusted`, the order is the order of skill, not of luck in the leads one
answers. `tests/test_statistics.py` plants a team whose raw order is the reverse of its
skill order only through channel mix, and recovers the skill order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import special

FIXED_PRIOR_SD = 10.0
SIGMA_GRID = np.exp(np.linspace(np.log(0.02), np.log(3.0), 25))
NEWTON_STEPS = 50
DRAWS = 4_000


def hour_bucket(started_local: pl.Expr) -> pl.Expr:
    """The part of the week a call came in: weekends apart, weekdays by time of day."""
    hour = started_local.dt.hour()
    return (
        pl.when(started_local.dt.weekday() >= 6)
        .then(pl.lit("weekend"))
        .when(hour < 12)
        .then(pl.lit("weekday morning"))
        .when(hour < 15)
        .then(pl.lit("weekday lunch"))
        .when(hour < 19)
        .then(pl.lit("weekday afternoon"))
        .otherwise(pl.lit("weekday evening"))
    )


@dataclass(frozen=True)
class _Fit:
    beta: np.ndarray
    covariance: np.ndarray
    log_evidence: float


def _fit(x: np.ndarray, n: np.ndarray, k: np.ndarray, precision: np.ndarray) -> _Fit:
    """MAP of a binomial logistic model with a Gaussian prior, by Newton's method, with
    its Laplace approximation (covariance and log marginal likelihood)."""
    beta = np.zeros(x.shape[1])
    for _ in range(NEWTON_STEPS):
        p = special.expit(x @ beta)
        gradient = x.T @ (k - n * p) - precision * beta
        hessian = (x * (n * p * (1 - p))[:, None]).T @ x + np.diag(precision)
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    eta = x @ beta
    log_lik = float(np.sum(k * eta - n * np.logaddexp(0, eta)))
    log_prior = float(-0.5 * np.sum(precision * beta**2) + 0.5 * np.sum(np.log(precision)))
    p = special.expit(eta)
    hessian = (x * (n * p * (1 - p))[:, None]).T @ x + np.diag(precision)
    _, log_det = np.linalg.slogdet(hessian)
    return _Fit(beta, np.linalg.inv(hessian), log_lik + log_prior - 0.5 * log_det)


MIX = (("channel", "channel"), ("bucket", "hour of the week"), ("branch_id", "branch"))
"""What a lead's chance depends on besides who answers: the factors adjusted for."""


def _mix_columns(groups: pl.DataFrame, admins: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """The intercept and one indicator per level of each mix factor (its first level the
    baseline), keeping only the levels the data can tell apart from the administrators.
    When every administrator works one branch, a branch's pull and its administrators'
    skill are the same columns of data: no model can split them (only a prior would, and
    the interval would balloon to say so), so the branch is left out and the mix is
    channels and hours. A central call centre answering every branch keeps it. Returns
    the columns and the factors adjusted for."""
    span = np.column_stack([(groups["admin_id"] == a).to_numpy() for a in admins]).astype(float)
    rank = np.linalg.matrix_rank(span)
    columns, adjusted_for = [np.ones(groups.height)], []
    for column, name in MIX:
        levels = sorted(groups[column].unique().to_list())
        for level in levels[1:]:
            candidate = (groups[column] == level).to_numpy().astype(float)
            widened = np.column_stack([span, candidate])
            if np.linalg.matrix_rank(widened) > rank:
                span, rank = widened, rank + 1
                columns.append(candidate)
                if name not in adjusted_for:
                    adjusted_for.append(name)
    return columns, adjusted_for


def mix_adjusted(leads: pl.DataFrame, *, credible_mass: float, seed: int) -> pl.DataFrame:
    """`leads` has admin_id, channel, branch_id, bucket, converted (one row per lead);
    returns per admin_id: expected_conversion, mix_adjusted, mix_low, mix_high, and
    mix_adjusted_for (the factors the data could separate from the administrators)."""
    groups = (
        leads.with_columns(pl.col("branch_id").fill_null("(none)"))
        .group_by("admin_id", "channel", "branch_id", "bucket")
        .agg(n=pl.len(), k=pl.col("converted").cast(pl.Int64).sum())
        .sort("admin_id", "channel", "branch_id", "bucket")
    )
    admins = sorted(groups["admin_id"].unique().to_list())
    columns, adjusted_for = _mix_columns(groups, admins)
    n_fixed = len(columns)
    columns += [(groups["admin_id"] == a).to_numpy().astype(float) for a in admins]
    x = np.column_stack(columns)
    n = groups["n"].to_numpy().astype(float)
    k = groups["k"].to_numpy().astype(float)
    fits = []
    for sigma in SIGMA_GRID:
        precision = np.r_[np.full(n_fixed, FIXED_PRIOR_SD**-2), np.full(len(admins), sigma**-2)]
        fits.append(_fit(x, n, k, precision))
    evidence = np.array([f.log_evidence for f in fits])
    weight = np.exp(evidence - evidence.max())
    weight /= weight.sum()
    rng = np.random.default_rng(seed)
    per_fit = rng.multinomial(DRAWS, weight)
    draws = np.vstack(
        [
            rng.multivariate_normal(f.beta, f.covariance, size=m, method="cholesky")
            for f, m in zip(fits, per_fit, strict=True)
            if m
        ]
    )
    best = fits[int(np.argmax(weight))]
    base = x[:, :n_fixed]
    base_eta = base @ draws[:, :n_fixed].T  # groups × draws
    weights = n / n.sum()
    tail = (1 - credible_mass) / 2
    out = []
    for position, admin in enumerate(admins):
        effect = draws[:, n_fixed + position]
        standardised = weights @ special.expit(base_eta + effect[None, :])
        own = groups["admin_id"].to_numpy() == admin
        expected = float(n[own] @ special.expit(base[own] @ best.beta[:n_fixed]) / n[own].sum())
        low, high = np.quantile(standardised, [tail, 1 - tail])
        out.append((admin, expected, float(standardised.mean()), float(low), float(high)))
    return pl.DataFrame(
        out,
        schema={
            "admin_id": pl.String,
            "expected_conversion": pl.Float64,
            "mix_adjusted": pl.Float64,
            "mix_low": pl.Float64,
            "mix_high": pl.Float64,
        },
        orient="row",
    ).with_columns(mix_adjusted_for=pl.lit(", ".join(adjusted_for)))
