"""Decision-grade statistics, proven by simulation: the administrators' intervals cover the
planted rates as often as they say, the ranking orders skill at least as well as the raw
rate, and the mix adjustment sees skill through channel mix."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import numpy as np
import polars as pl
import pytest
from scipy import stats

from pipelines.models.admin_conversion import admin_conversion
from pipelines.models.admin_mix import hour_bucket, mix_adjusted
from pipelines.models.admin_ranking import rank, team_posterior
from pipelines.models.doctor_intervals import mean_interval, nps_interval
from pipelines.models.poisson_limits import poisson_limits
from pipelines.settings import load_settings
from tests.clinic import SECRET

TEAM_SIZES = (2, 3, 6, 12)
TEAMS_PER_SIZE = 130  # 520 simulated teams


def simulate_team(rng: np.random.Generator, size: int) -> tuple[np.ndarray, ...]:
    """A team as clinics have them: a typical rate (from a new deployment's 1%, its leads
    still in the window, to 70%), a spread between administrators from wide to none at
    all, and 10 to 2,000 leads each."""
    mean = rng.uniform(0.01, 0.7)
    concentration = np.exp(rng.uniform(np.log(2), np.log(2000)))
    planted = rng.beta(mean * concentration, (1 - mean) * concentration, size)
    leads = np.exp(rng.uniform(np.log(10), np.log(2000), size)).astype(int)
    wins = rng.binomial(leads, planted)
    return planted, leads, wins


def test_intervals_are_calibrated_and_the_ranking_beats_the_raw_rate() -> None:
    rng = np.random.default_rng(20261125)
    covered: dict[object, list[bool]] = defaultdict(list)
    spearman_shrunk, spearman_raw = [], []
    for size in TEAM_SIZES:
        for team in range(TEAMS_PER_SIZE):
            planted, leads, wins = simulate_team(rng, size)
            result = rank(leads, wins, credible_mass=0.9, seed=team, draws=4000)
            inside = (result.low <= planted) & (planted <= result.high)
            covered[size] += inside.tolist()
            for n, hit in zip(leads, inside, strict=True):
                covered["10-99 leads" if n < 100 else "100-2,000 leads"].append(bool(hit))
            if size >= 3:
                spearman_shrunk.append(stats.spearmanr(result.mean, planted).statistic)
                spearman_raw.append(stats.spearmanr(wins / leads, planted).statistic)
    table = {key: (len(hits), float(np.mean(hits))) for key, hits in covered.items()}
    print("\n90% interval coverage of the planted rate (administrators, share covered):")
    for key, (count, share) in table.items():
        label = f"team of {key}" if isinstance(key, int) else key
        print(f"  {label:<18} {count:>5}  {share:6.1%}")
    every = [hit for size in TEAM_SIZES for hit in covered[size]]
    print(f"  {'all':<18} {len(every):>5}  {np.mean(every):6.1%}")
    print(
        f"rank correlation with the planted rates: shrunk {np.nanmean(spearman_shrunk):.3f}, "
        f"raw {np.nanmean(spearman_raw):.3f}"
    )
    for key, (_, share) in table.items():
        assert 0.85 <= share <= 0.95, (key, share)
    assert np.nanmean(spearman_shrunk) >= np.nanmean(spearman_raw)


def test_a_small_team_keeps_honest_intervals() -> None:
    """3 administrators with 17 to 43 leads: the point-estimated prior ran to its bound
    (every shrunk rate equal, intervals ±0.15 points); integrated over, it does not."""
    leads, wins = np.array([17, 29, 43]), np.array([9, 12, 25])
    result = rank(leads, wins, credible_mass=0.9, seed=1)
    widths = result.high - result.low
    assert (widths > 0.15).all()  # fifteen points, not fifteen hundredths of one
    assert len(set(np.round(result.mean, 3))) == 3
    # shrunk toward the team: between the raw rate and the pooled rate 46/89
    pooled = wins.sum() / leads.sum()
    for raw, shrunk in zip(wins / leads, result.mean, strict=True):
        assert min(raw, pooled) <= shrunk <= max(raw, pooled)
    # the posterior mean is the grid mixture's own: Σ w (α + k) / (α + β + n)
    team = team_posterior(leads, wins)
    a = team.alpha[:, None] + wins[None, :]
    b = team.beta[:, None] + (leads - wins)[None, :]
    assert result.mean == pytest.approx(team.weight @ (a / (a + b)))
    assert result.p_best.sum() == pytest.approx(1.0)
    assert result.p_top.sum() == pytest.approx(3.0)


def test_a_team_with_no_conversion_yet_keeps_an_honest_ceiling() -> None:
    """Three administrators, 30, 40 and 50 leads, none converted (a new deployment). The
    120 leads together allow up to 2.5% (one-sided 95%, the rule of three: 3 / 120); an
    interval whose top sat far below that would be the grid's edge speaking, not data."""
    result = rank(np.array([30, 40, 50]), np.array([0, 0, 0]), credible_mass=0.9, seed=1)
    assert (result.low >= 0).all()
    assert (result.high > 0.015).all() and (result.high < 0.06).all()
    assert (result.mean < result.high).all()


