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
import polars as pl
from scipy import optimize, special


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
    plausible: Callable[[np.ndarray], np.ndarray] | None = None
    """Which parameter vectors (rows, on the fitted log scale) lie in the likelihood-ratio
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
                drawn = drawn[self.plausible(drawn - shift)]
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
    """Each patient's log-likelihood under BG/NBD (FHL 2005, equation 6) or MBG/NBD; for
    parameter rows (n, 4), one row of patients per parameter vector (n, patients)."""
    visits = _Visits(x, t_x, big_t)
    return _bgnbd(np.asarray(params, dtype=float), visits, model, gradient=False)[0]


class _Levels:
    """A column of few distinct values (repeat visits) as those values and where each row's
    lies. The likelihoods' special functions (log-gamma, digamma) depend on a patient only
    through x: computed once per distinct x, a few dozen, and gathered to the patients,
    they cost a fraction of computing them per patient."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.values, self.at = np.unique(x, return_inverse=True)


class _Visits(_Levels):
    """Patients' (x, t_x, T) for the visit models' likelihood."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> None:
        super().__init__(np.asarray(x, dtype=float))
        self.t_x, self.big_t = np.asarray(t_x, dtype=float), np.asarray(big_t, dtype=float)


def _bgnbd(
    params: np.ndarray, visits: _Visits, model: str, gradient: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The log-likelihood and, with `gradient`, its derivatives in the log-parameters
    (4, patients): the search's gradient, exact, at the price of about one more evaluation
    instead of four. Terms in x alone are computed per distinct x (`_Levels`)."""
    r, alpha, a, b = (params[..., i, None] for i in range(4))
    k = VISIT_MODELS[model]
    x, xu, at = visits.x, visits.values, visits.at
    log_t, log_tx = np.log(alpha + visits.big_t), np.log(alpha + visits.t_x)
    # left after the last visit seen: B(a+1, b+x+k-1) needs a visit to leave after
    can_leave = xu + k > 0
    base = special.betaln(a, b)
    alive = (special.betaln(a, b + xu + k) - base)[..., at] - (r + x) * log_t
    with np.errstate(invalid="ignore", divide="ignore"):
        leave = np.where(can_leave, special.betaln(a + 1, b + xu + k - 1) - base, -np.inf)
    left = leave[..., at] - (r + x) * log_tx
    total = np.logaddexp(alive, left)
    common = special.gammaln(r + xu) - special.gammaln(r) + r * np.log(alpha)
    value = common[..., at] + total
    if not gradient:
        return value, None
    w_alive, w_left = np.exp(alive - total), np.exp(left - total)
    dg = special.digamma
    with np.errstate(invalid="ignore", divide="ignore"):
        after = np.where(can_leave, dg(b + xu + k - 1), 0.0)  # no visit to leave after: unused
    d_r = (dg(r + xu) - dg(r) + np.log(alpha))[at] - w_alive * log_t - w_left * log_tx
    d_alpha = r / alpha - (r + x) * (
        w_alive / (alpha + visits.big_t) + w_left / (alpha + visits.t_x)
    )
    d_a = (dg(a + b) - dg(a + b + xu + k) - dg(a))[at] + w_alive * dg(a) + w_left * dg(a + 1)
    d_b = (
        (dg(a + b) - dg(b) - dg(a + b + xu + k))[at]
        + w_alive * dg(b + xu + k)[at]
        + w_left * after[at]
    )
    grad = np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return value, grad


