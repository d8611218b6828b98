"""Spend → leads response curves and the budget shift (pipelines/models/spend_response.py):
the demo's planted elasticity recovered, a hand-worked optimal shift, the bounds of the
data kept, and a channel whose spend never varied saying it cannot tell."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.models import spend_response
from pipelines.settings import Settings

PLANTED = 0.6
"""The demo draws a paid channel's new callers a week ∝ spend^0.6 (pipelines/demo)."""


def test_demo_elasticity_is_recovered(demo_warehouse: tuple[Settings, Path]) -> None:
    """Every paid channel with at least 5 leads a week: its elasticity within ±0.1 of the
    planted 0.6, and 0.6 inside its 90% interval. The demo's spend follows a random walk
    that, for some channels, rises with the season: without the seasonal wave taken out
    Yandex Direct read 0.72 (tested at scale 1, see the README); with it, 0.63 alone and
    0.61 pooled."""
    with duckdb.connect(str(demo_warehouse[1]), read_only=True) as conn:
        response = conn.sql("select * from mart_spend_response").pl()
        busy = conn.sql(
            "select channel from mart_channel_weekly where spend > 0 "
            "group by channel having avg(leads) >= 5"
        ).pl()["channel"]
    assert busy.len() >= 1
    for row in response.filter(pl.col("channel").is_in(busy.implode())).iter_rows(named=True):
        assert row["verdict"] == "fitted"
        assert abs(row["elasticity"] - PLANTED) <= 0.1, row["channel"]
        assert row["elasticity_low"] <= PLANTED <= row["elasticity_high"], row["channel"]


def test_demo_budget_shift_keeps_the_budget(demo_warehouse: tuple[Settings, Path]) -> None:
    """The suggested spends add up to today's weekly budget, each within the spend its
    channel has had, and the expected gain is not negative at the point estimates."""
    with duckdb.connect(str(demo_warehouse[1]), read_only=True) as conn:
        response = conn.sql("select * from mart_spend_response where verdict = 'fitted'").pl()
        shift = conn.sql("select * from mart_budget_shift").pl().row(0, named=True)
        curve = conn.sql("select * from mart_spend_curve").pl()
    assert response["suggested_weekly_spend"].sum() == pytest.approx(shift["weekly_budget"])
    assert response["current_weekly_spend"].sum() == pytest.approx(shift["weekly_budget"])
    for row in response.iter_rows(named=True):
        assert row["spend_min"] - 1e-6 <= row["suggested_weekly_spend"] <= row["spend_max"] + 1e-6
    assert shift["leads_gain"] >= 0
    assert shift["leads_gain_low"] <= shift["leads_gain"] <= shift["leads_gain_high"]
    assert set(curve["channel"]) == set(response["channel"])
    assert (curve["leads_low"] <= curve["leads_high"]).all()


def _fit(name: str, scale: float, elasticity: float = 0.5) -> spend_response.ChannelFit:
    return spend_response.ChannelFit(
        name, 52, spend_response.CAN_TELL, None, float(np.log(scale)), elasticity, 0.05
    )


def test_best_shift_is_the_hand_worked_optimum() -> None:
    """Two channels, leads = 1·√s and 2·√s, 100 a week between them. Equal marginal leads,
    0.5·A·s^-0.5 = λ, give s ∝ A²: 20 and 80 (leads 4.47 + 17.89 = 22.36 against 21.21
    at 50/50). With the second channel never above 60 in its data, 40 and 60. Weighed by
    patients per lead (worth), s ∝ (worth·A)²."""
    fits = [_fit("A", 1.0), _fit("B", 2.0)]
    now = np.array([50.0, 50.0])
    ones, wide = np.array([1.0, 1.0]), np.array([100.0, 100.0])
    best = spend_response.best_shift(fits, now, ones, wide, worth=ones)
    assert best == pytest.approx([20.0, 80.0], rel=1e-3)
    gained = sum(
        spend_response.leads_at(f, np.array([s]))[0] for f, s in zip(fits, best, strict=True)
    )
    assert gained == pytest.approx(np.sqrt(20) + 2 * np.sqrt(80), rel=1e-6)
    bounded = spend_response.best_shift(fits, now, ones, np.array([100.0, 60.0]), worth=ones)
    assert bounded == pytest.approx([40.0, 60.0], rel=1e-3)
    # A's leads convert twice as often as B's: 2·1·√s against 1·2·√s, an even split
    even = spend_response.best_shift(fits, np.array([30.0, 70.0]), ones, wide, np.array([2.0, 1.0]))
    assert even == pytest.approx([50.0, 50.0], rel=1e-3)


def _weeks(channel: str, spend: np.ndarray, leads: np.ndarray) -> pl.DataFrame:
    start = date(2025, 1, 6)
    days = [start + timedelta(weeks=i) for i in range(len(spend))]
    return pl.DataFrame(
        {
            "channel": channel,
            "week_start": days,
            "spend": spend,
            "leads": leads.astype(np.int64),
            "primary_patients": (leads // 2).astype(np.int64),
            "angle": [2 * np.pi * (d.timetuple().tm_yday + 3) / 365.25 for d in days],
        }
    )


def test_a_channel_whose_spend_never_varied_cannot_tell() -> None:
    """Two years of weeks: A's spend wanders (its leads ∝ spend^0.6), B's is the same
    10,000 every week. A is fitted near 0.6; B says it cannot tell, and nothing is drawn
    or moved for it."""
    rng = np.random.default_rng(4)
    walk = 20_000 * np.exp(np.cumsum(rng.normal(0, 0.15, 104)))
    history = pl.concat(
        [
            _weeks("A", walk, rng.poisson(30 * (walk / walk.mean()) ** 0.6)),
            _weeks("B", np.full(104, 10_000.0), rng.poisson(12, 104)),
        ]
    )
    settings = Settings(hash_secret="x")
    fits = {f.channel: f for f in spend_response.fit_channels(history, settings)}
    assert fits["A"].status == spend_response.CAN_TELL
    assert abs(fits["A"].elasticity - 0.6) < 0.1
    assert fits["B"].status == "cannot tell: spend barely varied"
    assert np.isnan(fits["B"].elasticity)


def test_leads_that_do_not_follow_spend_cannot_tell() -> None:
    """A channel whose only leads (3) came in its dearest week: the Poisson fit has no
    finite optimum (the elasticity runs to infinity). It says it cannot tell instead of
    crashing the build or drawing a vertical curve; the other channel is still fitted."""
    rng = np.random.default_rng(9)
    walk = 20_000 * np.exp(np.cumsum(rng.normal(0, 0.15, 60)))
    lonely = np.zeros(60)
    lonely[int(np.argmax(walk))] = 3
    history = pl.concat(
        [
            _weeks("A", walk, rng.poisson(30 * (walk / walk.mean()) ** 0.6)),
            _weeks("C", walk, lonely),
        ]
    )
    fits = {f.channel: f for f in spend_response.fit_channels(history, Settings(hash_secret="x"))}
    assert fits["C"].status == "cannot tell: leads do not follow spend"
    assert fits["A"].status == spend_response.CAN_TELL