def test_steady_volume_outranks_a_lucky_streak() -> None:
    """5 for 5 against 600 of 1,000: five calls say little, and the posterior says so (a
    wide interval, shrunk well below 100%); with fewer leads than admin_min_leads the
    lucky streak is listed, not ranked, so it cannot top the table."""
    settings = load_settings(None, hash_secret=SECRET)
    counts = pl.DataFrame(
        {
            "admin_id": ["lucky", "steady", "c", "d", "e"],
            "admin_name": ["Lucky", "Steady", "C", "D", "E"],
            "leads": [5, 1000, 100, 120, 80],
            "primary_patients": [5, 600, 40, 66, 40],
        }
    )
    ranked = admin_conversion(counts, _leads_from_counts(counts), settings)
    by_id = {r["admin_id"]: r for r in ranked.iter_rows(named=True)}
    lucky, steady = by_id["lucky"], by_id["steady"]
    assert lucky["conversion"] == 1.0 and lucky["conversion_shrunk"] < 0.8
    assert lucky["ci_high"] - lucky["ci_low"] > 0.4
    assert (lucky["rank"], steady["rank"]) == (None, 1)
    # the 1,000-lead administrator barely moves: within a point of 60%, a tight interval
    assert abs(steady["conversion_shrunk"] - 0.6) < 0.01
    assert steady["ci_high"] - steady["ci_low"] < 0.06
    assert steady["p_best"] > 0.7  # d, 66 of 120, might still be better


def test_too_few_leads_are_listed_not_ranked() -> None:
    settings = load_settings(None, hash_secret=SECRET, admin_min_leads=30)
    counts = pl.DataFrame(
        {
            "admin_id": ["new", "a", "b"],
            "admin_name": ["New", "A", "B"],
            "leads": [8, 300, 250],
            "primary_patients": [7, 150, 100],
        }
    )
    ranked = admin_conversion(counts, _leads_from_counts(counts), settings)
    new = ranked.filter(pl.col("admin_id") == "new").row(0, named=True)
    assert (new["rank"], new["ranked"], new["p_best"]) == (None, False, None)
    assert new["ci_low"] < new["conversion_shrunk"] < new["ci_high"]
    assert ranked.filter(pl.col("ranked"))["rank"].to_list() == [1, 2]
    assert ranked.filter(pl.col("ranked"))["p_best"].sum() == pytest.approx(1.0)


def _leads_from_counts(counts: pl.DataFrame) -> pl.DataFrame:
    """One lead row per counted lead, all of one channel, branch and hour."""
    rows = []
    for admin, n, k in counts.select("admin_id", "leads", "primary_patients").iter_rows():
        rows += [(admin, "X", "B1", datetime(2025, 3, 3, 10), i < k) for i in range(n)]
    return pl.DataFrame(
        rows,
        schema=["admin_id", "channel", "branch_id", "started_local", "converted"],
        orient="row",
    )


