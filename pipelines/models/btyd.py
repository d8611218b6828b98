"""Buy-till-you-die models of a patient's future: how many more visits, and what they pay.

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while
  alive, a patient visits as a Poisson process of rate λ ~ Gamma(r, α); after each visit
  they leave for good with probability p ~ Beta(a, b). A patient is summarised by `x`
  (repeat visits), `t_x` (time of the last one since the first) and `T` (time since
  the first visit).
* **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves"): a
  visit's spend is Gamma(p, ν) with ν ~ Gamma(q, γ) per patient, independent of the
  visit process. A patient is summarised by `x` and `m`, the mean of their repeat visits'
  spend.

Both are fitted by maximum likelihood, as the papers do (tests/test_btyd.py reproduces
their CDNOW estimates); the observed information gives the parameters' covariance. A
prediction is drawn, not just computed: parameters from their sampling distribution, then
each patient's λ, p and ν from their posterior given the patient's history, then the
future visits and their spend. So an interval holds both what the model does not know
about its parameters and the luck of a few patients, and a sum over a doctor's patients
is a sum of draws, with its own honest width. The closed forms (expected visits,
P(alive)) give the point figures; the draws agree with them on average.

Why not PyMC-Marketing: its CLV module fits the same two models (by MAP or MCMC) but
brings PyMC and PyTensor (a compile of about 13 s cold, hundreds of MB) for likelihoods
that fit in a few lines of SciPy; the published figures are the test either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

Objective = Callable[[np.ndarray], float]


@dataclass(frozen=True)
class Fit:
    """Maximum-likelihood estimates, their covariance on the log scale (where they are
    fitted and where their sampling distribution is closest to normal), and the
    log-likelihood at the optimum. `cov` is None when the likelihood is too flat to tell
    (the Hessian is not positive definite): the data cannot bound the parameters."""

    params: dict[str, float]
    cov: np.ndarray | None
    log_likelihood: float
    log_shift: np.ndarray | None = None
    """How far each log-parameter sits from the scale it was fitted on (Gamma-Gamma's γ is
    fitted in units of the mean spend), so draws keep within the fit's own bounds."""
    plausible: Callable[[np.ndarray], bool] | None = None
    """Whether a parameter vector (on the fitted log scale) lies in the likelihood-ratio
    region of PLAUSIBLE_MASS: the data's own verdict, beyond the normal approximation."""

    def draws(
        self,
        rng: np.random.Generator,
        n: int,
        valid: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        """`n` parameter vectors (rows, in `params` order) from their sampling distribution:
        the normal approximation on the log scale, kept to the vectors the data find
        plausible (`plausible`) and the model allows (`valid`: Gamma-Gamma's q > 1, a
        finite mean spend). Where the likelihood has a long flat ridge (every patient of a
        doctor paying alike sends q and γ to infinity together) the normal approximation
        reaches far along it, to values the likelihood rules out (q near 1: a mean spend
        near infinite); those are drawn again. For a likelihood that is normal, the
        truncation removes one draw in a thousand."""
        centre = np.log(list(self.params.values()))
        if self.cov is None:
            return np.tile(np.exp(centre), (n, 1))
        shift = np.zeros(centre.size) if self.log_shift is None else self.log_shift
        kept = np.empty((0, centre.size))
        for _ in range(100):
            drawn = rng.multivariate_normal(centre, self.cov, size=n, method="svd")
            # a nearly flat likelihood can put draws beyond what was searched: held at the edge
            drawn = np.clip(drawn, LOG_BOUNDS[0] + shift, LOG_BOUNDS[1] + shift)
            if self.plausible is not None:
                drawn = drawn[[self.plausible(row - shift) for row in drawn]]
            drawn = np.exp(drawn)
            kept = np.vstack([kept, drawn if valid is None else drawn[valid(drawn)]])
            if len(kept) >= n:
                return kept[:n]
        raise ValueError("the fitted parameters' distribution lies outside the model's support")


PLAUSIBLE_MASS = 0.999
"""Parameter draws are kept within the likelihood-ratio region of this mass."""


VISIT_MODELS = {"bg_nbd": 0, "mbg_nbd": 1}
"""The visit models and their one difference, the dropout chances before the last visit
seen: BG/NBD lets a patient leave only after a repeat visit, so one who never came back
is certainly still a patient; MBG/NBD (Batislam, Denizel & Filiztekin 2007) lets them
leave after the first visit too, which is what most one-visit patients of a clinic do."""


def bgnbd_log_likelihood(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, model: str = "bg_nbd"
) -> np.ndarray:
    """Each patient's log-likelihood under BG/NBD (FHL 2005, equation 6) or MBG/NBD."""
    r, alpha, a, b = params
    k = VISIT_MODELS[model]
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    alive = special.betaln(a, b + x + k) - special.betaln(a, b) - (r + x) * np.log(alpha + big_t)
    # left after the last visit seen: B(a+1, b+x+k-1) needs a visit to leave after
    can_leave = x + k > 0
    left = np.full_like(alive, -np.inf)
    xr = x[can_leave]
    left[can_leave] = (
        special.betaln(a + 1, b + xr + k - 1)
        - special.betaln(a, b)
        - (r + xr) * np.log(alpha + t_x[can_leave])
    )
    return common + np.logaddexp(alive, left)


def gamma_gamma_log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Each patient's log-likelihood of their mean spend `m` over `x` visits (x > 0)."""
    p, q, gamma = params
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x)
    )


