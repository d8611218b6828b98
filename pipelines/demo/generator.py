"""A realistic, deterministic demo clinic: two branches, two years, every messy case.

Everything is drawn with numpy in whole arrays (no per-row loops), so `--scale 100` takes
seconds, not hours. What it contains, on purpose:

* 9 channels, paid ones with weekly spend and diminishing returns (leads ∝ spend^0.6),
  one paid channel that brings almost no calls, free ones (SEO, directories, direct);
* missed calls (more at lunch, evenings and weekends), call-backs within and after 24 h,
  short non-target calls, repeat callers, hidden numbers;
* administrators of different skill, reported by id, name, login or e-mail;
* existing patients calling for service, walk-ins who never called, families sharing a
  phone, patients with a second (landline) number;
* cancelled and no-show first appointments, scheduled future visits, doctors whose
  patients return more (and one whose patients are unhappy about it), surveys;
* phones in every common Russian form, overlapping monthly exports (timestamps written
  differently in the overlap), corrected visits re-exported later, a handful of broken rows.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.demo.vendor import write_vendor_forms
from pipelines.ingest.entities import VISITS
from pipelines.settings import Settings

START = date(2024, 11, 18)  # a Monday
WEEKS = 104
END = START + timedelta(weeks=WEEKS) - timedelta(days=1)  # a Sunday
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Channel:
    name: str
    source: str
    medium: str
    campaigns: tuple[str, ...]
    weekly_spend: float  # at base; 0 for free channels
    new_callers_per_week: float  # at base spend, scale 1
    quality: float  # how readily its callers book


CHANNELS = (
    Channel(
        "Yandex Direct", "yandex", "cpc", ("implants_search", "brand", "hygiene"), 60_000, 26, 1.0
    ),
    Channel("Google Ads", "google", "cpc", ("implants", "brand"), 25_000, 9, 0.95),
    Channel("VK Ads", "vk", "cpc", ("family_dentistry",), 18_000, 4, 0.7),
    Channel("Telegram Ads", "telegram", "cpc", ("channel_posts",), 6_000, 0.25, 0.6),
    Channel("SEO", "yandex", "organic", ("",), 0, 14, 1.05),
    Channel("SEO", "google", "organic", ("",), 0, 6, 1.05),
    Channel("ProDoctorov", "prodoctorov", "referral", ("profile",), 9_000, 10, 1.2),
    Channel("2GIS", "2gis", "referral", ("card",), 4_000, 5, 0.9),
    Channel("Billboard", "offline", "billboard", ("metro_2025",), 35_000, 4, 0.8),
    Channel("Direct", "(direct)", "(none)", ("",), 0, 7, 1.1),
)
CHANNEL_RULES = (
    ("yandex", "cpc", "*", "Yandex Direct"),
    ("google", "cpc", "*", "Google Ads"),
    ("vk", "cpc", "*", "VK Ads"),
    ("telegram", "*", "*", "Telegram Ads"),
    ("*", "organic", "*", "SEO"),
    ("prodoctorov", "*", "*", "ProDoctorov"),
    ("2gis", "*", "*", "2GIS"),
    ("offline", "billboard", "*", "Billboard"),
    ("(direct)", "*", "*", "Direct"),
)
BRANCHES = ("B1", "B2")
# id, name, specialty, branch, repeat visits per year, price level (RUB), satisfaction
DOCTORS = (
    ("D01", "Анна Смирнова", "therapist", "B1", 2.0, 6_500, 9.2),
    ("D02", "Игорь Волков", "implantologist", "B1", 3.5, 28_000, 6.4),
    ("D03", "Мария Кузнецова", "orthodontist", "B1", 5.0, 9_000, 9.0),
    ("D04", "Олег Попов", "surgeon", "B1", 1.2, 12_000, 8.1),
    ("D05", "Елена Соколова", "hygienist", "B1", 1.8, 4_500, 9.5),
    ("D06", "Дмитрий Лебедев", "therapist", "B2", 1.5, 6_000, 8.4),
    ("D07", "Ольга Новикова", "pediatric dentist", "B2", 2.5, 5_000, 9.4),
    ("D08", "Сергей Морозов", "implantologist", "B2", 2.2, 24_000, 8.8),
    ("D09", "Татьяна Павлова", "orthodontist", "B2", 4.0, 8_500, 8.6),
    ("D10", "Алексей Федоров", "prosthodontist", "B2", 2.8, 18_000, 7.2),
)
# id, name, branch, booking skill, aliases as the call tracker reports them
ADMINS = (
    ("A1", "Ирина Иванова", "B1", 0.62, "ivanova;i.ivanova@smile-clinic.ru"),
    ("A2", "Наталья Петрова", "B1", 0.48, "petrova;n.petrova@smile-clinic.ru"),
    ("A3", "Юлия Сидорова", "B1", 0.38, "sidorova"),
    ("A4", "Екатерина Орлова", "B2", 0.57, "orlova;e.orlova@smile-clinic.ru"),
    ("A5", "Светлана Зайцева", "B2", 0.44, "zaitseva"),
    ("A6", "Ксения Белова", "B2", 0.66, "belova;k.belova@smile-clinic.ru"),
)
SERVICES = {
    "therapist": ("Лечение кариеса", "Консультация терапевта", "Эндодонтия"),
    "implantologist": ("Имплантация", "Консультация имплантолога", "Синус-лифтинг"),
    "orthodontist": ("Брекеты: коррекция", "Консультация ортодонта", "Элайнеры"),
    "surgeon": ("Удаление зуба", "Консультация хирурга"),
    "hygienist": ("Профгигиена", "Отбеливание"),
    "pediatric dentist": ("Детский осмотр", "Лечение молочного зуба"),
    "prosthodontist": ("Коронка", "Виниры", "Консультация ортопеда"),
}


FORMS = ("canonical", "vendor")


def write_demo(
    out: Path, *, seed: int = 7, scale: float = 1.0, settings: Settings, form: str = "canonical"
) -> str:
    """Write the demo input folder; returns a one-line summary of what it holds.

    `form="vendor"` writes the same facts as Calltouch, CallRail, Google Ads, Yandex
    Direct and Open Dental exports (pipelines/demo_vendor.py).
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}")
    if form == "vendor":
        with tempfile.TemporaryDirectory(prefix="clinic-demo-") as tmp:
            summary = write_demo(Path(tmp), seed=seed, scale=scale, settings=settings)
            write_vendor_forms(Path(tmp), out, settings)
        return summary.replace(tmp, str(out)) + ", in vendor export forms"
    rng = np.random.default_rng(seed)
    gen = _Generator(rng, scale)
    gen.run()
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("calls", "ad_spend", "patients", "visits", "doctors", "administrators", "surveys"):
        folder = out / sub
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            if old.is_file():
                old.unlink()
    gen.write(out, settings)
    return (
        f"demo data in {out}: {gen.n_calls} calls, {gen.n_patients} patients, "
        f"{gen.n_visits} visits, {gen.n_spend} spend rows ({START} to {END}, seed {seed}, "
        f"scale {scale:g})"
    )