def test_mix_adjustment_recovers_skill_hidden_by_channel_mix() -> None:
    """Two channels: ProDoctorov leads book easily (logit +1.0), billboard leads hardly
    (logit -1.5). 'easy' is the weaker administrator (effect -0.3) but answers mostly
    ProDoctorov; 'hard' is the stronger one (+0.3) and answers mostly billboard. The raw
    rates put easy first; the mix-adjusted rates put hard first."""
    rng = np.random.default_rng(5)
    channel_logit = {"ProDoctorov": 1.0, "Billboard": -1.5}
    skills = {"easy": -0.3, "hard": 0.3, "mid1": 0.0, "mid2": 0.0}
    share_prodoctorov = {"easy": 0.85, "hard": 0.15, "mid1": 0.5, "mid2": 0.5}
    rows = []
    for admin, skill in skills.items():
        for _ in range(1500):
            channel = "ProDoctorov" if rng.random() < share_prodoctorov[admin] else "Billboard"
            p = 1 / (1 + np.exp(-(channel_logit[channel] + skill)))
            rows.append((admin, channel, "B1", datetime(2025, 3, 3, 10), bool(rng.random() < p)))
    leads = pl.DataFrame(
        rows,
        schema=["admin_id", "channel", "branch_id", "started_local", "converted"],
        orient="row",
    ).with_columns(bucket=hour_bucket(pl.col("started_local")))
    raw = leads.group_by("admin_id").agg(pl.col("converted").mean()).sort("admin_id")
    raw_rate = dict(raw.iter_rows())
    adjusted = {
        r["admin_id"]: r
        for r in mix_adjusted(leads, credible_mass=0.9, seed=3).iter_rows(named=True)
    }
    print(
        "\nmix test: raw easy {:.3f} hard {:.3f}; expected for their mix easy {:.3f} hard {:.3f};"
        " mix-adjusted easy {:.3f} [{:.3f}, {:.3f}] hard {:.3f} [{:.3f}, {:.3f}]".format(
            raw_rate["easy"],
            raw_rate["hard"],
            adjusted["easy"]["expected_conversion"],
            adjusted["hard"]["expected_conversion"],
            adjusted["easy"]["mix_adjusted"],
            adjusted["easy"]["mix_low"],
            adjusted["easy"]["mix_high"],
            adjusted["hard"]["mix_adjusted"],
            adjusted["hard"]["mix_low"],
            adjusted["hard"]["mix_high"],
        )
    )
    assert raw_rate["easy"] > raw_rate["hard"] + 0.15  # the raw order is the wrong one
    assert adjusted["hard"]["mix_adjusted"] > adjusted["easy"]["mix_adjusted"]
    assert adjusted["hard"]["mix_low"] > adjusted["easy"]["mix_high"] - 0.05
    # the truth on the team's mix (half and half): easy 0.425, hard 0.556 (computed from the
    # planted logits: mean of expit(1.0 ± 0.3) and expit(-1.5 ± 0.3) over the two channels)
    truth = {
        a: 0.5 * (1 / (1 + np.exp(-(1.0 + s))) + 1 / (1 + np.exp(-(-1.5 + s))))
        for a, s in skills.items()
    }
    for admin in ("easy", "hard"):
        assert abs(adjusted[admin]["mix_adjusted"] - truth[admin]) < 0.03
    # what a typical administrator converts on each one's own mix: easy's leads are easier
    assert adjusted["easy"]["expected_conversion"] > adjusted["hard"]["expected_conversion"]


def test_mix_adjusted_intervals_are_calibrated() -> None:
    """Forty simulated teams of four with random skills and lead mixes: the 90% intervals
    of the mix-adjusted rate cover the planted rate on the team's mix about 90% of the
    time."""
    rng = np.random.default_rng(11)
    hits = []
    for team in range(40):
        channel_logit = {"A": rng.normal(0.8, 0.5), "B": rng.normal(-1.2, 0.5)}
        skills = rng.normal(0, 0.3, 4)
        shares = rng.uniform(0.1, 0.9, 4)
        sizes = rng.integers(100, 800, 4)
        rows = []
        for admin in range(4):
            for _ in range(sizes[admin]):
                channel = "A" if rng.random() < shares[admin] else "B"
                p = 1 / (1 + np.exp(-(channel_logit[channel] + skills[admin])))
                rows.append((str(admin), channel, "B1", datetime(2025, 3, 3, 10), rng.random() < p))
        leads = pl.DataFrame(
            rows,
            schema=["admin_id", "channel", "branch_id", "started_local", "converted"],
            orient="row",
        ).with_columns(bucket=hour_bucket(pl.col("started_local")))
        mix_a = (leads["channel"] == "A").mean()
        result = {
            r["admin_id"]: r
            for r in mix_adjusted(leads, credible_mass=0.9, seed=team).iter_rows(named=True)
        }
        for admin in range(4):
            truth = mix_a / (1 + np.exp(-(channel_logit["A"] + skills[admin]))) + (1 - mix_a) / (
                1 + np.exp(-(channel_logit["B"] + skills[admin]))
            )
            row = result[str(admin)]
            hits.append(row["mix_low"] <= truth <= row["mix_high"])
    print(
        f"\nmix-adjusted 90% interval coverage over {len(hits)} administrators: {np.mean(hits):.1%}"
    )
    assert 0.8 <= np.mean(hits) <= 0.98


