"""The demo clinic's cast: its channels, branches, doctors, administrators and services.

Named records rather than positional tuples, so the simulation reads `doctor.price_level`,
not `d[5]`. The names carry a `DEMO_` prefix: `DOCTORS`, `ADMINISTRATORS` and
`CHANNEL_RULES` are the entity declarations of pipelines/ingest/entities.py, and one name
should mean one thing. Changing a value here changes every generated file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

START = date(2024, 11, 18)  # a Monday
WEEKS = 104
END = START + timedelta(weeks=WEEKS) - timedelta(days=1)  # a Sunday


@dataclass(frozen=True)
class Channel:
    """A source of new callers, as the call tracker labels it (source, medium, campaign)."""

    name: str
    source: str
    medium: str
    campaigns: tuple[str, ...]
    weekly_spend: float  # at base; 0 for free channels
    new_callers_per_week: float  # at base spend, scale 1
    quality: float  # how readily its callers book


@dataclass(frozen=True)
class ChannelRule:
    """A row of channels.csv: which (source, medium, campaign) pattern is which channel."""

    source: str
    medium: str
    campaign: str
    channel: str


@dataclass(frozen=True)
class Doctor:
    id: str
    name: str
    specialty: str  # a key of SERVICES
    branch: str
    repeat_visits_per_year: float
    price_level: int  # RUB per visit, before the lognormal spread
    satisfaction: float  # the mean survey score of the doctor's patients


@dataclass(frozen=True)
class Administrator:
    id: str
    name: str
    branch: str
    skill: float  # the chance an answered target call is booked, before channel quality
    aliases: tuple[str, ...]  # logins and e-mails, as the call tracker reports them


DEMO_CHANNELS = (
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
DEMO_CHANNEL_RULES = (
    ChannelRule("yandex", "cpc", "*", "Yandex Direct"),
    ChannelRule("google", "cpc", "*", "Google Ads"),
    ChannelRule("vk", "cpc", "*", "VK Ads"),
    ChannelRule("telegram", "*", "*", "Telegram Ads"),
    ChannelRule("*", "organic", "*", "SEO"),
    ChannelRule("prodoctorov", "*", "*", "ProDoctorov"),
    ChannelRule("2gis", "*", "*", "2GIS"),
    ChannelRule("offline", "billboard", "*", "Billboard"),
    ChannelRule("(direct)", "*", "*", "Direct"),
)
BRANCHES = ("B1", "B2")
DEMO_DOCTORS = (
    Doctor("D01", "Анна Смирнова", "therapist", "B1", 2.0, 6_500, 9.2),
    Doctor("D02", "Игорь Волков", "implantologist", "B1", 3.5, 28_000, 6.4),
    Doctor("D03", "Мария Кузнецова", "orthodontist", "B1", 5.0, 9_000, 9.0),
    Doctor("D04", "Олег Попов", "surgeon", "B1", 1.2, 12_000, 8.1),
    Doctor("D05", "Елена Соколова", "hygienist", "B1", 1.8, 4_500, 9.5),
    Doctor("D06", "Дмитрий Лебедев", "therapist", "B2", 1.5, 6_000, 8.4),
    Doctor("D07", "Ольга Новикова", "pediatric dentist", "B2", 2.5, 5_000, 9.4),
    Doctor("D08", "Сергей Морозов", "implantologist", "B2", 2.2, 24_000, 8.8),
    Doctor("D09", "Татьяна Павлова", "orthodontist", "B2", 4.0, 8_500, 8.6),
    Doctor("D10", "Алексей Федоров", "prosthodontist", "B2", 2.8, 18_000, 7.2),
)
RETURN_RATE_SHAPE = 2.0
"""Patients' own return rates vary around their doctor's `repeat_visits_per_year` as a
Gamma of this shape (the λ heterogeneity of BG/NBD)."""
LEAVE_A, LEAVE_B = 2.0, 6.0
"""After any visit, the first included, a patient leaves for good with a chance drawn from
Beta(LEAVE_A, LEAVE_B × satisfaction / MEAN_SATISFACTION): about one in four, more with
a doctor patients like less. With the return rates this is the MBG/NBD process the
forecast assumes (pipelines/models/btyd.py): a planted truth it must recover."""
MEAN_SATISFACTION = 8.5
MAX_REPEAT_VISITS = 200
"""A bound on one patient's repeat visits drawn (a chance to leave near 0 draws many)."""
DEMO_ADMINISTRATORS = (
    Administrator("A1", "Ирина Иванова", "B1", 0.62, ("ivanova", "i.ivanova@smile-clinic.ru")),
    Administrator("A2", "Наталья Петрова", "B1", 0.48, ("petrova", "n.petrova@smile-clinic.ru")),
    Administrator("A3", "Юлия Сидорова", "B1", 0.38, ("sidorova",)),
    Administrator("A4", "Екатерина Орлова", "B2", 0.57, ("orlova", "e.orlova@smile-clinic.ru")),
    Administrator("A5", "Светлана Зайцева", "B2", 0.44, ("zaitseva",)),
    Administrator("A6", "Ксения Белова", "B2", 0.66, ("belova", "k.belova@smile-clinic.ru")),
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