def gamma_gamma_log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Each patient's log-likelihood of their mean spend `m` over `x` visits (x > 0); for
    parameter rows (n, 3), one row of patients per parameter vector."""
    spend = _Levels(np.asarray(x, dtype=float))
    return _gamma_gamma(np.asarray(params, dtype=float), spend, np.asarray(m), gradient=False)[0]


def _gamma_gamma(
    params: np.ndarray, spend: _Levels, m: np.ndarray, gradient: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The log-likelihood and, with `gradient`, its derivatives in the log-parameters;
    terms in x alone per distinct x."""
    p, q, gamma = (params[..., i, None] for i in range(3))
    x, xu, at = spend.x, spend.values, spend.at
    px = p * x
    log_total = np.log(gamma + m * x)
    in_x = special.gammaln(p * xu + q) - special.gammaln(p * xu)
    value = (
        in_x[..., at]
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_total
    )
    if not gradient:
        return value, None
    both = special.digamma(p * xu + q)
    d_p = x * ((both - special.digamma(p * xu))[at] + np.log(m) + np.log(x) - log_total)
    d_q = both[at] - special.digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (gamma + m * x)
    return value, np.stack([d_p * p, d_q * q, d_gamma * gamma])


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
    visits = _Visits(x, t_x, big_t)
    warm = np.log(list(near.params.values())) if near else None
    return _fit(
        _Likelihood(lambda theta, grad: _bgnbd(np.exp(theta), visits, model, grad), count),
        ("r", "alpha", "a", "b"),
        np.zeros(4),
        warm,
    )


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray, near: Fit | None = None) -> Fit:
    """Gamma-Gamma by maximum likelihood over patients with at least one repeat visit and
    a positive mean spend (the model's support); `near` as for `fit_bgnbd`."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    # fitted in units of the mean spend, so that γ (a scale in money) is near 1 whatever
    # the currency and the bounds mean the same for roubles and dollars; then back
    scale = float(np.mean(m))
    (x_seen, m_seen), count = _distinct(x, m / scale)
    spend = _Levels(x_seen)
    warm = None
    if near:
        warm = np.log([near.params["p"], near.params["q"], near.params["gamma"] / scale])
    fit = _fit(
        _Likelihood(lambda theta, grad: _gamma_gamma(np.exp(theta), spend, m_seen, grad), count),
        ("p", "q", "gamma"),
        np.log([1.0, 2.0, 1.0]),
        warm,
    )
    params = fit.params | {"gamma": fit.params["gamma"] * scale}
    unscaled = gamma_gamma_log_likelihood(np.array(list(params.values())), x, m).sum()
    return Fit(params, fit.cov, float(unscaled), np.log([1.0, 1.0, scale]), fit.plausible)


LOG_BOUNDS = (-12.0, 12.0)
"""Every parameter lies in e^-12 .. e^12 (6e-6 .. 1.6e5): beyond, the likelihood is flat
to machine precision (a Gamma of shape 1e5 is a point) and the optimiser would wander."""


def _distinct(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of the columns (sorted) and how often each occurs: patients counted
    in days share their (x, t_x, T) by the thousand, and the likelihood is a weighted sum.
    Polars groups a few hundred thousand rows in milliseconds, where `np.unique(axis=0)`
    sorts them as opaque bytes in a tenth of a second."""
    names = [f"c{i}" for i in range(len(columns))]
    rows = (
        pl.DataFrame({n: np.asarray(c, dtype=float) for n, c in zip(names, columns, strict=True)})
        .group_by(names)
        .len()
        .sort(names)
    )
    return [rows[n].to_numpy() for n in names], rows["len"].to_numpy().astype(float)


def interval(draws: np.ndarray, tail: float) -> tuple[np.ndarray, np.ndarray]:
    """The `tail` and 1 − `tail` quantiles over the first axis (draws), as `np.quantile`'s
    linear rule: one sort along the draws and two interpolations, several times faster
    than `np.quantile`'s partition along a strided axis. Unknown (NaN) where any draw is,
    as `np.quantile` (NaN sorts last)."""
    ordered = np.sort(draws, axis=0)
    last = ordered.shape[0] - 1
    unknown = np.isnan(ordered[last])
    bounds = []
    for q in (tail, 1 - tail):
        below = int(np.floor(q * last))
        above = min(below + 1, last)
        share = q * last - below
        bound = ordered[below] + (ordered[above] - ordered[below]) * share
        bounds.append(np.where(unknown, np.nan, bound))
    return bounds[0], bounds[1]