def fit_bgnbd(
    x: np.ndarray,
    t_x: np.ndarray,
    big_t: np.ndarray,
    model: str = "bg_nbd",
    near: Fit | None = None,
) -> Fit:
    """BG/NBD (or MBG/NBD) by maximum likelihood over the patients' (x, t_x, T); `near`,
    a fit of similar patients (the clinic's, for one doctor's), is where the search starts."""
    (x, t_x, big_t), count = _distinct(x, t_x, big_t)

    def objective(theta: np.ndarray) -> float:
        return -float(count @ bgnbd_log_likelihood(np.exp(theta), x, t_x, big_t, model))

    warm = np.log(list(near.params.values())) if near else None
    return _fit(objective, ("r", "alpha", "a", "b"), np.zeros(4), warm)


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray, near: Fit | None = None) -> Fit:
    """Gamma-Gamma by maximum likelihood over patients with at least one repeat visit and
    a positive mean spend (the model's support); `near` as for `fit_bgnbd`."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    # fitted in units of the mean spend, so that γ (a scale in money) is near 1 whatever
    # the currency and the bounds mean the same for roubles and dollars; then back
    scale = float(np.mean(m))
    (x_seen, m_seen), count = _distinct(x, m / scale)

    def objective(theta: np.ndarray) -> float:
        return -float(count @ gamma_gamma_log_likelihood(np.exp(theta), x_seen, m_seen))

    warm = None
    if near:
        warm = np.log([near.params["p"], near.params["q"], near.params["gamma"] / scale])
    fit = _fit(objective, ("p", "q", "gamma"), np.log([1.0, 2.0, 1.0]), warm)
    params = fit.params | {"gamma": fit.params["gamma"] * scale}
    unscaled = gamma_gamma_log_likelihood(np.array(list(params.values())), x, m).sum()
    return Fit(params, fit.cov, float(unscaled), np.log([1.0, 1.0, scale]), fit.plausible)


LOG_BOUNDS = (-12.0, 12.0)
"""Every parameter lies in e^-12 .. e^12 (6e-6 .. 1.6e5): beyond, the likelihood is flat
to machine precision (a Gamma of shape 1e5 is a point) and the optimiser would wander."""


def _distinct(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of the columns and how often each occurs: patients counted in
    days share their (x, t_x, T) by the thousand, and the likelihood is a weighted sum."""
    rows, count = np.unique(
        np.column_stack([np.asarray(c, dtype=float) for c in columns]), axis=0, return_counts=True
    )
    return list(rows.T), count.astype(float)


