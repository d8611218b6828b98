"""The one typed settings object: every window, threshold, path and secret.

Values come, highest priority first, from keyword arguments (tests), the environment
(`CLINIC_<NAME>`, nested with `__`, e.g. `CLINIC_VAT_RATE_TO_STRIP__YANDEX_DIRECT=0.2`),
then a TOML file (`--settings FILE`, else `$CLINIC_SETTINGS_FILE`, else
`clinic-analytics.toml` in the working directory when present), then the defaults of
METRICS.md. SQL models never hold these numbers: they read them as DuckDB variables
(see `sql_variables`).
"""

from __future__ import annotations

import os
import re
import secrets
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    PositiveInt,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SETTINGS_FILE = Path("clinic-analytics.toml")
AD_PLATFORMS = ("yandex_direct", "google_ads", "meta_ads", "vk_ads")
MIN_BUILD_MEMORY = 256 * 2**20
"""The least DuckDB memory one clinic build of a chain may get (see `chain_memory_budget`)."""


def sql_field(*default: Any, **kwargs: Any) -> Any:
    """A settings field that SQL models and format specs read with `getvariable(name)`."""
    return Field(*default, json_schema_extra={"sql": True}, **kwargs)


_settings_file: ContextVar[Path | None] = ContextVar("settings_file", default=None)


class SettingsError(ValueError):
    """Settings that cannot work (unknown zone, missing secret): stop before reading data."""


