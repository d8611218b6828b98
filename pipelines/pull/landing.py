"""The landing zone: each vendor answer as an immutable file in the input folder, and each
source's cursor.

A page is written to `<input>/.pull/tmp/`, flushed to disk (fsync), then renamed into
its entity's folder (`calls/`, `ad_spend/`, or `requests/` for Calltouch's leads, which
are not calls): a build never sees half a file, and a pull that fails midway lands
nothing, since a source's pages are landed only once every page has arrived.

A file is named `<source>_<pulled at>_<first day>_<last day>_p<page>`, e.g.
`calltouch_2026-12-02T05h00m01s123456Z_2026-11-28_2026-12-01_p0001.json`: the pull's time
before the dates, so that of two pulls covering one day the later sorts later, and the
later file wins a record both hold (the staging gate keeps the later file's version of a
call id or a day's campaign cost and quarantines the earlier one as superseded, so a
revised day replaces its first figures and nothing is counted twice). Letters part the
time's digits: the build masks a run of ten digits, even with dots or dashes between, in
a file name as a phone number, and two pulls would then share one masked name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from pipelines.warehouse import fsync_directory

STATE_DIR = ".pull"
STATE_FILE = "state.json"


@dataclass(frozen=True)
class Window:
    """Days `start` to `end`, both included."""

    start: date
    end: date


@dataclass(frozen=True)
class Page:
    """One vendor answer as it came: the folder it lands in, its bytes and suffix, and the
    last day it holds data for (None: it holds none)."""

    folder: str
    body: bytes
    suffix: str
    last_day: date | None
    kind: str = ""
    """Part of the file name when a source lands two kinds (Calltouch's `requests`)."""


def land(
    input_dir: Path, source: str, window: Window, pages: list[Page], now: datetime
) -> list[Path]:
    """Every page as a file, all of them or none: each is written and flushed in the
    temporary folder first, then all are renamed into place; if a rename fails (a full
    disk, a folder that is a file), the ones already in place are taken back out."""
    tmp = input_dir / STATE_DIR / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%Hh%Mm%Ss%fZ")
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for number, page in enumerate(pages, start=1):
            kind = source + (f"-{page.kind}" if page.kind else "")
            name = f"{kind}_{stamp}_{window.start}_{window.end}_p{number:04d}{page.suffix}"
            part = tmp / f"{name}.{os.getpid()}.part"
            _write_flushed(part, page.body)
            staged.append((part, input_dir / page.folder / name))
        for part, path in staged:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, path)
            placed.append(path)
        for folder in {path.parent for path in placed}:
            fsync_directory(folder)
    except OSError:
        for path in placed:
            path.unlink(missing_ok=True)
        raise
    finally:
        for part, _ in staged:
            part.unlink(missing_ok=True)
    return placed


def _write_flushed(path: Path, body: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write(path: Path, body: bytes, tmp_dir: Path) -> Path:
    """Write, fsync, rename, fsync the folder: the file appears whole or not at all."""
    part = tmp_dir / f"{path.name}.{os.getpid()}.part"
    try:
        _write_flushed(part, body)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    fsync_directory(path.parent)
    return path


class StateError(ValueError):
    """The cursor file cannot be read: one line naming it."""


def read_state(input_dir: Path) -> dict[str, dict[str, str]]:
    """Per source: `last_day` (the last day pulled), `last_data_day` (the last day any
    answer held data for) and `pulled_at`; empty before the first pull. A file that is not
    such a map (hand-edited, cut short) is a StateError naming it; an entry's date that is
    not a date is dropped, as if never recorded."""
    path = input_dir / STATE_DIR / STATE_FILE
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: not a pull state ({str(exc)[:80]})") from None
    if not isinstance(state, dict):
        raise StateError(f"{path}: not a pull state (a JSON object of sources expected)")
    clean: dict[str, dict[str, str]] = {}
    for source, entry in state.items():
        if not isinstance(entry, dict):
            continue
        clean[source] = {k: v for k, v in entry.items() if k == "pulled_at" or _is_day(v)}
    return clean


def _is_day(value: object) -> bool:
    try:
        return date.fromisoformat(str(value)) > date(1900, 1, 1)
    except ValueError:
        return False


@contextlib.contextmanager
def state_lock(input_dir: Path) -> Iterator[None]:
    """One pull at a time updates the cursor file (the CLI beside the schedule, Dagster's
    assets in parallel): each reads, changes its own entry and writes under the lock."""
    folder = input_dir / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "state.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_state(input_dir: Path, state: dict[str, dict[str, str]]) -> None:
    folder = input_dir / STATE_DIR
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    body = json.dumps(state, indent=2, sort_keys=True).encode()
    atomic_write(folder / STATE_FILE, body, folder / "tmp")