def _fit(
    objective: Objective, names: tuple[str, ...], start: np.ndarray, warm: np.ndarray | None
) -> Fit:
    def safe(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            value = objective(theta)
        return value if np.isfinite(value) else 1e300

    bounds = [LOG_BOUNDS] * len(names)
    theta = None
    if warm is not None:  # from a nearby optimum, a gradient search is enough
        near = optimize.minimize(safe, np.clip(warm, *LOG_BOUNDS), method="L-BFGS-B", bounds=bounds)
        theta = near.x if near.success else None
    if theta is None:
        # Nelder-Mead first (robust from a poor start), then L-BFGS-B to polish the optimum
        rough = optimize.minimize(
            safe,
            start,
            method="Nelder-Mead",
            bounds=bounds,
            options={"maxiter": 4000, "xatol": 1e-3, "fatol": 1e-3},
        )
        best = optimize.minimize(safe, rough.x, method="L-BFGS-B", bounds=bounds)
        theta = best.x if best.fun <= rough.fun else rough.x
    # within the region, twice the log-likelihood drop is below the chi-square quantile
    limit = safe(theta) + special.chdtri(len(names), 1 - PLAUSIBLE_MASS) / 2
    return Fit(
        dict(zip(names, np.exp(theta).tolist(), strict=True)),
        _covariance(safe, theta),
        -float(safe(theta)),
        plausible=lambda t: safe(t) <= limit,
    )


def _covariance(objective: Objective, theta: np.ndarray) -> np.ndarray | None:
    """The inverse observed information on the log scale, over the parameters the data
    bound. One at (or within 0.1 of) a bound, or along which the likelihood is flat (a
    doctor whose patients all leave at the same rate sends a and b to infinity together),
    is held at its optimum with no variance: moving along such a ridge changes no
    prediction. The flattest is held first, until the rest have a proper covariance;
    None if none has."""
    free = [i for i in range(theta.size) if LOG_BOUNDS[1] - abs(theta[i]) > 0.1]
    while free:
        hessian = numeric_hessian(lambda t: objective(_put(theta, np.array(free), t)), theta[free])
        try:
            inner = np.linalg.inv(hessian)
            np.linalg.cholesky(inner)
        except np.linalg.LinAlgError:
            free.pop(int(np.argmin(np.diag(hessian))))
            continue
        cov = np.zeros((theta.size, theta.size))
        cov[np.ix_(free, free)] = inner
        return cov
    return None


def _put(theta: np.ndarray, where: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = theta.copy()
    out[where] = values
    return out


def numeric_hessian(objective: Objective, theta: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central second differences: four evaluations per entry, exact enough at this step
    for a smooth likelihood on the log scale."""
    n = theta.size
    hessian = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * step, np.eye(n)[j] * step
            value = (
                objective(theta + ei + ej)
                - objective(theta + ei - ej)
                - objective(theta - ei + ej)
                + objective(theta - ei - ej)
            ) / (4 * step * step)
            hessian[i, j] = hessian[j, i] = value
    return hessian


def p_alive(
    params: dict[str, float],
    x: np.ndarray,
    t_x: np.ndarray,
    big_t: np.ndarray,
    model: str = "bg_nbd",
) -> np.ndarray:
    """P(the patient has not left by T | history) (FHL 2005, equation 11)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    k = VISIT_MODELS[model]
    ratio = np.zeros_like(big_t, dtype=float)
    can_leave = x + k > 0
    xr = x[can_leave]
    growth = (r + xr) * np.log((alpha + big_t[can_leave]) / (alpha + t_x[can_leave]))
    ratio[can_leave] = a / (b + xr + k - 1) * np.exp(growth)
    return 1.0 / (1.0 + ratio)


def expected_visits(
    params: dict[str, float],
    t: float,
    x: np.ndarray,
    t_x: np.ndarray,
    big_t: np.ndarray,
    model: str = "bg_nbd",
) -> np.ndarray:
    """E[visits in (T, T + t] | history] (FHL 2005, equation 10; Batislam et al. 2007)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    k = VISIT_MODELS[model]
    z = t / (alpha + big_t + t)
    hyper = special.hyp2f1(r + x, b + x + k, a + b + x + k - 1, z)
    shrink = np.exp((r + x) * np.log((alpha + big_t) / (alpha + big_t + t)))
    head = (a + b + x + k - 1) / (a - 1) * (1 - shrink * hyper)
    return head * p_alive(params, x, t_x, big_t, model)


def finite_mean_spend(draws: np.ndarray) -> np.ndarray:
    """Gamma-Gamma draws (p, q, γ) whose spend has a finite mean (q > 1)."""
    return draws[:, 1] > 1


def expected_spend(params: dict[str, float], x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[a future visit's spend | history] (Gamma-Gamma); the population mean for a patient
    with no repeat visit (x = 0). Infinite when q <= 1 (no finite mean)."""
    p, q, gamma = (params[k] for k in ("p", "q", "gamma"))
    m = np.where(x > 0, m, 0.0)
    return (gamma + m * x) * p / (p * x + q - 1)


@dataclass(frozen=True)
class History:
    """Patients' summaries: repeat visits, recency and age (same time unit), and the
    repeat visits whose spend is known (`x_spend`) with their mean `m`."""

    x: np.ndarray
    t_x: np.ndarray
    big_t: np.ndarray
    x_spend: np.ndarray
    m: np.ndarray


def simulate(
    visits_draws: np.ndarray,
    spend_draws: np.ndarray,
    history: History,
    horizons: tuple[float, ...],
    rng: np.random.Generator,
    model: str = "bg_nbd",
) -> tuple[np.ndarray, np.ndarray]:
    """Future visits and revenue, shape (draws, horizons, patients): one draw of the
    parameters per row of `visits_draws` (r, α, a, b) and `spend_draws` (p, q, γ), each
    shared by every patient (so a sum over patients keeps the parameters' uncertainty).

    Given its parameters, a patient is alive at T with P(alive); if alive, λ | history ~
    Gamma(r + x, α + T) and p | history ~ Beta(a, b + x) (b + x + 1 under MBG/NBD: the
    first term of the likelihood); then Poisson(λ) visits, each possibly the last (K ~ Geometric(p)
    visits in all), so visits by T + t = min(N(t), K). Spend: ν | history ~ Gamma(q +
    p·x, γ + m·x), and y visits pay Gamma(p·y, ν)."""
    x, t_x, big_t = history.x, history.t_x, history.big_t
    k = VISIT_MODELS[model]
    n_draws, n = visits_draws.shape[0], x.size
    visits = np.empty((n_draws, len(horizons), n), dtype=np.float32)
    revenue = np.empty((n_draws, len(horizons), n), dtype=np.float32)
    visits[:] = 0
    revenue[:] = 0
    for s in range(n_draws):
        r, alpha, a, b = visits_draws[s]
        p, q, gamma = spend_draws[s]
        params = {"r": r, "alpha": alpha, "a": a, "b": b}
        # only the patients alive at T have a future: the others stay at 0
        alive = np.flatnonzero(rng.random(n) < p_alive(params, x, t_x, big_t, model))
        xa, spent = x[alive], history.x_spend[alive]
        rate = rng.gamma(r + xa, 1.0 / (alpha + big_t[alive]))
        # a draw of p can underflow to 0 (a patient who never leaves): K is then unbounded
        last = rng.geometric(np.maximum(rng.beta(a, b + xa + k), np.finfo(float).tiny))
        nu = rng.gamma(q + p * spent, 1.0 / (gamma + history.m[alive] * spent))
        made = np.zeros(alive.size)
        done = np.zeros(alive.size)
        paid = np.zeros(alive.size)
        elapsed = 0.0
        for h, horizon in enumerate(horizons):
            made += rng.poisson(rate * (horizon - elapsed))
            elapsed = horizon
            before, done = done, np.minimum(made, last)
            paid += rng.gamma(p * (done - before), 1.0 / nu)
            visits[s, h, alive] = done
            revenue[s, h, alive] = paid
    return visits, revenue
