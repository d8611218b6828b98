"""The demo clinic simulated: who calls, who books, who comes back and what they think.

Everything is drawn with numpy in whole arrays (no per-row loops), so `--scale 100` takes
seconds, not hours. The result is arrays only; pipelines/demo/spool.py parks them on disk
and pipelines/demo/canonical.py writes them.

Whole arrays of a national chain's two years would not fit in memory, so the callers are
drawn in cohorts: the callers whose first call falls in a run of weeks, with everything
that follows from them (call-backs, patients, visits to the end of the data set, service
calls, surveys). A demo up to COHORT_SCALE is a single cohort; a larger one is split so
that no cohort needs more memory than that. Each cohort follows the same rules; a larger
demo is several independent samples of them, one after the other.

The demo must be the same for a seed, so the order of draws is part of the output: a step
moved, or an argument evaluated in another order, changes every file after it. The spend
and the weekly caller counts come first; then each cohort runs its steps in a fixed order
(callers, calls, patients, visits, service calls, surveys), and pipelines/demo/canonical.py
continues drawing from the same generator after the last cohort.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import numpy as np

from pipelines.demo.cast import (
    BRANCHES,
    DEMO_ADMINISTRATORS,
    DEMO_CHANNELS,
    DEMO_DOCTORS,
    END,
    LEAVE_A,
    LEAVE_B,
    MAX_REPEAT_VISITS,
    MEAN_SATISFACTION,
    RETURN_RATE_SHAPE,
    START,
    WEEKS,
    Channel,
)

SECONDS_PER_DAY = 86_400
MOBILE_PREFIXES = np.array([900, 903, 905, 909, 910, 915, 916, 917, 919, 925, 926, 929, 977, 985])
"""The operator codes demo mobiles are drawn from, in ascending order."""
COHORT_SCALE = 100.0
"""A demo up to this scale is drawn as one cohort (about half a GiB of arrays at the most).
A larger one is split into cohorts of at most half the callers of such a demo: an early
cohort's patients keep visiting to the end of the data set, so it holds up to twice the
visits a caller of the average one, and the season and the spend are not even. Thus no
cohort needs more memory than scale 100 does, whatever the scale."""
VISIT_STATUSES = ("completed", "cancelled", "no_show", "scheduled")
"""Visit status codes: the simulation draws indices into this tuple."""


@dataclass(frozen=True)
class WeeklySpend:
    channel: Channel
    cost: np.ndarray  # RUB per week, WEEKS long


@dataclass(frozen=True)
class Callers:
    """Each new caller once: the first call and who made it."""

    channel: np.ndarray  # index into DEMO_CHANNELS
    time: np.ndarray
    branch: np.ndarray  # index into BRANCHES
    phone: np.ndarray  # 10-digit national mobile number
    hidden: np.ndarray  # the number is withheld


@dataclass(frozen=True)
class CallBatch:
    """Calls as the tracker logs them, one row each, in no particular order."""

    caller: np.ndarray  # index into Callers; -1 for an existing patient's service call
    t: np.ndarray
    answered: np.ndarray
    duration: np.ndarray  # seconds; 0 when missed
    wait: np.ndarray
    admin: np.ndarray  # index into DEMO_ADMINISTRATORS; -1 when missed
    channel: np.ndarray
    branch: np.ndarray
    phone: np.ndarray  # -1 for a hidden number


@dataclass(frozen=True)
class Patients:
    phone: np.ndarray
    first: np.ndarray  # the first completed visit
    registered: np.ndarray
    branch: np.ndarray
    child: np.ndarray  # a family member on a parent's phone
    landline: np.ndarray  # a second number; -1 for none
    consent: np.ndarray

    @property
    def n(self) -> int:
        return len(self.phone)


@dataclass(frozen=True)
class Visits:
    """Every visit, sorted by time."""

    patient: np.ndarray
    doctor: np.ndarray  # index into DEMO_DOCTORS
    t: np.ndarray
    status: np.ndarray  # index into VISIT_STATUSES
    amount: np.ndarray

    @property
    def n(self) -> int:
        return len(self.patient)


@dataclass(frozen=True)
class Surveys:
    visit: np.ndarray  # index into Visits
    score: np.ndarray
    t: np.ndarray


@dataclass(frozen=True)
class Cohort:
    """The callers whose first call falls in some weeks, and the walk-ins of those weeks,
    with all that follows from them. Indices (caller, patient, visit) are the cohort's own."""

    calls: tuple[CallBatch, ...]  # first calls, call-backs, service calls
    patients: Patients
    visits: Visits
    surveys: Surveys


