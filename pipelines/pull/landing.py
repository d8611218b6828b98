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

import json
import os
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
    """Write every page as a file, each whole or not at all; returns the paths written."""
    tmp = input_dir / STATE_DIR / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    # no run of ten digits or more: the build masks such runs in file names as phones
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%Hh%Mm%Ss%fZ")
    written = []
    for number, page in enumerate(pages, start=1):
        name = (
            "_".join(
                [
                    source + (f"-{page.kind}" if page.kind else ""),
                    stamp,
                    str(window.start),
                    str(window.end),
                    f"p{number:04d}",
                ]
            )
            + page.suffix
        )
        folder = input_dir / page.folder
        folder.mkdir(parents=True, exist_ok=True)
        written.append(atomic_write(folder / name, page.body, tmp))
    return written


def atomic_write(path: Path, body: bytes, tmp_dir: Path) -> Path:
    """Write, fsync, rename, fsync the folder: the file appears whole or not at all."""
    part = tmp_dir / f"{path.name}.{os.getpid()}.part"
    try:
        with part.open("wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    fsync_directory(path.parent)
    return path


def read_state(input_dir: Path) -> dict[str, dict[str, str]]:
    """Per source: `last_day` (the last day pulled), `last_data_day` (the last day any
    answer held data for) and `pulled_at`; empty before the first pull."""
    path = input_dir / STATE_DIR / STATE_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def write_state(input_dir: Path, state: dict[str, dict[str, str]]) -> None:
    folder = input_dir / STATE_DIR
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    body = json.dumps(state, indent=2, sort_keys=True).encode()
    atomic_write(folder / STATE_FILE, body, folder / "tmp")
