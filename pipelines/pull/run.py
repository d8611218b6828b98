"""A pull of one source or all: the window from the cursor, the pages, then the landing.

Sources are independent: one that fails (its credentials refused, its API down past the
retries) is one line, and the others are pulled. A source lands its files only after
every page has arrived, and moves its cursor only after they are on disk, so a failed
pull is simply done again next time, from the same day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, SecretStr

from pipelines.pull import callrail, calltouch, google_ads, meta_ads, vk_ads, yandex_direct
from pipelines.pull.api import Api, PullError
from pipelines.pull.landing import (
    Page,
    StateError,
    Window,
    land,
    read_state,
    state_lock,
    write_state,
)
from pipelines.settings import Settings
from pipelines.warehouse import clinic_today

Pages = Callable[[Api, Settings, Window], Iterator[Page]]

SOURCES: dict[str, Pages] = {
    "calltouch": lambda api, s, w: calltouch.pull(api, s.pull.calltouch, w),
    "callrail": lambda api, s, w: callrail.pull(api, s.pull.callrail, w),
    "yandex_direct": lambda api, s, w: yandex_direct.pull(
        api, s.pull.yandex_direct, w, s.yandex_cost_in_micros
    ),
    "google_ads": lambda api, s, w: google_ads.pull(api, s.pull.google_ads, w),
    "meta_ads": lambda api, s, w: meta_ads.pull(api, s.pull.meta_ads, w),
    "vk_ads": lambda api, s, w: vk_ads.pull(api, s.pull.vk_ads, w),
}
"""Every source `pull` knows, by the name of its settings section (`[pull.<name>]`)."""


def secrets(conf: BaseModel) -> tuple[str, ...]:
    """Every secret of a source's settings: redacted from messages and landed files."""
    values = (getattr(conf, name) for name in type(conf).model_fields)
    return tuple(v.get_secret_value() for v in values if isinstance(v, SecretStr))


@dataclass
class PullResult:
    source: str
    window: Window | None = None
    files: list[Path] = field(default_factory=list)
    last_data_day: date | None = None
    error: str | None = None

    def line(self) -> str:
        """What a person reads: what arrived, or why not."""
        if self.error:
            return f"{self.source}: pull failed: {self.error}"
        assert self.window is not None
        seen = f", data to {self.last_data_day}" if self.last_data_day else ", no data"
        return (
            f"{self.source}: {self.window.start}..{self.window.end} pulled into "
            f"{len(self.files)} file(s){seen}"
        )


def enabled(settings: Settings) -> list[str]:
    return [name for name in SOURCES if getattr(settings.pull, name).enabled]


def unfinished(settings: Settings) -> dict[str, str]:
    """Sources given some settings but not all they need: what is missing, said as the
    settings key and the environment variable, for the line a person reads."""
    out = {}
    for name in SOURCES:
        conf = getattr(settings.pull, name)
        if conf.enabled or not conf.model_fields_set - {"base_url"}:
            continue
        out[name] = ", ".join(
            f"pull.{name}.{field} (CLINIC_PULL__{name.upper()}__{field.upper()})"
            if " " not in field
            else field
            for field in conf.missing
        )
    return out


@dataclass(frozen=True)
class Freshness:
    """A source's last day with data against today: its age, and whether it is stale
    (older than `pull.freshness_days`, or never any data: unknown is not fresh)."""

    last_data_day: date | None
    days_old: int | None
    stale: bool


def freshness(settings: Settings, name: str, state: dict[str, dict[str, str]]) -> Freshness:
    seen = state.get(name, {}).get("last_data_day")
    day = date.fromisoformat(seen) if seen else None
    age = (clinic_today(settings) - day).days if day else None
    return Freshness(day, age, age is None or age > settings.pull.freshness_days)


def window_for(settings: Settings, source: str, since: date | None, until: date) -> Window:
    """From `since`, else the cursor less the overlap, else `first_days` back; to `until`."""
    cursor = read_state(settings.input_dir).get(source, {}).get("last_day")
    if since is not None:
        if since > until:
            raise PullError(f"--since {since} is after the last day to pull, {until}")
        start = since
    elif cursor:
        start = date.fromisoformat(cursor) - timedelta(days=settings.pull.overlap_days)
    else:
        start = until - timedelta(days=settings.pull.first_days - 1)
    return Window(min(start, until), until)


def pull_source(
    settings: Settings,
    name: str,
    since: date | None = None,
    until: date | None = None,
    sleep: Callable[[float], None] | None = None,
) -> PullResult:
    """Pull one source and land what it answered; never raises for the vendor's faults,
    nor for a folder it cannot write in: one line in `result.error` then."""
    conf = getattr(settings.pull, name)
    result = PullResult(name)
    if not conf.enabled:
        result.error = f"not configured: missing {', '.join(conf.missing)}"
        return result
    api = Api(name, settings.pull, secrets(conf), **({"sleep": sleep} if sleep else {}))
    try:
        window = window_for(settings, name, since, until or clinic_today(settings))
        pages = list(SOURCES[name](api, settings, window))
        _land(settings, name, window, pages, api, result)
    except (PullError, StateError) as exc:
        result.error = api.redact(str(exc).removeprefix(f"{name}: "))
    except OSError as exc:
        result.error = api.redact(f"cannot write the pulled files: {exc}")
    except Exception as exc:  # a vendor's answer no one foresaw: one line, the others go on
        result.error = api.redact(f"unexpected {type(exc).__name__}: {exc}")
    finally:
        api.close()
    if result.error:
        result.files = []
    return result


def _land(
    settings: Settings,
    name: str,
    window: Window,
    pages: list[Page],
    api: Api,
    result: PullResult,
) -> None:
    """The pages as files, then the cursor: the last day pulled, and the last day with
    data (never after today: a record dated 2099 is a typo, not freshness)."""
    now = datetime.now(UTC)
    # an answer may echo a secret (Meta's `paging.next` holds the token): never landed
    pages = [replace(p, body=api.redact_bytes(p.body)) for p in pages]
    with state_lock(settings.input_dir):
        result.files = land(settings.input_dir, name, window, pages, now)
        state = read_state(settings.input_dir)
        previous = state.get(name, {}).get("last_data_day")
        days = [p.last_day for p in pages if p.last_day is not None]
        if previous:
            days.append(date.fromisoformat(previous))
        result.last_data_day = max((d for d in days if d <= window.end), default=None)
        state[name] = {
            "last_day": str(window.end),
            "pulled_at": now.isoformat(timespec="seconds"),
            **({"last_data_day": str(result.last_data_day)} if result.last_data_day else {}),
        }
        write_state(settings.input_dir, state)
    result.window = window


def pull_all(
    settings: Settings, names: list[str] | None = None, since: date | None = None
) -> list[PullResult]:
    return [pull_source(settings, name, since) for name in (names or enabled(settings))]