class _Source(BaseModel):
    """A vendor API the `pull` command reads; enabled once its account is named."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base_url: str
    required: ClassVar[tuple[str, ...]] = ()
    """The fields without which the source cannot be asked."""

    @property
    def missing(self) -> list[str]:
        return [name for name in self.required if not getattr(self, name)]

    @property
    def enabled(self) -> bool:
        return not self.missing


class CalltouchPull(_Source):
    """Calltouch calls diary and leads (`/calls-service/RestAPI/…`)."""

    base_url: str = "https://api.calltouch.ru"
    site_id: str | None = None
    token: SecretStr | None = None
    """`clientApiId`; from `CLINIC_PULL__CALLTOUCH__TOKEN`."""
    page_limit: int = Field(1000, ge=1, le=1000)
    max_days_per_request: int = Field(90, ge=1, le=366)
    """A third-party client caps one request at three months (CONNECTORS.md)."""
    required: ClassVar[tuple[str, ...]] = ("site_id", "token")


class CallrailPull(_Source):
    """CallRail API v3 `calls.json`."""

    base_url: str = "https://api.callrail.com"
    account_id: str | None = None
    api_key: SecretStr | None = None
    per_page: int = Field(250, ge=1, le=250)
    fields: tuple[str, ...] = (
        "source",
        "medium",
        "campaign",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "tags",
        "first_call",
        "agent_email",
        "company_name",
        "tracking_phone_number",
        "lead_status",
    )
    required: ClassVar[tuple[str, ...]] = ("account_id", "api_key")


class YandexDirectPull(_Source):
    """Yandex Direct Reports API v5 (TSV, online or offline reports)."""

    base_url: str = "https://api.direct.yandex.com"
    token: SecretStr | None = None
    client_login: str | None = None
    """`Client-Login`: the client's login when the token is an agency's."""
    required: ClassVar[tuple[str, ...]] = ("token",)


class GoogleAdsPull(_Source):
    """Google Ads API `googleAds:searchStream` over REST (the official client is gRPC)."""

    base_url: str = "https://googleads.googleapis.com"
    api_version: str = "v21"
    customer_id: str | None = None
    login_customer_id: str | None = None
    developer_token: SecretStr | None = None
    access_token: SecretStr | None = None
    """An OAuth access token; or the three below, exchanged for one at `token_url`."""
    refresh_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    token_url: str = "https://oauth2.googleapis.com/token"

    required: ClassVar[tuple[str, ...]] = ("customer_id", "developer_token")

    @property
    def missing(self) -> list[str]:
        oauth = self.access_token or (self.refresh_token and self.client_id and self.client_secret)
        return super().missing + (
            [] if oauth else ["access_token or refresh_token, client_id, client_secret"]
        )


class MetaAdsPull(_Source):
    """Meta Marketing API insights, per campaign and day."""

    base_url: str = "https://graph.facebook.com"
    api_version: str = "v25.0"
    ad_account_id: str | None = None
    access_token: SecretStr | None = None
    required: ClassVar[tuple[str, ...]] = ("ad_account_id", "access_token")


class VkAdsPull(_Source):
    """VK Ads (ads.vk.com) daily statistics per ad plan, client-credentials token."""

    base_url: str = "https://ads.vk.com"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    max_days_per_request: int = Field(92, ge=1, le=92)
    required: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")


class RetryBounds(BaseModel):
    """How hard one request to the outside (a vendor's API, a mail or Telegram server) is
    tried: the bounds `pipelines.pull.api` retries within."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    timeout_s: float = Field(60.0, gt=0)
    max_attempts: int = Field(6, ge=1, le=50)
    """Tries of one request on throttling, 5xx or a dropped connection, then it fails."""
    backoff_s: float = Field(2.0, gt=0)
    """The first wait; it doubles with each try (a vendor's own `Retry-After` or
    `retryIn` is waited instead when longer)."""
    max_wait_s: float = Field(600.0, gt=0)
    """The longest single wait: a vendor asking for more is a failure, not a stall."""
    max_pages: int = Field(10_000, ge=1)
    """Pages of one source's pull: a vendor still paging past it pages for ever."""


class PullSettings(RetryBounds):
    """`clinic-analytics pull`: the vendors' APIs, how far back and how hard to try.
    Secrets come from the environment (`CLINIC_PULL__META_ADS__ACCESS_TOKEN`), never
    from a file committed beside the code."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    calltouch: CalltouchPull = CalltouchPull()
    callrail: CallrailPull = CallrailPull()
    yandex_direct: YandexDirectPull = YandexDirectPull()
    google_ads: GoogleAdsPull = GoogleAdsPull()
    meta_ads: MetaAdsPull = MetaAdsPull()
    vk_ads: VkAdsPull = VkAdsPull()
    overlap_days: int = Field(3, ge=0, le=60)
    """Each pull starts this many days before the last day pulled: trackers and platforms
    revise recent days (Google reports up to 48 h late)."""
    first_days: int = Field(90, ge=1, le=3660)
    """How far back a source's first pull reaches (`--since` overrides)."""
    freshness_days: int = Field(3, ge=1, le=365)
    """A source whose last day with data is older than this is stale: a failed Dagster
    check and a line on the data-quality page."""
    hour: int = Field(5, ge=0, le=23)
    """The daily pull's hour, clinic time (the Dagster schedule)."""


class Recipient(BaseModel):
    """One person the digest and the alerts go to, by e-mail, Telegram or both."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    email: str | None = Field(None, pattern=r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$")
    """One ASCII address (an internationalised one is not supported by this sender)."""
    telegram_chat_id: str | None = Field(None, pattern=r"^-?\d{1,20}$|^@\w{5,64}$")
    alerts: bool = True
    """Also the mid-week alerts, not only the Monday digest."""

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("a recipient's name must be one line of text")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> Recipient:
        if not (self.email or self.telegram_chat_id):
            raise ValueError(f"recipient {self.name!r} has neither email nor telegram_chat_id")
        return self


class SmtpSettings(BaseModel):
    """The mail server the digest is sent through; the password from the environment
    (`CLINIC_DIGEST__SMTP__PASSWORD`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str | None = Field(None, min_length=1)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    """`none` only for a relay on the same machine or network (port 25)."""
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "clinic-analytics@localhost"
    """The From address."""

    @field_validator("username", "password", "sender")
    @classmethod
    def _ascii_line(cls, value: str | SecretStr | None) -> str | SecretStr | None:
        """SMTP's login and a header are one line of ASCII (smtplib encodes them so)."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is not None and not (text.isascii() and text.isprintable()):
            raise ValueError("must be one line of ASCII characters")
        return value


class TelegramSettings(BaseModel):
    """A Telegram bot; its token from the environment (`CLINIC_DIGEST__TELEGRAM__BOT_TOKEN`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    bot_token: SecretStr | None = None
    api_base: str = "https://api.telegram.org"

    @field_validator("bot_token")
    @classmethod
    def _token_form(cls, value: SecretStr | None) -> SecretStr | None:
        """`<bot id>:<secret>` as BotFather gives it; the message never repeats it."""
        if value is not None and not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", value.get_secret_value()):
            raise ValueError("is not a bot token of the form <digits>:<letters, digits, _ or ->")
        return value


class DigestSettings(RetryBounds):
    """`clinic-analytics digest` and the alerts (pipelines/digest/): who gets them, how,
    and when something is worth an alert."""

    recipients: tuple[Recipient, ...] = ()
    smtp: SmtpSettings = SmtpSettings()
    telegram: TelegramSettings = TelegramSettings()
    dashboard_url: str = "http://127.0.0.1:8501"
    """The link at the foot of every digest and alert."""
    hour: int = Field(8, ge=0, le=23)
    """Monday's digest hour, clinic time: after the weekly build (06:00)."""
    ledger_path: Path | None = None
    """What was sent to whom (never twice); defaults to `digest-ledger.sqlite3` beside
    the warehouse."""
    max_attempts: int = Field(4, ge=1, le=50)
    backoff_s: float = Field(5.0, gt=0)
    max_wait_s: float = Field(120.0, gt=0)
    trend_weeks: int = Field(12, ge=2, le=104)
    """Weeks the digest's charts reach back."""
    average_weeks: int = Field(8, ge=1, le=52)
    """The week is read against the mean of this many weeks before it (and cost per lead
    against their median)."""
    satisfaction_weeks: int = Field(8, ge=1, le=104)
    """A doctor's recent satisfaction: the surveys of this many weeks to the week's end,
    against all their earlier ones."""
    alert_zero_call_days: int = Field(3, ge=1, le=60)
    """A paid channel spending with no call for this many days in a row: a broken
    tracking number."""
    alert_cost_per_lead_ratio: float = Field(1.5, gt=1)
    """Cost per lead of the last 7 days above this × its median over `average_weeks`."""
    alert_missed_rate: float = Field(0.2, gt=0, le=1)
    """Share of the last 7 days' calls missed."""
    alert_missed_min_calls: int = Field(20, ge=1)
    """Fewer calls in the 7 days: too few to call a missed rate high."""
    alert_quarantine_share: float = Field(0.01, ge=0, le=1)
    """Share of an entity's rows refused as invalid (superseded versions do not count)."""

    @property
    def configured(self) -> bool:
        return bool(self.recipients) and (self.smtp.host is not None or self.telegram_ready)

    @property
    def telegram_ready(self) -> bool:
        return self.telegram.bot_token is not None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLINIC_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    # --- METRICS.md settings (SQL reads every field declared with `sql_field`) ---------
    timezone: str = sql_field("Europe/Moscow")
    default_region: str = sql_field("RU")
    currency: str = sql_field("RUB")
    target_call_min_duration_s: int = sql_field(30, ge=0, le=3600)
    attribution_window_days: int = sql_field(30, ge=1, le=3650)
    clv_horizon_days: int = sql_field(365, ge=1, le=3650)
    return_window_days: int = sql_field(180, ge=1, le=3650)
    reactivation_min_months: int = sql_field(18, ge=0, le=600)
    reactivation_max_months: int = sql_field(36, ge=1, le=600)
    reactivation_lookback_weeks: int = sql_field(13, ge=1, le=520)
    """The reactivation list's own test: the list as it stood this many weeks ago, and who
    of it has come back since (`mart_reactivation_outcome`)."""
    min_plausible_date: date = sql_field(date(2000, 1, 1))
    """Definition 16: an earlier timestamp is not a date (a 1900 or 0001 placeholder)."""
    as_of: date | None = sql_field(None)
    """Last data day; None means the latest local date of any call or completed visit."""

    # --- vendor exports --------------------------------------------------------------
    vat_rate_to_strip: dict[str, float] = sql_field(
        default_factory=lambda: dict.fromkeys(AD_PLATFORMS, 0.0)
    )
    """Per ad platform: the VAT rate included in its exported cost, removed on reading."""
    ad_platform_utm: dict[str, tuple[str, str]] = sql_field(
        default_factory=lambda: {
            "google_ads": ("google", "cpc"),
            "yandex_direct": ("yandex", "cpc"),
            "meta_ads": ("facebook", "cpc"),
            "vk_ads": ("vk", "cpc"),
        }
    )
    """Ad platforms' reports carry no UTM: the source/medium their spend is booked under."""
    ad_platform_currency: dict[str, str | None] = sql_field(
        default_factory=lambda: dict.fromkeys(AD_PLATFORMS)
    )
    """Per ad platform: the account's currency, for exports that do not say (Yandex Direct's
    reports, Google Ads API rows without customer.currency_code). Unset and unsaid: the
    rows are quarantined, never booked in the deployment's currency by assumption."""
    calltouch_timezone: str | None = sql_field(None)
    """The zone of the Calltouch account, in which its `date` is written, when it is not the
    clinic's (a Saratov clinic on a Moscow account); a record's epoch `timestamp` wins."""
    yandex_cost_in_micros: bool = sql_field(True)
    """Yandex Direct Reports API `Cost` is ×1,000,000 unless requested otherwise."""

    # --- statistics ------------------------------------------------------------------
    credible_mass: float = sql_field(0.9, gt=0.5, lt=1)
    """How sure every interval is: 0.9 draws 90% intervals (one in ten misses the truth)."""
    admin_min_leads: int = sql_field(30, ge=0)
    """An administrator with fewer leads is listed with an interval, not ranked."""
    min_surveys: int = sql_field(30, ge=1)
    """A doctor's satisfaction from fewer surveys is flagged as too thin to tell."""
    min_mature_patients: int = sql_field(30, ge=1)
    """A doctor's CLV from fewer mature patients is flagged as too thin to tell."""
    random_seed: int = sql_field(7)
    """Seeds every random draw (intervals, bootstraps): one input, one answer."""

    # --- forecasts (pipelines/models/clv_forecast.py) ------------------------------
    forecast_horizons_weeks: tuple[PositiveInt, ...] = Field((52, 156), min_length=1)
    """Horizons of the predicted visits and revenue per patient (1 and 3 years)."""
    forecast_refit: Literal["monthly", "every_build"] = sql_field("monthly")
    """`monthly`: the forecast is fitted on complete months (its cut-off the last month's
    end on or before `as_of`) and carried from the last warehouse while its inputs are
    unchanged, so weekly loads do not refit and redraw every patient. `every_build`:
    its cut-off is `as_of`, and every new day refits it."""
    holdout_weeks: int = sql_field(26, ge=1, le=520)
    """The forecast's own test: fitted up to the forecast's cut-off minus this, it
    predicts these weeks."""
    forecast_draws: int = sql_field(200, ge=20, le=10_000)
    """Simulated futures per patient behind every forecast interval."""
    forecast_visit_model: Literal["mbg_nbd", "bg_nbd"] = sql_field("mbg_nbd")
    """MBG/NBD lets a patient leave after the first visit (most one-visit patients have);
    BG/NBD, the classic, counts every patient who never returned as still a patient."""
    response_min_weeks: int = sql_field(8, ge=3, le=520)
    """A paid channel with fewer full weeks of known spend has no response curve."""
    response_min_log_spread: float = sql_field(0.1, ge=0, le=5)
    """A channel whose weekly spend varied less than this (standard deviation of its log,
    0.1 = about ±10%) cannot tell how leads answer to spend: no curve, no budget move."""
    response_recent_weeks: int = sql_field(4, ge=1, le=52)
    """"Current" spend and leads: the mean of the last this many full weeks."""
    forecast_min_repeaters: int = sql_field(30, ge=2)
    """Fewer patients who came back (or whose returns paid) than this: no forecast
    (visits, or revenue), shown as too thin to tell."""

    # --- trust in the input ----------------------------------------------------------
    max_plausible_amount: float = sql_field(1_000_000_000, gt=0)
    """A cost or amount above this in one row is a typo or a stand-in for unknown."""
    phone_warning_share: float = sql_field(0.1, ge=0, le=1)
    """Warn when more than this share of patient phones is invalid for `default_region`
    or belongs to another country (a foreign dump read with the wrong region)."""

    # --- paths ---------------------------------------------------------------------
    input_dir: Path = Path("data/demo")
    warehouse_path: Path = Path("data/warehouse.duckdb")
    """The published warehouse: the only file the dashboard reads."""
    build_path: Path | None = None
    """The pipeline's working database; defaults to `<warehouse>.build` beside it."""
    log_dir: Path | None = None
    """Where each build writes its full log; defaults to `logs/` beside the warehouse."""
    log_files_kept: int = Field(30, ge=1)
    incremental: bool = True
    """Carry the raw rows of export files the last published warehouse already read (same
    name, same bytes) instead of reading them again (pipelines/ingest/ledger.py)."""

    # --- secrets -------------------------------------------------------------------
    hash_secret: SecretStr | None = None
    """Key of the HMAC that replaces every patient phone; changing it changes every hash."""
    hash_secret_file: Path = Path("data/hash_secret")
    dashboard_password: SecretStr | None = None

    # --- engine --------------------------------------------------------------------
    duckdb_threads: int | None = Field(None, ge=1, le=1024)
    duckdb_memory_limit: str | None = "5GB"
    """DuckDB spills to disk beyond this (a `.tmp` folder beside the build file), so a
    national chain's year builds in bounded memory (scale 700: 5.0 GiB peak in all,
    Python's models and Dagster included). None: DuckDB's own default, 80% of RAM."""
    duckdb_memory_while_python: ByteSize = Field(ByteSize(2**30), ge=MIN_BUILD_MEMORY)
    """DuckDB's limit while a model computed in Python runs (the forecast): DuckDB is
    nearly idle then, and its cache of table pages would otherwise sit beside the
    model's arrays (pipelines/warehouse.py `python_model_memory`). Never raises the
    limit: at or above `duckdb_memory_limit` it changes nothing."""

    # --- vendor APIs (`clinic-analytics pull`, pipelines/pull/) ---------------------
    pull: PullSettings = PullSettings()

    # --- the Monday digest and alerts (`clinic-analytics digest`, pipelines/digest/) ---
    digest: DigestSettings = DigestSettings()

    # --- dashboard sign-in ---
    login_delay_base_s: float = Field(1.0, gt=0)
    """Wait after the first failed password; it doubles with each consecutive failure."""
    login_delay_max_s: float = Field(300.0, gt=0)
    """Longest wait between attempts, per browser session and per client address."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _settings_file.get()
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @field_validator("timezone", "calltouch_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r}")
        return value.upper()

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError(f"currency must be an ISO 4217 code, got {value!r}")
        return value.upper()

    @field_validator("vat_rate_to_strip")
    @classmethod
    def _vat_rates(cls, value: dict[str, float]) -> dict[str, float]:
        for platform, rate in value.items():
            if not 0 <= rate < 1:
                raise ValueError(f"VAT rate for {platform} must be in [0, 1), got {rate}")
        return dict.fromkeys(AD_PLATFORMS, 0.0) | value  # a file naming one keeps the rest

    @field_validator("ad_platform_currency")
    @classmethod
    def _platform_currencies(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        for platform, code in value.items():
            if code is not None and (len(code) != 3 or not code.isalpha()):
                raise ValueError(f"currency for {platform} must be an ISO 4217 code, got {code!r}")
        upper = {p: None if c is None else c.upper() for p, c in value.items()}
        return dict.fromkeys(AD_PLATFORMS) | upper

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Settings that pass one by one but cannot work together, or would quarantine
        every row and publish an empty warehouse over a good one."""
        if self.reactivation_min_months >= self.reactivation_max_months:
            raise ValueError("reactivation_min_months must be below reactivation_max_months")
        if self.min_plausible_date > date.today():
            raise ValueError(
                f"min_plausible_date {self.min_plausible_date} is in the future: every "
                "timestamp would be refused"
            )
        if self.as_of is not None and self.as_of < self.min_plausible_date:
            raise ValueError(
                f"as_of {self.as_of} is before min_plausible_date {self.min_plausible_date}"
            )
        if self.login_delay_max_s < self.login_delay_base_s:
            raise ValueError("login_delay_max_s must not be below login_delay_base_s")
        return self

    @property
    def cores(self) -> int:
        """The cores a build may use: `duckdb_threads`, else the machine's. Its models
        run this many at a time, and the forecast's doctors too."""
        return self.duckdb_threads or os.cpu_count() or 1

    @property
    def resolved_log_dir(self) -> Path:
        return self.log_dir or self.warehouse_path.parent / "logs"

    @property
    def resolved_ledger_path(self) -> Path:
        return self.digest.ledger_path or self.warehouse_path.with_name("digest-ledger.sqlite3")

    @property
    def resolved_build_path(self) -> Path:
        return self.build_path or self.warehouse_path.with_name(self.warehouse_path.name + ".build")

    def secret_key(self) -> bytes:
        """The HMAC key; a missing one stops the build rather than hashing with a guess."""
        if self.hash_secret is not None and self.hash_secret.get_secret_value().strip():
            return self.hash_secret.get_secret_value().encode()
        if self.hash_secret_file.is_file():
            key = self.hash_secret_file.read_text(encoding="utf-8").strip()
            if key:
                return key.encode()
        raise SettingsError(
            "no phone hash secret: set CLINIC_HASH_SECRET or write one to "
            f"{self.hash_secret_file} (clinic-analytics demo-data creates one)"
        )

    def sql_variables(self) -> dict[str, Any]:
        """Every `sql_field` as a DuckDB variable of its name (`as_of` as `as_of_setting`:
        the resolved `as_of` is SQL's own), plus `settings`, a struct of the scalar ones
        that `int_parameters` spreads into columns. A new setting is one field above."""
        fields = type(self).model_fields
        values = {
            name: getattr(self, name)
            for name, info in fields.items()
            if (info.json_schema_extra or {}).get("sql")
        }
        scalars = {
            name: value
            for name, value in values.items()
            if value is not None and not isinstance(value, dict)
        }
        values["as_of_setting"] = values.pop("as_of")
        return values | {"settings": scalars}

    # --- a chain of clinics (`clinic-analytics chain`, pipelines/defs/clinics.py) ---
    chain_root: Path | None = None
    """One sub-folder per clinic, each an ordinary input folder (its own
    `clinic-analytics.toml` may override settings); unset: one clinic, no chain."""
    chain_out: Path | None = None
    """Each clinic's warehouse (`<clinic>/warehouse.duckdb`) and `chain.duckdb`; the
    dashboard given one shows a clinic selector and the Chain page."""
    chain_parallel: int = Field(1, ge=1, le=64)
    """How many clinics build at once (processes in the CLI; the `clinic_build` pool's
    limit under the Dagster daemon should be the same number)."""
    chain_memory_budget: ByteSize | None = None
    """DuckDB memory for all the chain's parallel builds together ("6GiB"); unset, the
    one-build `duckdb_memory_limit` is the budget. Each build gets budget ÷ `chain_parallel`."""
    chain_parquet_dir: str | None = None
    """Also write the chain view as Parquet partitioned by clinic (`clinic=<name>/`): a
    folder, or `s3://bucket/prefix` on S3-compatible storage (DuckDB's httpfs)."""

    @model_validator(mode="after")
    def _chain_consistent(self) -> Settings:
        """A chain's outputs must not sit among its clinics (the next scan would take them
        for a clinic), and its memory budget must leave each parallel build enough."""
        per_build = self.chain_build_memory
        chain = self.chain_root is not None or self.chain_memory_budget is not None
        if chain and per_build is not None and per_build < MIN_BUILD_MEMORY:
            raise ValueError(
                f"a memory budget of {ByteSize(per_build * self.chain_parallel).human_readable()}"
                f" (chain_memory_budget, else duckdb_memory_limit) over chain_parallel "
                f"{self.chain_parallel} leaves each build under "
                f"{ByteSize(MIN_BUILD_MEMORY).human_readable()}"
            )
        if self.chain_root is None:
            return self
        if self.chain_out is None:
            raise ValueError("chain_root is set but chain_out is not: where do warehouses go?")
        root, out = self.chain_root.resolve(), self.chain_out.resolve()
        if out == root or root in out.parents:
            raise ValueError(f"chain_out {self.chain_out} must not be inside chain_root")
        return self

    @property
    def chain_build_memory(self) -> int | None:
        """Bytes of DuckDB memory for each of `chain_parallel` builds running at once: the
        budget split evenly. None when no size is set (DuckDB's default then, for each)."""
        budget = self.chain_memory_budget
        if budget is None and self.duckdb_memory_limit is not None:
            try:
                budget = TypeAdapter(ByteSize).validate_python(self.duckdb_memory_limit)
            except ValidationError:  # a form pydantic does not read: DuckDB's own, as is
                return None
        return None if budget is None else budget // self.chain_parallel


def load_settings(settings_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Settings from the file named, `$CLINIC_SETTINGS_FILE`, or ./clinic-analytics.toml."""
    path: Path | None
    if settings_file is not None:
        path = Path(settings_file)
        if not path.is_file():
            raise SettingsError(f"settings file {path} {_not_a_file(path)}")
    elif os.environ.get("CLINIC_SETTINGS_FILE"):
        path = Path(os.environ["CLINIC_SETTINGS_FILE"])
        if not path.is_file():
            raise SettingsError(f"CLINIC_SETTINGS_FILE={path} {_not_a_file(path)}")
    else:
        path = DEFAULT_SETTINGS_FILE if DEFAULT_SETTINGS_FILE.is_file() else None
    token = _settings_file.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(
            f"invalid settings ({path or 'environment'}): {_one_line(exc)}"
        ) from exc
    except ValueError as exc:  # a TOML file that is not TOML
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SettingsError(f"invalid settings ({path or 'environment'}): {reason}") from exc
    finally:
        _settings_file.reset(token)


def _not_a_file(path: Path) -> str:
    return "is a folder, not a file" if path.is_dir() else "does not exist"


SECRET_NAME = re.compile(r"(?i)secret|token|password|api_key|\bkey\b")
"""Settings whose value an error message must not repeat."""


def _one_line(error: ValidationError) -> str:
    """pydantic's several lines per problem as one: `name: what is wrong (got 'x')`."""
    parts = []
    for item in error.errors():
        name = ".".join(str(p) for p in item.get("loc", ())) or "settings"
        got = item.get("input")
        secret = SECRET_NAME.search(name)  # a refused password is still a password
        hidden = secret or isinstance(got, dict) or got is None
        shown = "" if hidden else f" (got {str(got)[:40]!r})"
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{name}: {message}{shown}")
    return "; ".join(parts)


def ensure_secret_file(path: Path) -> bool:
    """Create a random key at `path` (mode 600) unless one exists; True when created."""
    if path.is_file() and path.read_text(encoding="utf-8").strip():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return True