class _Generator:
    def __init__(self, rng: np.random.Generator, scale: float) -> None:
        self.rng = rng
        self.scale = scale
        self.t_start = np.datetime64(START, "s")
        self.t_end = np.datetime64(END + timedelta(days=1), "s")

    # ---------------------------------------------------------------- spend & callers
    def run(self) -> None:
        self._spend_and_callers()
        self._calls()
        self._patients()
        self._visits()
        self._service_calls()
        self._surveys()

    def _spend_and_callers(self) -> None:
        rng = self.rng
        spend_rows = []
        caller_week, caller_channel = [], []
        season = 1 + 0.15 * np.sin(np.arange(WEEKS) / 52 * 2 * np.pi + 1.0)
        for ci, ch in enumerate(CHANNELS):
            if ch.weekly_spend:
                walk = np.exp(np.cumsum(rng.normal(0, 0.12, WEEKS)))
                level = np.clip(walk / walk.mean(), 0.35, 2.2)
                if ch.name == "Billboard":  # a spring-and-autumn campaign, nothing between
                    level = level * ((np.arange(WEEKS) % 26) < 10)
                weekly = ch.weekly_spend * level * self.scale
                rate = ch.new_callers_per_week * np.power(level, 0.6) * self.scale * season
                spend_rows.append((ci, weekly))
            else:
                rate = np.full(WEEKS, ch.new_callers_per_week * self.scale) * season
            counts = rng.poisson(rate)
            caller_week.append(np.repeat(np.arange(WEEKS), counts))
            caller_channel.append(np.full(counts.sum(), ci))
        self.spend = spend_rows
        self.c_week = np.concatenate(caller_week)
        self.c_channel = np.concatenate(caller_channel)
        n = len(self.c_week)
        self.c_time = self._times(self.c_week, n)
        self.c_branch = (rng.random(n) < 0.45).astype(int)
        self.c_phone = self._unique_mobiles(n)
        self.c_hidden = rng.random(n) < 0.025

    def _times(self, week: np.ndarray, n: int) -> np.ndarray:
        rng = self.rng
        day = rng.choice(7, n, p=np.array([1.25, 1.2, 1.15, 1.1, 1.05, 0.75, 0.5]) / 7.0)
        hour = rng.choice(
            np.arange(8, 22),
            n,
            p=_norm([3, 8, 10, 10, 9, 7, 6, 8, 9, 8, 7, 5, 3, 2]),
        )
        seconds = (week * 7 + day) * SECONDS_PER_DAY + hour * 3600 + rng.integers(0, 3600, n)
        return self.t_start + seconds.astype("timedelta64[s]")

    def _unique_mobiles(self, n: int) -> np.ndarray:
        """n valid Russian mobile numbers (10-digit national form), none drawn before."""
        prefixes = np.array([900, 903, 905, 909, 910, 915, 916, 917, 919, 925, 926, 929, 977, 985])
        used = getattr(self, "_used_phones", np.empty(0, dtype=np.int64))
        out = np.empty(0, dtype=np.int64)
        while len(out) < n:
            draw = self.rng.choice(prefixes, n) * 10_000_000 + self.rng.integers(0, 10_000_000, n)
            out = np.setdiff1d(np.concatenate([out, draw]), used)
        self.rng.shuffle(out)
        out = out[:n]
        self._used_phones = np.concatenate([used, out])
        return out

    # ---------------------------------------------------------------- calls
    def _calls(self) -> None:
        rng = self.rng
        n = len(self.c_time)
        hour = (self.c_time.astype("datetime64[h]") - self.c_time.astype("datetime64[D]")).astype(
            int
        )
        weekday = (self.c_time.astype("datetime64[D]").astype(int) - 4) % 7  # 0 = Monday
        miss_p = 0.09 + 0.14 * np.isin(hour, (13, 14)) + 0.12 * (hour >= 19) + 0.1 * (weekday >= 5)
        missed1 = rng.random(n) < miss_p
        short1 = ~missed1 & (rng.random(n) < 0.1)
        # a second attempt: most missed callers call back; some short callers and some
        # answered ones (repeat callers) call again
        again = np.where(missed1, rng.random(n) < 0.7, rng.random(n) < np.where(short1, 0.5, 0.15))
        gap_h = np.where(rng.random(n) < 0.7, rng.uniform(0.2, 23.5, n), rng.uniform(24.5, 72, n))
        t2 = _office_hours(self.c_time + (gap_h * 3600).astype("timedelta64[s]"), rng)
        again &= t2 < self.t_end  # the data set ends on its last Sunday
        missed2 = rng.random(n) < 0.08
        admins_by_branch = [
            np.array([i for i, a in enumerate(ADMINS) if a[2] == b]) for b in BRANCHES
        ]
        admin1 = self._pick_admin(admins_by_branch, self.c_branch)
        admin2 = self._pick_admin(admins_by_branch, self.c_branch)
        skill = np.array([a[3] for a in ADMINS])
        quality = np.array([c.quality for c in CHANNELS])[self.c_channel]
        target1 = ~missed1 & ~short1
        target2 = again & ~missed2
        book_on_1 = target1 & (rng.random(n) < skill[admin1] * quality)
        book_on_2 = ~book_on_1 & ~target1 & target2 & (rng.random(n) < skill[admin2] * quality)
        self.booked = (book_on_1 | book_on_2) & ~self.c_hidden
        self.book_time = np.where(book_on_1, self.c_time, t2)
        rows = [
            self._call_rows(np.arange(n), self.c_time, ~missed1, short1, admin1),
            self._call_rows(
                np.flatnonzero(again),
                t2[again],
                ~missed2[again],
                np.zeros(again.sum(), bool),
                admin2[again],
            ),
        ]
        self.calls = rows

    def _pick_admin(self, by_branch: list[np.ndarray], branch: np.ndarray) -> np.ndarray:
        pick = self.rng.integers(0, 3, len(branch))
        return np.where(branch == 0, by_branch[0][pick], by_branch[1][pick])

    def _call_rows(
        self,
        caller: np.ndarray,
        t: np.ndarray,
        answered: np.ndarray,
        short: np.ndarray,
        admin: np.ndarray,
    ) -> dict[str, np.ndarray]:
        rng = self.rng
        n = len(caller)
        duration = np.where(
            short, rng.integers(3, 29, n), rng.lognormal(5.0, 0.6, n).astype(int) + 30
        )
        return {
            "caller": caller,
            "t": t,
            "answered": answered,
            "duration": np.where(answered, duration, 0),
            "wait": np.where(answered, rng.integers(2, 40, n), rng.integers(15, 90, n)),
            "admin": np.where(answered, admin, -1),
            "channel": self.c_channel[caller],
            "branch": self.c_branch[caller],
            "phone": np.where(self.c_hidden[caller], -1, self.c_phone[caller]),
        }

    # ---------------------------------------------------------------- patients & visits
    def _patients(self) -> None:
        rng = self.rng
        booked = np.flatnonzero(self.booked)
        lead_days = np.where(
            rng.random(len(booked)) < 0.07,
            rng.uniform(31, 60, len(booked)),
            rng.exponential(4.5, len(booked)) + 0.3,
        )
        first = self.book_time[booked] + (lead_days * SECONDS_PER_DAY).astype("timedelta64[s]")
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
        span = (self.t_end - self.t_start).astype(int)
        walk_first = _clinic_hours(
            self.t_start + rng.integers(0, span, n_walk).astype("timedelta64[s]"), rng
        )
        self.p_phone = np.concatenate([self.c_phone[booked], self.c_phone[fam], walk_phone])
        self.p_first = np.concatenate([first, fam_first, walk_first])
        # registered when the booking is made (the call), a walk-in an hour before the visit;
        # never after the first visit, and never in the future of the data set
        hour = np.timedelta64(3600, "s")
        booked_at = np.concatenate([self.book_time[booked], self.book_time[fam], walk_first - hour])
        self.p_registered = np.minimum(booked_at, self.p_first - hour)
        self.p_branch = np.concatenate(
            [self.c_branch[booked], self.c_branch[fam], (rng.random(n_walk) < 0.45).astype(int)]
        )
        self.p_child = np.concatenate(
            [np.zeros(n_b, bool), np.ones(len(fam), bool), np.zeros(n_walk, bool)]
        )
        n = len(self.p_phone)
        self.p_landline = np.where(
            rng.random(n) < 0.1, rng.integers(0, 10_000_000, n) + 4_950_000_000, -1
        )
        self.p_consent = rng.random(n) < 0.8
        self.n_patients = n

    def _visits(self) -> None:
        rng = self.rng
        n = self.n_patients
        docs_by_branch = [
            np.array([i for i, d in enumerate(DOCTORS) if d[3] == b]) for b in BRANCHES
        ]
        pick = rng.integers(0, 5, n)
        doctor = np.where(self.p_branch == 0, docs_by_branch[0][pick], docs_by_branch[1][pick])
        child_doc = next(i for i, d in enumerate(DOCTORS) if d[2] == "pediatric dentist")
        doctor = np.where(self.p_child & (rng.random(n) < 0.6), child_doc, doctor)
        # a first appointment that did not happen, then the completed one
        failed = rng.random(n) < 0.1
        failed_at = _clinic_hours(
            self.p_first - (rng.uniform(2, 10, n) * SECONDS_PER_DAY).astype("timedelta64[s]"), rng
        )
        repeat_rate = np.array([d[4] for d in DOCTORS])[doctor]
        k = rng.poisson(repeat_rate * 1.3)
        patient = np.repeat(np.arange(n), k)
        gaps = rng.exponential(120, len(patient)) + 7
        order = np.cumsum(gaps)  # cumulative within patient below
        starts = np.concatenate([[0], np.cumsum(k)[:-1]])
        offset = order - np.repeat(np.concatenate([[0], order])[starts], k)
        rep_doc = np.where(
            rng.random(len(patient)) < 0.8,
            doctor[patient],
            np.where(
                self.p_branch[patient] == 0,
                docs_by_branch[0][rng.integers(0, 5, len(patient))],
                docs_by_branch[1][rng.integers(0, 5, len(patient))],
            ),
        )
        rep_t = _clinic_hours(
            self.p_first[patient] + (offset * SECONDS_PER_DAY).astype("timedelta64[s]"), rng
        )
        rep_status = rng.choice(4, len(patient), p=[0.88, 0.07, 0.05, 0.0])
        pid = np.concatenate([np.arange(n), np.flatnonzero(failed), patient])
        did = np.concatenate([doctor, doctor[failed], rep_doc])
        vt = np.concatenate([self.p_first, failed_at[failed], rep_t])
        status = np.concatenate([np.zeros(n, int), rng.choice([1, 2], failed.sum()), rep_status])
        horizon = self.t_end + np.timedelta64(21 * SECONDS_PER_DAY, "s")
        future = vt >= self.t_end
        status = np.where(future, 3, status)
        keep = vt < horizon
        pid, did, vt, status = pid[keep], did[keep], vt[keep], status[keep]
        price = np.array([d[5] for d in DOCTORS])[did]
        amount = np.where(status == 0, np.round(price * rng.lognormal(0, 0.45, len(pid)), -1), 0)
        order_idx = np.argsort(vt, kind="stable")
        self.v = {
            "patient": pid[order_idx],
            "doctor": did[order_idx],
            "t": vt[order_idx],
            "status": status[order_idx],
            "amount": amount[order_idx],
        }
        self.n_visits = len(pid)

    def _service_calls(self) -> None:
        """Existing patients phone the clinic after their first visit: service, not leads."""
        rng = self.rng
        k = rng.poisson(0.9, self.n_patients)
        patient = np.repeat(np.arange(self.n_patients), k)
        t = self.p_first[patient] + (rng.uniform(3, 400, len(patient)) * SECONDS_PER_DAY).astype(
            "timedelta64[s]"
        )
        t = _clinic_hours(t, rng)
        keep = t < self.t_end
        patient, t = patient[keep], t[keep]
        n = len(patient)
        use_landline = (self.p_landline[patient] >= 0) & (rng.random(n) < 0.4)
        phone = np.where(use_landline, self.p_landline[patient], self.p_phone[patient])
        answered = rng.random(n) > 0.12
        admins_by_branch = [
            np.array([i for i, a in enumerate(ADMINS) if a[2] == b]) for b in BRANCHES
        ]
        admin = self._pick_admin(admins_by_branch, self.p_branch[patient])
        direct = next(i for i, c in enumerate(CHANNELS) if c.name == "Direct")
        seo = next(
            i for i, c in enumerate(CHANNELS) if c.source == "yandex" and c.medium == "organic"
        )
        self.calls.append(
            {
                "caller": -np.ones(n, int),
                "t": t,
                "answered": answered,
                "duration": np.where(answered, rng.lognormal(4.3, 0.6, n).astype(int) + 5, 0),
                "wait": rng.integers(2, 60, n),
                "admin": np.where(answered, admin, -1),
                "channel": np.where(rng.random(n) < 0.7, direct, seo),
                "branch": self.p_branch[patient],
                "phone": phone,
            }
        )

    def _surveys(self) -> None:
        rng = self.rng
        done = np.flatnonzero((self.v["status"] == 0) & (rng.random(self.n_visits) < 0.35))
        sat = np.array([d[6] for d in DOCTORS])[self.v["doctor"][done]]
        score = np.clip(np.round(rng.normal(sat, 1.3)), 0, 10).astype(int)
        answered = self.v["t"][done] + (rng.uniform(0.2, 3, len(done)) * SECONDS_PER_DAY).astype(
            "timedelta64[s]"
        )
        keep = answered < self.t_end
        self.s = {"visit": done[keep], "score": score[keep], "t": answered[keep]}

    # ---------------------------------------------------------------- writing
    def write(self, out: Path, settings: Settings) -> None:
        self._write_calls(out / "calls", settings.timezone)
        self._write_spend(out / "ad_spend", settings.currency)
        self._write_patients(out / "patients")
        self._write_visits(out / "visits")
        self._write_reference(out)
        self._write_surveys(out / "surveys")

    def _write_calls(self, folder: Path, timezone: str) -> None:
        parts = {k: np.concatenate([c[k] for c in self.calls]) for k in self.calls[0]}
        order = np.argsort(parts["t"], kind="stable")
        parts = {k: v[order] for k, v in parts.items()}
        n = len(order)
        self.n_calls = n
        rng = self.rng
        phone = pl.Series(parts["phone"]).cast(pl.String)
        hidden_form = np.where(rng.random(n) < 0.5, "anonymous", "")
        admin = parts["admin"]
        admin_form = rng.choice(3, n, p=[0.5, 0.25, 0.25])
        admin_text = np.array(
            [
                [a[0] for a in ADMINS],
                [a[1] for a in ADMINS],
                [a[4].split(";")[-1] for a in ADMINS],
            ]
        )
        admin_col = np.where(admin >= 0, admin_text[admin_form, np.maximum(admin, 0)], "")
        ch = CHANNELS
        camp_pick = rng.integers(0, 3, n)
        frame = pl.DataFrame(
            {
                "call_id": _ids("CT", np.arange(1, n + 1), 8),
                "t": parts["t"].astype("datetime64[ms]"),
                "caller_phone": _phone_forms(phone, rng.integers(0, 7, n)),
                "tracking_phone": np.array(
                    [f"+7 495 100-{i:02d}-{b}0" for i in range(len(ch)) for b in (1, 2)]
                )[parts["channel"] * 2 + parts["branch"]],
                "source": np.array([c.source for c in ch])[parts["channel"]],
                "medium": np.array([c.medium for c in ch])[parts["channel"]],
                "campaign": np.array(
                    [[c.campaigns[j % len(c.campaigns)] for j in range(3)] for c in ch]
                )[parts["channel"], camp_pick],
                "answered": np.where(parts["answered"], "true", "false"),
                "duration_s": parts["duration"],
                "wait_s": parts["wait"],
                "admin_id": admin_col,
                "branch_id": np.array(BRANCHES)[parts["branch"]],
                "tags": np.where(
                    parts["duration"] > 0,
                    np.where(rng.random(n) < 0.3, "первичный", ""),
                    "пропущенный",
                ),
            }
        ).with_columns(
            caller_phone=pl.when(pl.Series(parts["phone"]) < 0)
            .then(pl.Series(hidden_form))
            .otherwise(pl.col("caller_phone"))
        )
        frame = frame.with_columns(month=pl.col("t").dt.strftime("%Y-%m"))
        months = frame["month"].unique().sort().to_list()
        for i, month in enumerate(months):
            part = frame.filter(pl.col("month") == month)
            if i > 0:  # the export re-pulls the last two days of the previous month
                prev = frame.filter(pl.col("month") == months[i - 1])
                cut = prev["t"].max() - timedelta(days=2)
                part = pl.concat([prev.filter(pl.col("t") > cut), part])
            # every other export writes times with the clinic's UTC offset, not naive
            out = part.with_columns(
                started_at=pl.col("t")
                .dt.replace_time_zone(timezone)
                .dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
                if i % 2 == 0
                else pl.col("t").dt.strftime("%Y-%m-%d %H:%M:%S")
            ).select(
                "call_id",
                "started_at",
                *[c for c in frame.columns if c not in ("call_id", "t", "month")],
            )
            if i == 3:
                out = pl.concat([out, _broken_calls(out)])
            out.write_csv(folder / f"calls_{month}.csv")

    def _write_spend(self, folder: Path, currency: str) -> None:
        rng = self.rng
        frames = []
        days = np.arange(WEEKS * 7)
        for ci, weekly in self.spend:
            ch = CHANNELS[ci]
            daily = np.repeat(weekly / 7, 7) * rng.uniform(0.8, 1.2, len(days))
            shares = (
                _norm(range(len(ch.campaigns), 0, -1)) if len(ch.campaigns) > 1 else np.array([1.0])
            )
            for camp, share in zip(ch.campaigns, shares, strict=True):
                cost = np.round(daily * share, 2)
                cpc = 45 if ch.medium == "cpc" else 0
                clicks = (cost / cpc).astype(int) if cpc else np.zeros(len(days), int)
                frames.append(
                    pl.DataFrame(
                        {
                            "date": [(START + timedelta(days=int(d))).isoformat() for d in days],
                            "source": ch.source,
                            "medium": ch.medium,
                            "campaign": camp,
                            "cost": cost,
                            "currency": currency,
                            "clicks": clicks,
                            "impressions": clicks * 30,
                        }
                    ).filter(pl.col("cost") > 0)
                )
        spend = pl.concat(frames).with_columns(
            quarter=pl.col("date").str.slice(0, 4)
            + "-Q"
            + ((pl.col("date").str.slice(5, 2).cast(pl.Int32) - 1) // 3 + 1).cast(pl.String)
        )
        self.n_spend = spend.height
        for i, quarter in enumerate(spend["quarter"].unique().sort().to_list()):
            part = (
                spend.filter(pl.col("quarter") == quarter)
                .drop("quarter")
                .with_columns(pl.col("cost").cast(pl.String))
            )
            if i == 1:  # a spend row in dollars and one with a bad amount
                extra = part.head(2).with_columns(
                    campaign=pl.Series(["usd_test", "typo_row"]),
                    currency=pl.Series(["USD", currency]),
                    cost=pl.Series(["120.00", "12O0"]),
                )
                part = pl.concat([part, extra])
            part.write_csv(folder / f"spend_{quarter}.csv")

    def _write_patients(self, folder: Path) -> None:
        rng = self.rng
        n = self.n_patients
        phones = _phone_forms(pl.Series(self.p_phone).cast(pl.String), rng.integers(0, 7, n))
        landline = pl.Series(self.p_landline).cast(pl.String)
        land = _phone_forms(landline, np.full(n, 4))
        phone = (
            pl.when(pl.Series(self.p_landline) >= 0).then(phones + "; " + land).otherwise(phones)
        )
        birth = np.where(self.p_child, rng.integers(2010, 2021, n), rng.integers(1950, 2005, n))
        frame = pl.DataFrame(
            {
                "patient_id": _ids("P", np.arange(1, n + 1), 7),
                "registered_at": self.p_registered.astype("datetime64[ms]"),
                "sex": rng.choice(["F", "M", "ж", "м"], n, p=[0.45, 0.35, 0.12, 0.08]),
                "birth_date": pl.select(
                    pl.date(birth, rng.integers(1, 13, n), rng.integers(1, 29, n)).dt.strftime(
                        "%d.%m.%Y"
                    )
                ).to_series(),
                "contact_consent": np.where(self.p_consent, "да", "нет"),
            }
        ).with_columns(phone=phone)
        frame = frame.with_columns(
            registered_at=pl.col("registered_at").dt.strftime("%Y-%m-%d %H:%M:%S")
        )
        frame.select(
            "patient_id", "phone", "sex", "birth_date", "registered_at", "contact_consent"
        ).write_csv(folder / "patients.csv")

    def _write_visits(self, folder: Path) -> None:
        v = self.v
        names = ["completed", "cancelled", "no_show", "scheduled"]
        spec = np.array([d[2] for d in DOCTORS])[v["doctor"]]
        rng = self.rng
        service = np.array(
            [
                SERVICES[s][j % len(SERVICES[s])]
                for s, j in zip(spec, rng.integers(0, 3, self.n_visits), strict=True)
            ]
        )
        frame = pl.DataFrame(
            {
                "visit_id": _ids("V", np.arange(1, self.n_visits + 1), 8),
                "patient_id": _ids("P", v["patient"] + 1, 7),
                "doctor_id": np.array([d[0] for d in DOCTORS])[v["doctor"]],
                "branch_id": np.array([d[3] for d in DOCTORS])[v["doctor"]],
                "t": v["t"].astype("datetime64[ms]"),
                "service": service,
                "status": np.array(names)[v["status"]],
                "amount": v["amount"],
            }
        )
        frame = frame.with_columns(
            visit_at=pl.col("t").dt.strftime("%Y-%m-%d %H:%M:%S"),
            month=pl.col("t").dt.strftime("%Y-%m"),
            amount=pl.col("amount").cast(pl.Int64).cast(pl.String),
        )
        months = frame["month"].unique().sort().to_list()
        for i, month in enumerate(months):
            part = frame.filter(pl.col("month") == month)
            if i > 0:  # overlap: the last day of the previous month again, as it was
                prev = frame.filter(pl.col("month") == months[i - 1])
                part = pl.concat(
                    [prev.filter(pl.col("t") > prev["t"].max() - timedelta(days=1)), part]
                )
                # and a correction: three earlier visits re-exported with a new amount
                fixed = (
                    prev.filter(pl.col("status") == "completed")
                    .head(3)
                    .with_columns(amount=(pl.col("amount").cast(pl.Int64) + 500).cast(pl.String))
                )
                part = pl.concat([part, fixed])
            out = part.select(VISITS.columns).with_columns(
                pl.when(pl.lit(i % 3 == 1))
                .then(
                    pl.col("visit_at")
                    .str.strptime(pl.Datetime, "%Y-%m-%d %H:%M:%S")
                    .dt.strftime("%d.%m.%Y %H:%M:%S")
                )
                .otherwise(pl.col("visit_at"))
                .alias("visit_at")
            )
            if i == 5:
                out = pl.concat([out, _broken_visits(out)])
            out.write_csv(folder / f"visits_{month}.csv")

    def _write_reference(self, out: Path) -> None:
        pl.DataFrame(
            [d[:4] for d in DOCTORS],
            schema=["doctor_id", "name", "specialty", "branch_id"],
            orient="row",
        ).write_excel(out / "doctors" / "doctors.xlsx", autofit=True)
        pl.DataFrame(
            [(a[0], a[1], a[2], a[4]) for a in ADMINS],
            schema=["admin_id", "name", "branch_id", "aliases"],
            orient="row",
        ).write_csv(out / "administrators" / "administrators.csv")
        free = {c.name for c in CHANNELS if not c.weekly_spend}  # organic and direct calls
        pl.DataFrame(
            [(*rule, "yes" if rule[3] in free else "") for rule in CHANNEL_RULES],
            schema=["source", "medium", "campaign", "channel", "free"],
            orient="row",
        ).write_csv(out / "channels.csv")

    def _write_surveys(self, folder: Path) -> None:
        s = self.s
        pl.DataFrame(
            {
                "visit_id": _ids("V", s["visit"] + 1, 8),
                "score": s["score"],
                "answered_at": s["t"].astype("datetime64[ms]"),
            }
        ).with_columns(
            answered_at=pl.col("answered_at").dt.strftime("%Y-%m-%d %H:%M:%S")
        ).write_csv(folder / "surveys.csv")


def _norm(weights: object) -> np.ndarray:
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


def _phone_forms(national: pl.Series, form: np.ndarray) -> pl.Series:
    """A 10-digit national number written the ways Russian clinics and trackers write it."""
    s = pl.DataFrame({"n": national, "f": form})
    a, b, c, d = (
        pl.col("n").str.slice(0, 3),
        pl.col("n").str.slice(3, 3),
        pl.col("n").str.slice(6, 2),
        pl.col("n").str.slice(8, 2),
    )
    forms = [
        pl.concat_str([pl.lit("+7 ("), a, pl.lit(") "), b, pl.lit("-"), c, pl.lit("-"), d]),
        pl.concat_str([pl.lit("8 "), a, pl.lit(" "), b, c, d]),
        pl.col("n"),
        pl.concat_str([pl.lit("+7"), pl.col("n")]),
        pl.concat_str([pl.lit("8 ("), a, pl.lit(") "), b, pl.lit("-"), c, pl.lit("-"), d]),
        pl.concat_str([pl.lit("7 "), a, pl.lit(" "), b, pl.lit(" "), c, pl.lit(" "), d]),
        pl.concat_str([pl.lit("8"), pl.col("n")]),
    ]
    expr = pl.when(pl.col("f") == 0).then(forms[0])
    for i, f in enumerate(forms[1:], start=1):
        expr = expr.when(pl.col("f") == i).then(f)
    return s.select(expr.alias("phone"))["phone"]


def _broken_calls(sample: pl.DataFrame) -> pl.DataFrame:
    """Rows any real export contains now and then; each must land in quarantine."""
    base = sample.head(4).with_columns(call_id=pl.Series([f"BAD{i}" for i in range(4)]))
    return base.with_columns(
        started_at=pl.Series(
            ["31.02.2025 10:00", base["started_at"][1], base["started_at"][2], "вчера"]
        ),
        duration_s=pl.Series([45, -12, 60, 30]),
        answered=pl.Series(["true", "true", "maybe", "true"]),
    )


def _broken_visits(sample: pl.DataFrame) -> pl.DataFrame:
    base = sample.head(3).with_columns(visit_id=pl.Series(["VBAD1", "VBAD2", "VBAD3"]))
    return base.with_columns(
        status=pl.Series(["moved", "completed", "completed"]),
        amount=pl.Series(["1500", "бесплатно", "-300"]),
    )


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """`P0000042`-style identifiers, built column-wise."""
    digits = pl.Series(numbers).cast(pl.String).str.zfill(width)
    return pl.select(pl.lit(prefix) + digits).to_series()
