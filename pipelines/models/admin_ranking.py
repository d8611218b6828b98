"""Administrators ranked fairly (METRICS.md definition 9), with honest uncertainty.

Each administrator's conversion θ_i is drawn from one Beta(α, β) shared by the team. The
maximum-likelihood α, β of the earlier empirical-Bayes fit collapse whenever the spread
between administrators is below binomial noise (the normal case for a small clinic: the
likelihood then wants α + β → ∞, every shrunk rate comes out equal and the intervals
vanish). So the team-level parameters are not fixed at a point: they are integrated over,
as in Gelman et al., *Bayesian Data Analysis* (3rd ed.) §5.3, with the prior
p(α, β) ∝ (α + β)^(-5/2) on a grid over (log(α/β), log(α + β)). Each administrator's
posterior is the mixture of Beta(α + k_i, β + n_i − k_i) over that grid.

From it: `conversion_shrunk` (the posterior mean, exact over the grid), the 90% interval
and P(best) / P(top 3) (from joint draws: the administrators share each draw of α, β, so
their comparison carries the uncertainty about how different they really are). The draws
are seeded: one input, one answer. `tests/test_statistics.py` proves the calibration by
simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

GRID_POINTS = 160
"""Per axis of the (log(α/β), log(α+β)) grid: fine enough that a finer one moves no
figure in the third decimal."""
LOGIT_MEAN = (-7.0, 7.0)
"""log(α/β): team mean conversion from 0.1% to 99.9%."""
LOG_STRENGTH = (float(np.log(2.0)), 12.0)
"""log(α + β): from administrators as far apart as a uniform spread of rates (α + β = 2)
to indistinguishable (160,000). BDA3's prior is improper toward α + β → 0, and when every
administrator converts none (or all) of their leads, as in a new deployment whose leads
are all still in the window, the posterior piles up at whatever bound the grid has: from
a bound of 0.14 the interval of three administrators with 30-50 leads and no conversion
reached 0.8%, below the 2.5% their 120 leads alone allow. Below α + β = 2 the team's rates
would be U-shaped (administrators mostly at 0% or 100%), which no call centre is; with
that bound the same team's interval reaches 2.4%, and teams planted at 0.5-3% are
covered 92% of the time."""
DRAWS = 20_000
TOP = 3


@dataclass(frozen=True)
class TeamPosterior:
    alpha: np.ndarray
    beta: np.ndarray
    weight: np.ndarray
    """Posterior probability of each grid cell (sums to 1)."""


def team_posterior(leads: np.ndarray, wins: np.ndarray) -> TeamPosterior:
    """p(α, β | every administrator's leads and conversions) on the grid (BDA3 eq. 5.8)."""
    u = np.linspace(*LOGIT_MEAN, GRID_POINTS)
    v = np.linspace(*LOG_STRENGTH, GRID_POINTS)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    strength = np.exp(vv).ravel()
    alpha = strength * special.expit(uu).ravel()
    beta = strength - alpha
    # the prior (α+β)^(-5/2), times the Jacobian αβ of the change to (log(α/β), log(α+β))
    log_post = np.log(alpha) + np.log(beta) - 2.5 * np.log(strength)
    for n, k in zip(leads, wins, strict=True):
        log_post += special.betaln(alpha + k, beta + n - k) - special.betaln(alpha, beta)
    weight = np.exp(log_post - log_post.max())
    return TeamPosterior(alpha, beta, weight / weight.sum())


@dataclass(frozen=True)
class Ranking:
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p_best: np.ndarray
    p_top: np.ndarray
    team_alpha: float
    team_beta: float


def rank(
    leads: np.ndarray,
    wins: np.ndarray,
    *,
    credible_mass: float,
    seed: int = 0,
    draws: int = DRAWS,
    ranked: np.ndarray | None = None,
) -> Ranking:
    """Posterior means, intervals and P(best)/P(top 3) for every administrator; P(best)
    and P(top 3) are among the `ranked` ones only (those with enough leads)."""
    leads = np.asarray(leads, dtype=float)
    wins = np.asarray(wins, dtype=float)
    ranked = np.ones(leads.size, bool) if ranked is None else np.asarray(ranked, bool)
    team = team_posterior(leads, wins)
    a = team.alpha[:, None] + wins[None, :]
    b = team.beta[:, None] + (leads - wins)[None, :]
    mean = team.weight @ (a / (a + b))
    rng = np.random.default_rng(seed)
    cells = rng.choice(team.weight.size, size=draws, p=team.weight)
    theta = rng.beta(a[cells], b[cells])
    tail = (1 - credible_mass) / 2
    low, high = np.quantile(theta, [tail, 1 - tail], axis=0)
    p_best = np.zeros(leads.size)
    p_top = np.zeros(leads.size)
    if ranked.any():
        among = np.where(ranked[None, :], theta, -np.inf)
        order = np.argsort(-among, axis=1)
        p_best = np.bincount(order[:, 0], minlength=leads.size) / draws
        top = min(TOP, int(ranked.sum()))
        p_top = np.bincount(order[:, :top].ravel(), minlength=leads.size) / draws
    return Ranking(
        mean,
        low,
        high,
        np.where(ranked, p_best, np.nan),
        np.where(ranked, p_top, np.nan),
        float(team.weight @ team.alpha),
        float(team.weight @ team.beta),
    )