BATCH_CELLS = 250_000
"""Parameter vectors × distinct patients evaluated at once. A batch's temporaries (2 MB
each) stay in the core's cache through the likelihood's dozen array operations: at scale
100 the fits took 4.3 s against 6.4 s with batches of 4 million cells, which went out to
memory and back at every operation."""


@dataclass(frozen=True)
class _Likelihood:
    """The negative log-likelihood on the log scale, each distinct patient weighted by how
    often they occur: of one vector with its exact gradient (the search), or of many
    vectors at once (the Hessian's stencil, the draws' plausibility) in one array
    operation rather than a Python call each. Where it is not finite (a parameter at an
    extreme), it is 1e300: the search steps back from there."""

    terms: Callable[[np.ndarray, bool], tuple[np.ndarray, np.ndarray | None]]
    count: np.ndarray

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            value, gradient = self.terms(theta, True)
            total, slope = -float(value @ self.count), -(gradient @ self.count)
        if not (np.isfinite(total) and np.isfinite(slope).all()):
            return 1e300, np.zeros_like(theta)
        return total, slope

    def values(self, thetas: np.ndarray) -> np.ndarray:
        thetas = np.atleast_2d(thetas)
        step = max(1, BATCH_CELLS // max(1, self.count.size))
        with np.errstate(all="ignore"):
            out = np.concatenate(
                [
                    -(self.terms(thetas[i : i + step], False)[0] @ self.count)
                    for i in range(0, len(thetas), step)
                ]
            )
        return np.where(np.isfinite(out), out, 1e300)

    def value(self, theta: np.ndarray) -> float:
        return float(self.values(theta)[0])


def _fit(
    likelihood: _Likelihood, names: tuple[str, ...], start: np.ndarray, warm: np.ndarray | None
) -> Fit:
    bounds = [LOG_BOUNDS] * len(names)
    gradient_search = {"jac": True, "method": "L-BFGS-B", "bounds": bounds}
    # with the exact gradient, L-BFGS-B from the start finds the optimum Nelder-Mead then
    # polishing did, or a better one, in a tenth of the time (the demo's 66 fits at scales
    # 1, 10 and 100); from a nearby optimum (`warm`) in fewer steps still
    begins = [start] if warm is None else [np.clip(warm, *LOG_BOUNDS), start]
    for begin in begins:
        found = optimize.minimize(likelihood.value_and_gradient, begin, **gradient_search)
        if found.success:
            theta = found.x
            break
    else:  # the gradient search stalled: Nelder-Mead (robust from a poor start), polished
        rough = optimize.minimize(
            likelihood.value,
            start,
            method="Nelder-Mead",
            bounds=bounds,
            options={"maxiter": 4000, "xatol": 1e-3, "fatol": 1e-3},
        )
        best = optimize.minimize(likelihood.value_and_gradient, rough.x, **gradient_search)
        theta = best.x if best.fun <= rough.fun else rough.x
    optimum = likelihood.value(theta)
    # within the region, twice the log-likelihood drop is below the chi-square quantile
    limit = optimum + special.chdtri(len(names), 1 - PLAUSIBLE_MASS) / 2
    return Fit(
        dict(zip(names, np.exp(theta).tolist(), strict=True)),
        _covariance(likelihood.values, theta),
        -optimum,
        plausible=lambda rows: likelihood.values(rows) <= limit,
    )


Values = Callable[[np.ndarray], np.ndarray]
"""An objective of many parameter vectors at once: rows in, one value per row out."""


def _covariance(values: Values, theta: np.ndarray) -> np.ndarray | None:
    """The inverse observed information on the log scale, over the parameters the data
    bound. One at (or within 0.1 of) a bound, or along which the likelihood is flat (a
    doctor whose patients all leave at the same rate sends a and b to infinity together),
    is held at its optimum with no variance: moving along such a ridge changes no
    prediction. The flattest is held first, until the rest have a proper covariance;
    None if none has."""
    free = [i for i in range(theta.size) if LOG_BOUNDS[1] - abs(theta[i]) > 0.1]
    while free:
        hessian = numeric_hessian(lambda rows: values(_put(theta, free, rows)), theta[free])
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


def _put(theta: np.ndarray, where: list[int], rows: np.ndarray) -> np.ndarray:
    """`theta` once per row of `rows`, with the parameters `where` taken from the row."""
    out = np.tile(theta, (len(rows), 1))
    out[:, where] = rows
    return out


def numeric_hessian(values: Values, theta: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central second differences, exact enough at this step for a smooth likelihood on
    the log scale: four points per entry, every point of the stencil in one call."""
    n = theta.size
    pairs = [(i, j) for i in range(n) for j in range(i, n)]
    eye = np.eye(n) * step
    signs = ((1, 1), (1, -1), (-1, 1), (-1, -1))
    points = np.array([theta + si * eye[i] + sj * eye[j] for i, j in pairs for si, sj in signs])
    f = values(points).reshape(len(pairs), 4)
    second = (f[:, 0] - f[:, 1] - f[:, 2] + f[:, 3]) / (4 * step * step)
    hessian = np.empty((n, n))
    for (i, j), value in zip(pairs, second, strict=True):
        hessian[i, j] = hessian[j, i] = value
    return hessian


def p_alive(
    params: dict[str, float] | dict[str, np.ndarray],
    x: np.ndarray,
    t_x: np.ndarray,
    big_t: np.ndarray,
    model: str = "bg_nbd",
) -> np.ndarray:
    """P(the patient has not left by T | history) (FHL 2005, equation 11); with each
    parameter a column (draws, 1), one row of patients per draw."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    k = VISIT_MODELS[model]
    # a patient with no visit to leave after (BG/NBD, x = 0) is certainly alive
    can_leave = x + k > 0
    with np.errstate(all="ignore"):
        growth = (r + x) * np.log((alpha + big_t) / (alpha + t_x))
        ratio = np.where(can_leave, a / (b + x + k - 1) * np.exp(growth), 0.0)
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

    def take(self, rows: np.ndarray) -> History:
        """The patients at positions `rows`."""
        columns = (self.x, self.t_x, self.big_t, self.x_spend, self.m)
        return History(*(column[rows] for column in columns))


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
    visits = np.zeros((n_draws, len(horizons), n), dtype=np.float32)
    revenue = np.zeros((n_draws, len(horizons), n), dtype=np.float32)
    # every draw at once: a column per parameter (draws, 1) against a row of patients
    r, alpha, a, b = visits_draws.T[:, :, None]
    p, q, gamma = spend_draws.T[:, :, None]
    params = {"r": r, "alpha": alpha, "a": a, "b": b}
    # only the (draw, patient) cells alive at T have a future: the others stay at 0
    draw, who = np.nonzero(rng.random((n_draws, n)) < p_alive(params, x, t_x, big_t, model))
    xa = x[who]
    rate = rng.gamma(r[draw, 0] + xa, 1.0 / (alpha[draw, 0] + big_t[who]))
    steps = np.diff(np.concatenate([[0.0], horizons]))
    made = np.cumsum([rng.poisson(rate * step) for step in steps], axis=0)  # (horizons, cells)
    # the dropout and the spend matter only where a visit was made: drawn there alone
    some = np.flatnonzero(made[-1] > 0)
    draw, who, xa, made = draw[some], who[some], xa[some], made[:, some]
    a, b, p, q, gamma = (v[draw, 0] for v in (a, b, p, q, gamma))
    # a draw of p can underflow to 0 (a patient who never leaves): K is then unbounded
    last = rng.geometric(np.maximum(rng.beta(a, b + xa + k), np.finfo(float).tiny))
    spent = history.x_spend[who]
    nu = rng.gamma(q + p * spent, 1.0 / (gamma + history.m[who] * spent))
    done = np.minimum(made, last)
    paid = np.cumsum(rng.gamma(p * np.diff(done, axis=0, prepend=0), 1.0 / nu), axis=0)
    for h in range(len(horizons)):
        visits[draw, h, who] = done[h]
        revenue[draw, h, who] = paid[h]
    return visits, revenue