@dataclass(frozen=True)
class Simulation:
    """The spend, drawn at once, and the cohorts, drawn as they are taken."""

    spend: tuple[WeeklySpend, ...]  # the paid channels
    cohorts: Iterator[Cohort]  # drawn from the generator one at a time, as iterated


def simulate(
    rng: np.random.Generator, scale: float, cohort_scale: float = COHORT_SCALE
) -> Simulation:
    """Two branches, two years of the demo clinic, drawn from `rng`: the spend at once, each
    cohort when it is reached, so only one is in memory. Take every cohort before drawing
    anything else from `rng`."""
    simulator = _Simulator(rng, scale)
    spend, counts = simulator.spend_and_caller_counts()
    return Simulation(
        spend=spend,
        cohorts=(simulator.cohort(counts, weeks) for weeks in cohort_weeks(scale, cohort_scale)),
    )


def cohort_weeks(scale: float, cohort_scale: float = COHORT_SCALE) -> list[range]:
    """The weeks of each cohort, in order: all of them up to `cohort_scale`, else as few
    cohorts of even length as hold at most half the callers of the whole period at
    `cohort_scale` each (a week at the least)."""
    if scale <= cohort_scale:
        return [range(WEEKS)]
    n = math.ceil(WEEKS / max(1, int(WEEKS * cohort_scale / scale / 2)))
    return [range(WEEKS * i // n, WEEKS * (i + 1) // n) for i in range(n)]


class _HasBranch(Protocol):
    @property
    def branch(self) -> str: ...


def _by_branch(cast: tuple[_HasBranch, ...]) -> list[np.ndarray]:
    """Indices into `cast` of each branch's members, in BRANCHES order."""
    return [np.array([i for i, member in enumerate(cast) if member.branch == b]) for b in BRANCHES]


class _Simulator:
    def __init__(self, rng: np.random.Generator, scale: float) -> None:
        self.rng = rng
        self.scale = scale
        self.t_start = np.datetime64(START, "s")
        self.t_end = np.datetime64(END + timedelta(days=1), "s")
        self.phone_book = _PhoneBook()

    def cohort(self, counts: np.ndarray, weeks: range) -> Cohort:
        """The cohort of callers first calling in `weeks`, out of `counts` (channel × week)."""
        callers = self._callers(counts, weeks)
        first_calls, booked, book_time = self._calls(callers)
        patients = self._patients(callers, booked, book_time, weeks)
        visits = self._visits(patients)
        service_calls = self._service_calls(patients)
        surveys = self._surveys(visits)
        return Cohort(
            calls=(*first_calls, service_calls),
            patients=patients,
            visits=visits,
            surveys=surveys,
        )

    # ---------------------------------------------------------------- spend & callers
    def spend_and_caller_counts(self) -> tuple[tuple[WeeklySpend, ...], np.ndarray]:
        """Paid channels' weekly spend as a random walk; new callers a week ∝ spend^0.6.

        Returns the spend and the new callers of each channel in each week (channel × week).
        """
        rng = self.rng
        spend, counts = [], []
        season = 1 + 0.15 * np.sin(np.arange(WEEKS) / 52 * 2 * np.pi + 1.0)
        for ch in DEMO_CHANNELS:
            if ch.weekly_spend:
                walk = np.exp(np.cumsum(rng.normal(0, 0.12, WEEKS)))
                level = np.clip(walk / walk.mean(), 0.35, 2.2)
                if ch.name == "Billboard":  # a spring-and-autumn campaign, nothing between
                    level = level * ((np.arange(WEEKS) % 26) < 10)
                weekly = ch.weekly_spend * level * self.scale
                rate = ch.new_callers_per_week * np.power(level, 0.6) * self.scale * season
                spend.append(WeeklySpend(ch, weekly))
            else:
                rate = np.full(WEEKS, ch.new_callers_per_week * self.scale) * season
            counts.append(rng.poisson(rate))
        return tuple(spend), np.array(counts)

    def _callers(self, counts: np.ndarray, weeks: range) -> Callers:
        """Each new caller of `weeks` once, channel by channel, week by week within one."""
        rng = self.rng
        in_weeks = counts[:, weeks.start : weeks.stop]
        week = np.concatenate([np.repeat(np.arange(weeks.start, weeks.stop), c) for c in in_weeks])
        channel = np.repeat(np.arange(len(in_weeks)), in_weeks.sum(axis=1))
        n = len(week)
        time = self._times(week, n)
        branch = (rng.random(n) < 0.45).astype(int)
        phone = self._unique_mobiles(n)
        hidden = rng.random(n) < 0.025
        return Callers(channel, time, branch, phone, hidden)

    def _times(self, week: np.ndarray, n: int) -> np.ndarray:
        """A moment in each week: more calls early in the week and in the late morning."""
        rng = self.rng
        day = rng.choice(7, n, p=np.array([1.25, 1.2, 1.15, 1.1, 1.05, 0.75, 0.5]) / 7.0)
        hour = rng.choice(
            np.arange(8, 22),
            n,
            p=normalised([3, 8, 10, 10, 9, 7, 6, 8, 9, 8, 7, 5, 3, 2]),
        )
        seconds = (week * 7 + day) * SECONDS_PER_DAY + hour * 3600 + rng.integers(0, 3600, n)
        return self.t_start + seconds.astype("timedelta64[s]")

    def _unique_mobiles(self, n: int) -> np.ndarray:
        """n valid Russian mobile numbers (10-digit national form), none drawn before."""
        out = np.empty(0, dtype=np.int64)
        while len(out) < n:
            prefix = self.rng.choice(MOBILE_PREFIXES, n)
            draw = prefix * 10_000_000 + self.rng.integers(0, 10_000_000, n)
            out = _distinct(np.concatenate([out, draw]))
            out = out[~self.phone_book.holds(out)]
        self.rng.shuffle(out)
        out = out[:n]
        self.phone_book.add(out)
        return out

    # ---------------------------------------------------------------- calls
    def _calls(
        self, callers: Callers
    ) -> tuple[tuple[CallBatch, CallBatch], np.ndarray, np.ndarray]:
        """First calls and call-backs; returns them, who booked, and when they booked."""
        rng = self.rng
        n = len(callers.time)
        hour = (callers.time.astype("datetime64[h]") - callers.time.astype("datetime64[D]")).astype(
            int
        )
        weekday = (callers.time.astype("datetime64[D]").astype(int) - 4) % 7  # 0 = Monday
        miss_p = 0.09 + 0.14 * np.isin(hour, (13, 14)) + 0.12 * (hour >= 19) + 0.1 * (weekday >= 5)
        missed1 = rng.random(n) < miss_p
        short1 = ~missed1 & (rng.random(n) < 0.1)
        # a second attempt: most missed callers call back; some short callers and some
        # answered ones (repeat callers) call again
        again = np.where(missed1, rng.random(n) < 0.7, rng.random(n) < np.where(short1, 0.5, 0.15))
        gap_h = np.where(rng.random(n) < 0.7, rng.uniform(0.2, 23.5, n), rng.uniform(24.5, 72, n))
        t2 = _office_hours(callers.time + (gap_h * 3600).astype("timedelta64[s]"), rng)
        again &= t2 < self.t_end  # the data set ends on its last Sunday
        # a caller who calls again often comes through another channel: the number saved
        # from the first call (Direct), the clinic's site (SEO) or its ProDoctorov profile;
        # first-touch and last-touch attribution then disagree (definition 14)
        switch = rng.random(n) < np.where(missed1, 0.1, 0.35)
        other = [_channel_index(name) for name in ("Direct", "SEO", "ProDoctorov")]
        channel2 = np.where(switch, rng.choice(other, n, p=[0.5, 0.3, 0.2]), callers.channel)
        missed2 = rng.random(n) < 0.08
        admins_by_branch = _by_branch(DEMO_ADMINISTRATORS)
        admin1 = self._pick_admin(admins_by_branch, callers.branch)
        admin2 = self._pick_admin(admins_by_branch, callers.branch)
        skill = np.array([a.skill for a in DEMO_ADMINISTRATORS])
        quality = np.array([c.quality for c in DEMO_CHANNELS])[callers.channel]
        target1 = ~missed1 & ~short1
        target2 = again & ~missed2
        book_on_1 = target1 & (rng.random(n) < skill[admin1] * quality)
        book_on_2 = ~book_on_1 & ~target1 & target2 & (rng.random(n) < skill[admin2] * quality)
        booked = (book_on_1 | book_on_2) & ~callers.hidden
        book_time = np.where(book_on_1, callers.time, t2)
        first = self._call_batch(
            callers, np.arange(n), callers.time, ~missed1, short1, admin1, callers.channel
        )
        second = self._call_batch(
            callers,
            np.flatnonzero(again),
            t2[again],
            ~missed2[again],
            np.zeros(again.sum(), bool),
            admin2[again],
            channel2[again],
        )
        return (first, second), booked, book_time

    def _pick_admin(self, by_branch: list[np.ndarray], branch: np.ndarray) -> np.ndarray:
        pick = self.rng.integers(0, 3, len(branch))
        return np.where(branch == 0, by_branch[0][pick], by_branch[1][pick])

    def _call_batch(
        self,
        callers: Callers,
        caller: np.ndarray,
        t: np.ndarray,
        answered: np.ndarray,
        short: np.ndarray,
        admin: np.ndarray,
        channel: np.ndarray,
    ) -> CallBatch:
        rng = self.rng
        n = len(caller)
        duration = np.where(
            short, rng.integers(3, 29, n), rng.lognormal(5.0, 0.6, n).astype(int) + 30
        )
        wait = np.where(answered, rng.integers(2, 40, n), rng.integers(15, 90, n))
        return CallBatch(
            caller=caller,
            t=t,
            answered=answered,
            duration=np.where(answered, duration, 0),
            wait=wait,
            admin=np.where(answered, admin, -1),
            channel=channel,
            branch=callers.branch[caller],
            phone=np.where(callers.hidden[caller], -1, callers.phone[caller]),
        )

    # ---------------------------------------------------------------- patients & visits
    def _patients(
        self, callers: Callers, booked_mask: np.ndarray, book_time: np.ndarray, weeks: range
    ) -> Patients:
        """Booked callers, family members on their phones, and walk-ins of `weeks` who never
        called."""
        rng = self.rng
        booked = np.flatnonzero(booked_mask)
        lead_days = np.where(
            rng.random(len(booked)) < 0.07,
            rng.uniform(31, 60, len(booked)),
            rng.exponential(4.5, len(booked)) + 0.3,
        )
        first = book_time[booked] + (lead_days * SECONDS_PER_DAY).astype("timedelta64[s]")
        first = _clinic_hours(first, rng)
        n_b = len(booked)
        # families: a second patient on the same phone, first visit within 0-60 days
        fam = booked[rng.random(n_b) < 0.12]
        fam_first = _clinic_hours(
            first[np.searchsorted(booked, fam)]
            + (rng.uniform(0, 60, len(fam)) * SECONDS_PER_DAY).astype("timedelta64[s]"),
            rng,
        )
        # walk-ins: never called before their first visit
        n_walk = int(0.3 * n_b)
        walk_phone = self._unique_mobiles(n_walk)
        week = np.timedelta64(7 * SECONDS_PER_DAY, "s")
        since = rng.integers(0, len(weeks) * week.astype(int), n_walk).astype("timedelta64[s]")
        walk_first = _clinic_hours(self.t_start + weeks.start * week + since, rng)
        phone = np.concatenate([callers.phone[booked], callers.phone[fam], walk_phone])
        p_first = np.concatenate([first, fam_first, walk_first])
        # registered when the booking is made (the call), a walk-in an hour before the visit;
        # never after the first visit, and never in the future of the data set
        hour = np.timedelta64(3600, "s")
        booked_at = np.concatenate([book_time[booked], book_time[fam], walk_first - hour])
        registered = np.minimum(booked_at, p_first - hour)
        branch = np.concatenate(
            [callers.branch[booked], callers.branch[fam], (rng.random(n_walk) < 0.45).astype(int)]
        )
        child = np.concatenate(
            [np.zeros(n_b, bool), np.ones(len(fam), bool), np.zeros(n_walk, bool)]
        )
        n = len(phone)
        landline = np.where(rng.random(n) < 0.1, rng.integers(0, 10_000_000, n) + 4_950_000_000, -1)
        consent = rng.random(n) < 0.8
        return Patients(phone, p_first, registered, branch, child, landline, consent)

    def _visits(self, patients: Patients) -> Visits:
        """A first visit each (some after a cancelled or missed one), then repeat visits."""
        rng = self.rng
        n = patients.n
        docs_by_branch = _by_branch(DEMO_DOCTORS)
        pick = rng.integers(0, 5, n)
        doctor = np.where(patients.branch == 0, docs_by_branch[0][pick], docs_by_branch[1][pick])
        child_doc = next(
            i for i, d in enumerate(DEMO_DOCTORS) if d.specialty == "pediatric dentist"
        )
        doctor = np.where(patients.child & (rng.random(n) < 0.6), child_doc, doctor)
        # a first appointment that did not happen, then the completed one
        failed = rng.random(n) < 0.1
        failed_at = _clinic_hours(
            patients.first - (rng.uniform(2, 10, n) * SECONDS_PER_DAY).astype("timedelta64[s]"),
            rng,
        )
        # the MBG/NBD process (pipelines/demo/cast.py): a return rate and a chance to leave
        # after each visit per patient; repeat visits until they leave, a day apart at least
        repeat_rate = np.array([d.repeat_visits_per_year for d in DEMO_DOCTORS])[doctor]
        per_day = rng.gamma(RETURN_RATE_SHAPE, repeat_rate / RETURN_RATE_SHAPE) / 365.25
        liking = np.array([d.satisfaction for d in DEMO_DOCTORS])[doctor] / MEAN_SATISFACTION
        leave = rng.beta(LEAVE_A, LEAVE_B * liking)
        k = np.minimum(rng.geometric(leave) - 1, MAX_REPEAT_VISITS)
        patient = np.repeat(np.arange(n), k)
        gaps = rng.exponential(1 / per_day[patient]) + 1
        order = np.cumsum(gaps)  # cumulative within patient below
        starts = np.concatenate([[0], np.cumsum(k)[:-1]])
        offset = order - np.repeat(np.concatenate([[0], order])[starts], k)
        rep_doc = np.where(
            rng.random(len(patient)) < 0.8,
            doctor[patient],
            np.where(
                patients.branch[patient] == 0,
                docs_by_branch[0][rng.integers(0, 5, len(patient))],
                docs_by_branch[1][rng.integers(0, 5, len(patient))],
            ),
        )
        rep_t = _clinic_hours(
            patients.first[patient] + (offset * SECONDS_PER_DAY).astype("timedelta64[s]"), rng
        )
        rep_status = rng.choice(4, len(patient), p=[0.88, 0.07, 0.05, 0.0])
        pid = np.concatenate([np.arange(n), np.flatnonzero(failed), patient])
        did = np.concatenate([doctor, doctor[failed], rep_doc])
        vt = np.concatenate([patients.first, failed_at[failed], rep_t])
        status = np.concatenate([np.zeros(n, int), rng.choice([1, 2], failed.sum()), rep_status])
        horizon = self.t_end + np.timedelta64(21 * SECONDS_PER_DAY, "s")
        future = vt >= self.t_end
        status = np.where(future, 3, status)
        keep = vt < horizon
        pid, did, vt, status = pid[keep], did[keep], vt[keep], status[keep]
        price = np.array([d.price_level for d in DEMO_DOCTORS])[did]
        amount = np.where(status == 0, np.round(price * rng.lognormal(0, 0.45, len(pid)), -1), 0)
        order_idx = np.argsort(vt, kind="stable")
        return Visits(
            patient=pid[order_idx],
            doctor=did[order_idx],
            t=vt[order_idx],
            status=status[order_idx],
            amount=amount[order_idx],
        )

    def _service_calls(self, patients: Patients) -> CallBatch:
        """Existing patients phone the clinic after their first visit: service, not leads."""
        rng = self.rng
        k = rng.poisson(0.9, patients.n)
        patient = np.repeat(np.arange(patients.n), k)
        t = patients.first[patient] + (rng.uniform(3, 400, len(patient)) * SECONDS_PER_DAY).astype(
            "timedelta64[s]"
        )
        t = _clinic_hours(t, rng)
        keep = t < self.t_end
        patient, t = patient[keep], t[keep]
        n = len(patient)
        use_landline = (patients.landline[patient] >= 0) & (rng.random(n) < 0.4)
        phone = np.where(use_landline, patients.landline[patient], patients.phone[patient])
        answered = rng.random(n) > 0.12
        admin = self._pick_admin(_by_branch(DEMO_ADMINISTRATORS), patients.branch[patient])
        direct, seo = _channel_index("Direct"), _channel_index("SEO")
        duration = np.where(answered, rng.lognormal(4.3, 0.6, n).astype(int) + 5, 0)
        wait = rng.integers(2, 60, n)
        channel = np.where(rng.random(n) < 0.7, direct, seo)
        return CallBatch(
            caller=-np.ones(n, int),
            t=t,
            answered=answered,
            duration=duration,
            wait=wait,
            admin=np.where(answered, admin, -1),
            channel=channel,
            branch=patients.branch[patient],
            phone=phone,
        )

    def _surveys(self, visits: Visits) -> Surveys:
        """A third of completed visits answered, around the doctor's satisfaction."""
        rng = self.rng
        done = np.flatnonzero((visits.status == 0) & (rng.random(visits.n) < 0.35))
        sat = np.array([d.satisfaction for d in DEMO_DOCTORS])[visits.doctor[done]]
        score = np.clip(np.round(rng.normal(sat, 1.3)), 0, 10).astype(int)
        answered = visits.t[done] + (rng.uniform(0.2, 3, len(done)) * SECONDS_PER_DAY).astype(
            "timedelta64[s]"
        )
        keep = answered < self.t_end
        return Surveys(visit=done[keep], score=score[keep], t=answered[keep])


class _PhoneBook:
    """Every mobile number handed out so far, one bit each: 17.5 MB however many there are,
    so a cohort's new numbers never repeat an earlier cohort's."""

    def __init__(self) -> None:
        self.bits = np.zeros(len(MOBILE_PREFIXES) * 10_000_000 // 8, np.uint8)

    def holds(self, phones: np.ndarray) -> np.ndarray:
        byte, bit = _bit_of(phones)
        return (self.bits[byte] & bit) > 0

    def add(self, phones: np.ndarray) -> None:
        byte, bit = _bit_of(phones)
        np.bitwise_or.at(self.bits, byte, bit)


def _bit_of(phones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each mobile's byte in the phone book and the bit within it."""
    prefix = np.searchsorted(MOBILE_PREFIXES, phones // 10_000_000)
    slot = prefix * 10_000_000 + phones % 10_000_000
    return slot >> 3, (1 << (slot & 7)).astype(np.uint8)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values in ascending order, as np.unique gives them, by sorting: numpy
    2.4's np.unique hashes integers, some 100 times slower on a million phone numbers."""
    ordered = np.sort(values)
    first = np.ones(len(ordered), bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return ordered[first]


def _channel_index(name: str) -> int:
    """The first of the cast's channels called `name` (SEO: Yandex's organic search)."""
    return next(i for i, c in enumerate(DEMO_CHANNELS) if c.name == name)


def normalised(weights: object) -> np.ndarray:
    """Weights scaled to sum to one (probabilities, shares)."""
    w = np.asarray(list(weights), dtype=float)
    return w / w.sum()


def _clinic_hours(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Move each time to 9:00-19:59 of its day: visits happen when the clinic is open."""
    day = t.astype("datetime64[D]").astype("datetime64[ms]")
    slot = rng.integers(9, 20, len(t)) * 3600 + rng.integers(0, 4, len(t)) * 900
    return day + slot.astype("timedelta64[s]")


def _office_hours(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Calls placed at night move to the next morning: patients call when someone answers."""
    day = t.astype("datetime64[D]").astype("datetime64[s]")
    hour = (t - day).astype(int) // 3600
    morning = (9 * 3600 + rng.integers(0, 3600, len(t))).astype("timedelta64[s]")
    return np.where(
        hour < 8,
        day + morning,
        np.where(hour >= 22, day + np.timedelta64(SECONDS_PER_DAY, "s") + morning, t),
    )