def test_doctor_intervals_are_calibrated_on_skewed_revenue() -> None:
    """1,000 simulated doctors: revenue per patient as clinics see it, a third of patients
    never paying past the first visit (zero here) and the rest log-normal (σ = 1, mean
    2.7 times the median), 30 to 400 patients each; satisfaction from 30 to 400 surveys
    with planted shares of promoters, passives and detractors. The 90% intervals of mean
    CLV and of NPS cover the planted values 85-95% of the time."""
    rng = np.random.default_rng(2026)
    clv_hits: dict[int, list[bool]] = defaultdict(list)
    nps_hits: dict[int, list[bool]] = defaultdict(list)
    for _ in range(250):
        for n in (30, 60, 150, 400):
            never, mu, sigma = 1 / 3, 9.5, 1.0
            planted_clv = (1 - never) * np.exp(mu + sigma**2 / 2)
            revenue = np.where(rng.random(n) < never, 0.0, rng.lognormal(mu, sigma, n))
            low, high = mean_interval(revenue, rng, 0.9)
            clv_hits[n].append(low <= planted_clv <= high)
            shares = rng.dirichlet([3, 2, 2])
            scores = rng.choice([10, 8, 3], size=n, p=shares)
            planted_nps = 100 * (shares[0] - shares[2])
            low, high = nps_interval(scores, rng, 0.9)
            nps_hits[n].append(low <= planted_nps <= high)
    print("\n90% interval coverage (doctors, 250 simulated per size):   CLV    NPS")
    for (n, clv), nps in zip(clv_hits.items(), nps_hits.values(), strict=True):
        print(f"  {n:>4} patients / surveys          {np.mean(clv):6.1%} {np.mean(nps):6.1%}")
        assert np.mean(clv) >= 0.8 and np.mean(nps) >= 0.8, n  # no size badly off
    every_clv = [h for hits in clv_hits.values() for h in hits]
    every_nps = [h for hits in nps_hits.values() for h in hits]
    print(
        f"  {'all ' + str(len(every_clv)):<31} {np.mean(every_clv):6.1%} {np.mean(every_nps):6.1%}"
    )
    assert 0.85 <= np.mean(every_clv) <= 0.95
    assert 0.85 <= np.mean(every_nps) <= 0.95


def test_poisson_limits_reproduce_the_published_table() -> None:
    """Exact 95% limits for a Poisson count, as tabulated by Ulm (1990, Am J Epidemiol
    131:373) and in every epidemiology text: 0 → (0, 3.689), 2 → (0.242, 7.225),
    10 → (4.795, 18.390); and past the exact range the cube-root form agrees with them."""
    table = poisson_limits(6_000, 0.95)
    rows = {k: (low, high) for k, low, high in table.iter_rows()}
    assert rows[0] == pytest.approx((0.0, 3.689), abs=5e-4)
    assert rows[2] == pytest.approx((0.242, 7.225), abs=5e-4)
    assert rows[10] == pytest.approx((4.795, 18.390), abs=5e-4)
    k = 6_000
    exact = (stats.chi2.ppf(0.025, 2 * k) / 2, stats.chi2.ppf(0.975, 2 * k + 2) / 2)
    assert rows[k] == pytest.approx(exact, rel=1e-6)


def test_cost_per_primary_intervals_cover_the_true_cost() -> None:
    """Weeks with 0 to 40 expected patients at a fixed spend: the 90% range of the cost per
    primary patient holds the true cost (spend / expected patients) at least 90% of the
    time (exact Poisson limits are conservative) and never much more than that at 5 or
    more a week. A week with no patient has a floor and no ceiling."""
    rng = np.random.default_rng(8)
    table = poisson_limits(200, 0.9)
    low, high = table["rate_low"].to_numpy(), table["rate_high"].to_numpy()
    spend, coverage = 100_000.0, {}
    for rate in (0.5, 2.0, 5.0, 12.0, 40.0):
        counts = rng.poisson(rate, 4_000)
        floor = spend / high[counts]
        ceiling = np.where(
            low[counts] > 0, spend / np.where(low[counts] > 0, low[counts], 1), np.inf
        )
        truth = spend / rate
        coverage[rate] = float(np.mean((floor <= truth) & (truth <= ceiling)))
    print("\ncost per primary patient, 90% range coverage by expected patients a week:")
    for rate, share in coverage.items():
        print(f"  {rate:>5} patients  {share:6.1%}")
    assert all(share >= 0.9 for share in coverage.values())
    assert all(share <= 0.96 for rate, share in coverage.items() if rate >= 5)


def test_a_branch_is_adjusted_for_only_when_the_data_can_separate_it() -> None:
    """Branch B2 converts worse (logit -0.8). With each administrator in one branch, the
    branch's pull and its administrators' skill are the same columns of data: the branch
    is left out (said so in mix_adjusted_for) rather than split by the prior, and the
    intervals stay as narrow as the leads allow. A central call centre whose
    administrators answer both branches separates the two, and the branch is adjusted for."""
    rng = np.random.default_rng(21)

    def team(central: bool) -> pl.DataFrame:
        rows = []
        for admin in ("a", "b", "c", "d"):
            for _ in range(800):
                home = "B1" if admin in ("a", "b") else "B2"
                branch = ("B1" if rng.random() < 0.5 else "B2") if central else home
                channel = "SEO" if rng.random() < 0.5 else "Direct"
                p = 1 / (1 + np.exp(-(0.2 - 0.8 * (branch == "B2") + 0.3 * (channel == "SEO"))))
                rows.append((admin, channel, branch, datetime(2025, 3, 3, 10), rng.random() < p))
        return pl.DataFrame(
            rows,
            schema=["admin_id", "channel", "branch_id", "started_local", "converted"],
            orient="row",
        ).with_columns(bucket=hour_bucket(pl.col("started_local")))

    nested = mix_adjusted(team(central=False), credible_mass=0.9, seed=1)
    assert set(nested["mix_adjusted_for"]) == {"channel"}
    widths = (nested["mix_high"] - nested["mix_low"]).to_list()
    assert max(widths) < 0.07  # ±3 points from 800 leads, not a prior's guess
    central = mix_adjusted(team(central=True), credible_mass=0.9, seed=1)
    assert set(central["mix_adjusted_for"]) == {"channel, branch"}
    # all four are equally skilled: on the team's mix every one converts about the same
    rates = central["mix_adjusted"].to_list()
    assert max(rates) - min(rates) < 0.06


def test_mean_interval_says_unbounded_or_unknown_instead_of_zero_width() -> None:
    """Two patients, or every patient alike, are not a narrow interval: 1,000 and 9,000
    bound nothing above (half the resamples have no spread); thirty patients who each paid
    3,000 show no spread, so the interval is unknown; 29 non-payers and one 100,000 plan
    cannot bound the top either, and revenue never goes below 0."""
    rng = np.random.default_rng(0)
    assert mean_interval(np.array([1_000.0, 9_000.0]), rng, 0.9) == (0.0, np.inf)
    low, high = mean_interval(np.full(30, 3_000.0), rng, 0.9)
    assert np.isnan(low) and np.isnan(high)
    low, high = mean_interval(np.array([0.0] * 29 + [100_000.0]), rng, 0.9)
    assert low == 0.0 and high == np.inf
    # a score interval stays within 0-10 (nine 10s and a 9: a third of the resamples are
    # all 10s, so the data cannot bound the mean below; it is not taken below 0)
    assert mean_interval(np.array([10.0] * 9 + [9.0]), rng, 0.9, (0.0, 10.0)) == (0.0, 10.0)
    low, high = mean_interval(np.array([10.0, 10, 9, 9, 8, 10, 7, 10, 9, 6]), rng, 0.9, (0, 10))
    assert 7.0 < low < 8.8 < high <= 10.0
    # mostly non-payers (90%): still about 90% coverage, unbounded where it must be
    hits = []
    for _ in range(400):
        revenue = np.where(rng.random(30) < 0.9, 0.0, rng.lognormal(9.5, 1.0, 30))
        low, high = mean_interval(revenue, rng, 0.9)
        hits.append(not np.isnan(low) and low <= 0.1 * np.exp(10.0) <= high)
    assert 0.85 <= np.mean(hits) <= 0.97
